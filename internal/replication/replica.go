package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/workers"
)

// Replica serves the replica side of replicated volumes: each connection
// from a primary opens with a hello naming one volume, then carries that
// volume's writes, unmaps and syncs, each answered once it is applied.
type Replica struct {
	// Volume returns this node's store for a volume, if it holds one.
	Volume func(name string) (backend.Store, bool)
	// Epochs keeps the highest epoch accepted per volume.
	Epochs EpochStore
	// Gens returns the generation record of this node's copy of a
	// volume: reported in the hello reply, raised before a write of a
	// higher epoch is applied. Nil (or a nil record) reports a copy that
	// holds nothing, which a primary resyncs in full.
	Gens func(volume string) *GenFile
	// Leftover returns the offsets of the extents in this node's
	// activity log of a volume (ActivityLog.Leftover), and whether it
	// could read the log: reported with a copy last written as primary,
	// so its successor resyncs them. Nil, or a log it cannot read,
	// reports the copy as not a primary's: it is resynced in full.
	Leftover func(volume string) ([]int64, bool)
	// PeerActivity returns this node's record of a volume's primary's
	// activity log: kept up to date from the primary's msgActivity and
	// reported in the hello reply. Nil (or a nil record) keeps none.
	PeerActivity func(volume string) *PeerActivity
	// Resized is told that this node's copy of volume grew to size bytes
	// at its primary's request (a cluster node grows its logical unit
	// with it, so initiators on this path see the new capacity too). Nil
	// tells nothing.
	Resized func(volume string, size int64)
	// Log receives what a connection ends with; nil discards.
	Log *slog.Logger

	mu     sync.Mutex
	epochs map[string]uint64 // cache of Epochs, guarded by mu
}

// maxInFlight bounds the requests of one connection applied at once.
const maxInFlight = 64

// replyTimeout bounds how long a reply may wait to be written to its
// primary: far longer than any replica timeout a primary waits before it
// gives the replica up.
const replyTimeout = 30 * time.Second

// epoch returns volume's accepted epoch.
func (r *Replica) epoch(volume string) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.epochs[volume]; ok {
		return e, nil
	}
	e, err := r.Epochs.Epoch(volume)
	if err != nil {
		return 0, err
	}
	if r.epochs == nil {
		r.epochs = map[string]uint64{}
	}
	r.epochs[volume] = e
	return e, nil
}

// accept raises volume's epoch to epoch (durably) unless it is lower
// than the accepted one, which it reports.
func (r *Replica) accept(volume string, epoch uint64) (bool, uint64, error) {
	cur, err := r.epoch(volume)
	if err != nil {
		return false, 0, err
	}
	if epoch < cur {
		return false, cur, nil
	}
	if epoch == cur {
		return true, cur, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.epochs[volume]; epoch < cur {
		return false, cur, nil
	}
	if err := r.Epochs.SetEpoch(volume, epoch); err != nil {
		return false, 0, err
	}
	r.epochs[volume] = epoch
	return true, epoch, nil
}

func (r *Replica) gens(volume string) *GenFile {
	if r.Gens == nil {
		return nil
	}
	return r.Gens(volume)
}

func (r *Replica) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// ServeConn serves one primary's connection until it closes or breaks
// the protocol, and closes it.
func (r *Replica) ServeConn(conn net.Conn) error {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	// A primary that stops reading (frozen) must not hold this side's
	// workers forever: a reply that cannot be written in replyTimeout
	// ends the connection.
	w := &replyWriter{frameWriter{w: conn, arm: func() { conn.SetWriteDeadline(time.Now().Add(replyTimeout)) }}}
	var f frame
	if _, err := readFrame(br, &f, nil); err != nil {
		return fmt.Errorf("replication: reading hello: %w", err)
	}
	if f.typ != msgHello {
		w.reply(f.seq, 0, statusProtocol, "the first message must be a hello")
		return fmt.Errorf("%w: first message of type %d", errProtocol, f.typ)
	}
	volume := string(f.payload)
	store, ok := r.Volume(volume)
	if !ok {
		w.reply(f.seq, 0, statusNoVolume, "no volume "+volume+" here")
		return fmt.Errorf("replication: hello for volume %q, which this node does not hold", volume)
	}
	okEpoch, cur, err := r.accept(volume, f.epoch)
	if err != nil {
		w.reply(f.seq, 0, statusIO, err.Error())
		return err
	}
	if !okEpoch {
		w.reply(f.seq, cur, statusStaleEpoch, fmt.Sprintf("epoch %d is below %d", f.epoch, cur))
		return fmt.Errorf("replication: volume %s: refused a primary of epoch %d (accepted %d)", volume, f.epoch, cur)
	}
	gen := r.gens(volume)
	var g Generation
	if gen != nil {
		g = gen.Generation()
	}
	if g.Primary {
		ok := false
		if r.Leftover != nil {
			g.Extents, ok = r.Leftover(volume)
		}
		if !ok {
			// Without its activity log a former primary's copy cannot
			// be resynced by extents: it is reported as an ordinary one.
			g.Primary, g.Extents = false, nil
		}
	}
	if pa := r.peerActivity(volume); pa != nil {
		g.PeerEpoch, g.PeerExtents = pa.Get()
	}
	if err := w.replyPayload(f.seq, cur, statusOK, appendHelloReply(nil, store.Size(), g)); err != nil {
		return err
	}
	log := r.log().With("volume", volume, "peer", conn.RemoteAddr().String())
	log.Debug("replication: primary connected", "epoch", f.epoch, "generation", g)

	// Requests run concurrently: the primary never has two overlapping
	// writes in flight, so any order of application gives the same
	// bytes. A reply is sent once its request is applied.
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx := context.Background()
	var lastApply atomic.Int64 // how long the latest request took to apply, ns
	// serve applies a request and replies; the reader's own replies are
	// queued, to leave together once it has nothing more buffered.
	serve := func(req *frame, queue bool) {
		start := time.Now()
		st, msg := r.apply(ctx, volume, store, gen, req)
		lastApply.Store(int64(time.Since(start)))
		e, _ := r.epoch(volume)
		var err error
		if queue {
			err = w.queueReply(req.seq, e, st, msg)
		} else {
			err = w.reply(req.seq, e, st, msg)
		}
		if err != nil {
			log.Debug("replication: reply failed", "err", err)
			conn.Close()
		}
	}
	for {
		if br.Buffered() == 0 {
			// About to wait for the primary: what the reader applied
			// is answered first.
			if err := w.flush(); err != nil {
				return err
			}
		}
		req := new(frame)
		bp := payloads.Get().(*[]byte)
		buf, err := readFrame(br, req, *bp)
		*bp = buf
		if err != nil {
			payloads.Put(bp)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if req.typ == msgActivity {
			// Recorded before the next request is read: the writes that
			// follow it are inside the log recorded.
			err := r.recordActivity(volume, req)
			payloads.Put(bp)
			if err != nil {
				return err
			}
			continue
		}
		if inlineApply(len(sem), time.Duration(lastApply.Load())) {
			serve(req, true)
			payloads.Put(bp)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		work.Run(func() {
			// The store has the payload once apply returns.
			defer func() { payloads.Put(bp); <-sem; wg.Done() }()
			serve(req, false)
		})
	}
}

// recordActivity records the primary's activity log a msgActivity
// carries, durably. A message of a lower epoch than the accepted one is
// ignored (that primary's writes are refused); one that cannot be
// recorded ends the connection, so no write follows it here.
func (r *Replica) recordActivity(volume string, req *frame) error {
	offs, rest, err := parseExtents(req.payload)
	if err == nil && len(rest) != 0 {
		err = fmt.Errorf("%w: %d bytes after an activity log", errProtocol, len(rest))
	}
	if err != nil {
		return fmt.Errorf("replication: volume %s: %w", volume, err)
	}
	ok, _, err := r.accept(volume, req.epoch)
	if err != nil || !ok {
		return err
	}
	if pa := r.peerActivity(volume); pa != nil {
		if err := pa.Set(req.epoch, offs); err != nil {
			return fmt.Errorf("replication: volume %s: %w", volume, err)
		}
	}
	return nil
}

func (r *Replica) peerActivity(volume string) *PeerActivity {
	if r.PeerActivity == nil {
		return nil
	}
	return r.PeerActivity(volume)
}

// inlineFast is how quickly requests must have been applying for the
// reader to apply one itself.
const inlineFast = 100 * time.Microsecond

// inlineApply reports whether the connection's reader applies a request
// itself instead of handing it to a worker: when none is being applied
// by a worker and requests have been applying fast (page cache, tmpfs).
// A worker costs a hand-off (a thread wake-up, a good share of a lone
// write's round trip); for a burst, one wake-up per request and a reply
// sent on its own. The reader applies a burst one request after the
// other and answers it with one send, and a request waits behind the
// others at most their fast applies. Slow applies (a disk that syncs)
// go to workers, in parallel.
func inlineApply(applying int, last time.Duration) bool {
	return applying == 0 && last < inlineFast
}

// work runs every replica's requests.
var work = workers.New()

// payloads recycles the buffers requests are read into: a replica would
// otherwise allocate (and zero) one per write.
var payloads = sync.Pool{New: func() any { return new([]byte) }}

// apply applies one request to the store and returns its status.
func (r *Replica) apply(ctx context.Context, volume string, store backend.Store, gen *GenFile, req *frame) (uint64, string) {
	ok, cur, err := r.accept(volume, req.epoch)
	if err != nil {
		return statusIO, err.Error()
	}
	if !ok {
		return statusStaleEpoch, fmt.Sprintf("epoch %d is below %d", req.epoch, cur)
	}
	if gen != nil && (req.typ == msgWrite || req.typ == msgUnmap || req.typ == msgResize) {
		// The copy's generation moves before its data does.
		if err := gen.Applied(req.epoch); err != nil {
			return statusIO, err.Error()
		}
	}
	durable := req.flags&flagDurable != 0
	switch req.typ {
	case msgWrite:
		err = store.WriteAt(ctx, req.payload, int64(req.offset), durable)
	case msgUnmap:
		err = store.Unmap(ctx, int64(req.offset), int64(req.length))
		if err == nil && durable {
			err = store.Sync(ctx)
		}
	case msgSync:
		err = store.Sync(ctx)
	case msgResize:
		err = r.resize(volume, store, int64(req.offset))
	case msgPing:
	default:
		return statusProtocol, fmt.Sprintf("unexpected message type %d", req.typ)
	}
	switch {
	case err == nil:
		return statusOK, ""
	case errors.Is(err, backend.ErrNoSpace):
		return statusNoSpace, err.Error()
	case errors.Is(err, backend.ErrOutOfRange):
		return statusRange, err.Error()
	}
	return statusIO, err.Error()
}

// resize grows the local copy of volume to size bytes, a primary's
// resize; a copy of that size already is left as it is.
func (r *Replica) resize(volume string, store backend.Store, size int64) error {
	if store.Size() == size {
		return nil
	}
	rs, ok := store.(backend.Resizer)
	if !ok {
		return fmt.Errorf("volume %s: this replica's copy (%T) cannot be resized", volume, store)
	}
	if err := rs.Resize(size); err != nil {
		return fmt.Errorf("volume %s: %w", volume, err)
	}
	r.log().Info("replication: volume grown by its primary", "volume", volume, "size", size)
	if r.Resized != nil {
		r.Resized(volume, size)
	}
	return nil
}

// replyWriter sends a replica's replies; replies finished together share
// one flush.
type replyWriter struct{ frameWriter }

func (w *replyWriter) reply(seq, epoch, status uint64, msg string) error {
	return w.replyPayload(seq, epoch, status, []byte(msg))
}

// queueReply queues a reply, sent with the next flush.
func (w *replyWriter) queueReply(seq, epoch, status uint64, msg string) error {
	var b [headerLen]byte
	p := []byte(msg)
	return w.queue(appendHeader(b[:0], &frame{typ: msgReply, seq: seq, epoch: epoch, offset: status, payload: p}), p)
}

func (w *replyWriter) replyPayload(seq, epoch, status uint64, p []byte) error {
	var b [headerLen]byte
	return w.write(appendHeader(b[:0], &frame{typ: msgReply, seq: seq, epoch: epoch, offset: status, payload: p}), p)
}

// Raise records that volume is now at epoch, durably, as a node does for
// itself when it becomes the volume's primary: from then on this node's
// replica side refuses any primary of a lower epoch — the deposed one
// included.
func (r *Replica) Raise(volume string, epoch uint64) error {
	ok, cur, err := r.accept(volume, epoch)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("replication: volume %s: epoch %d is below the accepted %d", volume, epoch, cur)
	}
	return nil
}
