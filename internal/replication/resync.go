package replication

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ResyncOptions describe bringing one out-of-sync replica back.
type ResyncOptions struct {
	Replica ReplicaAddr
	// Bitmap holds what the replica missed (its Dirty records). A full
	// resync marks it all dirty first.
	Bitmap *Bitmap
	// Discard: the operator allowed the replica's copy to be overwritten
	// whatever its generation (Lineage.Discard).
	Discard bool
	// Rate bounds the resync's copying in bytes per second; 0 is
	// unbounded. Live writes are not counted against it.
	Rate int64
	// Chunk is the most one resync message copies; 0 means 1 MiB.
	Chunk int64
	// Depth is how many chunks are in flight at once; 0 means 4.
	Depth int
	// Streams is how many connections carry the chunks; 0 means 2. The
	// first is the one live writes take; each connection's encryption
	// and the replica's decryption are one goroutine's work, so a second
	// lets a full resync use both ends' cores.
	Streams int
	// BackInSync puts the replica back into the in-sync set, durably (an
	// etcd transaction); the replica gets every write as in-sync only
	// after it succeeds. Required.
	BackInSync func(replica string) error
	// Progress is told how many bytes were copied and how many the
	// bitmap still holds: once when the replica is connected (0 copied;
	// a resync that cannot connect tells nothing), then after every
	// chunk. Nil tells nothing.
	Progress func(copied, remaining int64)
}

// Resync brings an out-of-sync replica back. It connects and judges the
// replica's copy by its generation (Decide, against the store's
// Lineage): a copy that may hold acknowledged writes this primary lacks
// is refused, untouched, with a *DivergedError (ErrDiverged); a copy the
// bitmap does not cover gets a full resync (the bitmap is marked all
// dirty, durably, before the replica receives a write). From then on
// the replica receives every live write, while in the background the
// regions its bitmap holds are copied from this primary's store, each
// under the range lock so no live write to the region interleaves, and
// cleared once the replica has them. When the bitmap is empty the
// replica's writes are synced and it rejoins the in-sync set (BackInSync).
// Resync is resumable: the bitmap is flushed as it shrinks, and a resync
// that ends early (ctx, a failed write) leaves the rest in it. It returns
// the bytes copied.
func (s *Store) Resync(ctx context.Context, o ResyncOptions) (int64, error) {
	if o.BackInSync == nil || o.Bitmap == nil {
		return 0, errors.New("replication: Resync needs a Bitmap and BackInSync")
	}
	if o.Chunk <= 0 {
		o.Chunk = 1 << 20
	}
	if o.Depth <= 0 {
		o.Depth = 4
	}
	if o.Streams <= 0 {
		o.Streams = 2
	}
	name := o.Replica.Name
	s.mu.Lock()
	if !s.out[name] || s.syncing[name] != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("replication: volume %s: replica %s is not out of sync, or already resyncing", s.o.Volume, name)
	}
	held, isHeld := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	lin := s.o.Lineage
	lin.Discard = o.Discard
	var p *peer
	var h hello
	var d Decision
	var why string
	if isHeld {
		// Taken out of sync at Open with the previous primary's
		// extents in flight marked (hold): its bitmap covers it.
		p, h, d, why = held.p, held.h, DecideBitmap, held.why
	} else {
		dctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
		var err error
		p, h, err = dialPeer(dctx, name, o.Replica.Dial, s.o.Volume, s.o.Epoch, s.o.Timeout)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("replication: volume %s: resync: %w", s.o.Volume, err)
		}
		d, why = Decide(lin, h.gen, false)
	}
	if h.size > s.local.Size() {
		p.close()
		return 0, fmt.Errorf("replication: volume %s: replica %s holds %d bytes, more than the primary's %d", s.o.Volume, name, h.size, s.local.Size())
	}
	switch d {
	case DecideRefuse:
		p.close()
		return 0, &DivergedError{Volume: s.o.Volume, Replica: name, Copy: h.gen, Primary: lin, Why: why}
	case DecideFull:
		if err := o.Bitmap.SetAll(); err != nil {
			p.close()
			return 0, fmt.Errorf("replication: volume %s: marking replica %s for a full resync: %w", s.o.Volume, name, err)
		}
	case DecideBitmap:
		// Where the copy's own writes may have been in flight (it was
		// primary): those extents are copied too. (A held replica's
		// copy was not the primary's: it has none.)
		for _, e := range h.gen.Extents {
			if err := o.Bitmap.Mark(e, ALExtent); err != nil {
				p.close()
				return 0, fmt.Errorf("replication: volume %s: marking replica %s's activity log extents: %w", s.o.Volume, name, err)
			}
		}
	}
	s.log.Info("replication: resync", "volume", s.o.Volume, "replica", name, "decision", d.String(), "why", why,
		"replica_generation", h.gen.String(), "primary", lin.String(), "dirty_bytes", o.Bitmap.DirtyBytes())
	// A copy smaller than the primary's (its replica was away while the
	// volume grew) grows before it receives a write; no resize runs
	// meanwhile, and one that follows sends it the resize too.
	s.inflight.RLock()
	if err := s.growReplica(p, h.size, o.Bitmap); err != nil {
		s.inflight.RUnlock()
		p.close()
		return 0, fmt.Errorf("replication: volume %s: resync: %w", s.o.Volume, err)
	}
	join := func(offs []int64) {
		// The replica is told the activity log before any live write
		// can reach it (a write whose extent is in the log may be sent
		// the moment it joins).
		if offs != nil {
			p.notify(&frame{typ: msgActivity, epoch: s.o.Epoch, payload: appendExtents(nil, offs)})
		}
		s.mu.Lock()
		s.syncing[name] = p
		s.mu.Unlock()
	}
	if a := s.o.Activity; a != nil {
		a.With(join)
	} else {
		join(nil)
	}
	s.inflight.RUnlock()
	// Writes that began before the replica joined did not go to it;
	// they record it dirty when they end. Wait for them, so the bitmap
	// holds all of them before the copying can finish.
	s.inflight.Lock()
	s.inflight.Unlock() //nolint:staticcheck // an empty critical section: a barrier

	defer func() {
		s.mu.Lock()
		if s.syncing[name] == p {
			delete(s.syncing, name)
		}
		s.mu.Unlock()
	}()

	// The chunks take turns on the streams: the replica's connection and
	// Streams-1 more, opened only if there is something to copy.
	streams := []*peer{p}
	if o.Bitmap.DirtyBytes() > 0 {
		extra, err := s.dialStreams(ctx, o.Replica, o.Streams-1)
		if err != nil {
			s.dropSyncing(p, err)
			return 0, fmt.Errorf("replication: volume %s: resync of replica %s: %w", s.o.Volume, name, err)
		}
		defer func() {
			for _, q := range extra {
				q.close()
			}
		}()
		streams = append(streams, extra...)
	}
	var copied int64
	if o.Progress != nil {
		o.Progress(0, o.Bitmap.DirtyBytes())
	}
	// Depth chunks are copied at once, so the link carries the next
	// while a replica writes one. Chunks are disjoint, each under its
	// range lock; one is cleared from the bitmap once the replica has it.
	type done struct {
		off, n int64
		err    error
	}
	results := make(chan done, o.Depth)
	bufs := make(chan []byte, o.Depth)
	for range o.Depth {
		bufs <- make([]byte, o.Chunk)
	}
	var (
		inflight int
		sent     int   // chunks sent, for the stream of the next
		cursor   int64 // where the next chunk is looked for
		failed   error // the first chunk that failed, or ctx's end
	)
	start := time.Now()
	lastFlush := start
	for {
		if failed == nil && inflight < o.Depth {
			if err := ctx.Err(); err != nil {
				failed = err
				continue
			}
			if off, n, ok := o.Bitmap.Next(cursor, o.Chunk); ok {
				cursor = off + n
				buf := <-bufs
				q := streams[sent%len(streams)]
				sent++
				inflight++
				go func() {
					err := s.copyRange(ctx, q, buf[:n], off)
					bufs <- buf
					results <- done{off, n, err}
				}()
				continue
			}
			if inflight == 0 {
				if cursor == 0 {
					break // the bitmap is empty
				}
				cursor = 0 // one more pass: nothing should be left
				continue
			}
		}
		if inflight == 0 {
			break // failed, and nothing left to wait for
		}
		d := <-results
		inflight--
		if d.err != nil {
			if failed == nil {
				failed = d.err
			}
			continue
		}
		o.Bitmap.Clear(d.off, d.n)
		copied += d.n
		if o.Progress != nil {
			o.Progress(copied, o.Bitmap.DirtyBytes())
		}
		if time.Since(lastFlush) > 5*time.Second {
			// Resumable: a restart resends only what is left.
			if err := o.Bitmap.Flush(); err != nil {
				s.log.Warn("replication: flushing the resync bitmap", "volume", s.o.Volume, "err", err)
			}
			lastFlush = time.Now()
		}
		if o.Rate > 0 && failed == nil {
			if ahead := time.Duration(float64(copied)/float64(o.Rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				select {
				case <-time.After(ahead):
				case <-ctx.Done():
				}
			}
		}
	}
	if failed != nil {
		o.Bitmap.Flush()
		if ctx.Err() != nil && errors.Is(failed, ctx.Err()) {
			return copied, failed
		}
		s.dropSyncing(p, failed)
		return copied, fmt.Errorf("replication: volume %s: resync of replica %s: %w", s.o.Volume, name, failed)
	}
	// Everything the replica missed is there: make it durable, rejoin.
	r := p.send(&frame{typ: msgSync, epoch: s.o.Epoch}).wait()
	if r.err != nil || r.status != statusOK {
		err := r.err
		if err == nil {
			err = statusError(name, r.status, r.msg)
		}
		s.dropSyncing(p, err)
		return copied, fmt.Errorf("replication: volume %s: resync of replica %s: final sync: %w", s.o.Volume, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.syncing[name] != p {
		return copied, fmt.Errorf("replication: volume %s: resync of replica %s ended by a failed write", s.o.Volume, name)
	}
	if err := o.BackInSync(name); err != nil {
		return copied, fmt.Errorf("replication: volume %s: replica %s resynced, but could not rejoin the in-sync set: %w", s.o.Volume, name, err)
	}
	delete(s.syncing, name)
	delete(s.out, name)
	s.inSync = append(s.inSync, p)
	if err := o.Bitmap.Flush(); err != nil {
		s.log.Warn("replication: flushing the emptied bitmap", "volume", s.o.Volume, "err", err)
	}
	s.log.Info("replication: replica back in sync", "volume", s.o.Volume, "replica", name, "copied", copied,
		"took", time.Since(start).Round(time.Millisecond))
	return copied, nil
}

// dialStreams opens n more connections to a resyncing replica for its
// chunks. Each says hello at the volume's epoch, as the first did; what
// the replica answers about its copy was judged on the first.
func (s *Store) dialStreams(ctx context.Context, r ReplicaAddr, n int) ([]*peer, error) {
	var out []*peer
	for range n {
		dctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
		q, _, err := dialPeer(dctx, r.Name, r.Dial, s.o.Volume, s.o.Epoch, s.o.Timeout)
		cancel()
		if err != nil {
			for _, q := range out {
				q.close()
			}
			return nil, fmt.Errorf("opening a resync stream: %w", err)
		}
		out = append(out, q)
	}
	return out, nil
}

// copyRange sends the primary's bytes at off to a resyncing replica,
// holding the range so no live write to it interleaves.
func (s *Store) copyRange(ctx context.Context, p *peer, buf []byte, off int64) error {
	sp := s.locks.lock(off, int64(len(buf)))
	defer s.locks.unlock(sp)
	if err := s.local.ReadAt(ctx, buf, off); err != nil {
		return fmt.Errorf("reading the primary's copy: %w", err)
	}
	r := p.send(&frame{typ: msgWrite, epoch: s.o.Epoch, offset: uint64(off), payload: buf}).wait()
	if r.err != nil {
		return r.err
	}
	if r.status != statusOK {
		return statusError(p.name, r.status, r.msg)
	}
	return nil
}

// growReplica grows a resyncing replica's copy of has bytes to the
// primary's size, the added bytes recorded dirty for it first (the
// primary's record says so already when it grew the volume; this covers
// a record that never saw the replica smaller).
func (s *Store) growReplica(p *peer, has int64, bm *Bitmap) error {
	size := s.local.Size()
	if has >= size {
		return nil
	}
	if err := bm.Grow(size, true); err != nil {
		return err
	}
	if err := bm.Mark(has, size-has); err != nil {
		return fmt.Errorf("replica %s: recording the space it lacks: %w", p.name, err)
	}
	r := p.send(&frame{typ: msgResize, epoch: s.o.Epoch, offset: uint64(size)}).wait()
	if r.err == nil && r.status != statusOK {
		r.err = statusError(p.name, r.status, r.msg)
	}
	if r.err != nil {
		return fmt.Errorf("growing replica %s from %d to %d bytes: %w", p.name, has, size, r.err)
	}
	s.log.Info("replication: replica grown for its resync", "volume", s.o.Volume, "replica", p.name, "from", has, "to", size)
	return nil
}
