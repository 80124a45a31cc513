package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
)

// DefaultTimeout is how long a replica may take to answer before the
// primary removes it from the in-sync set.
const DefaultTimeout = 2 * time.Second

// Replica names one replica of a volume and how to reach it.
type ReplicaAddr struct {
	Name string
	// Dial opens a connection to the replica's replication listener
	// (mutual TLS in a cluster).
	Dial func(ctx context.Context) (net.Conn, error)
}

// Options describe a primary's replicated volume.
type Options struct {
	// Volume is the volume's name, as the replicas know it.
	Volume string
	// Epoch is the volume's epoch this primary holds.
	Epoch uint64
	// Local is the primary's own store.
	Local backend.Store
	// Replicas are the in-sync replicas to write to.
	Replicas []ReplicaAddr
	// Timeout bounds a replica's answer; 0 means DefaultTimeout.
	Timeout time.Duration
	// OutOfSync removes a replica from the in-sync set, durably (an etcd
	// transaction in a cluster), because of cause. It is called before
	// any write the replica missed is acknowledged; if it fails, the
	// primary acknowledges nothing more and is fenced. Required.
	OutOfSync func(replica string, cause error) error
	// OutOfSyncAtStart are the volume's replicas already out of the
	// in-sync set: writes are recorded dirty for them until they resync.
	OutOfSyncAtStart []string
	// Lineage is what this primary knows of the volume's history; every
	// replica's copy is judged against it (Decide): an in-sync replica
	// whose copy does not descend from it is taken out of sync at Open.
	Lineage Lineage
	// Dirty records [off, off+n) as missed by replica, an out-of-sync
	// replica, durably (its Bitmap.Mark); it is called before the write
	// is acknowledged, and its error fails the write: a write whose bit
	// could be lost is not acknowledged. Nil records nothing.
	Dirty func(replica string, off, n int64) error
	// Grow extends replica's dirty record to a volume of size bytes
	// (its Bitmap.Grow), the added bytes dirty when dirty is set (the
	// replica did not grow with the primary). Resize calls it for every
	// replica before a write can reach the added bytes. Nil records
	// nothing.
	Grow func(replica string, size int64, dirty bool) error
	// Activity records where writes are in flight (see ActivityLog); nil
	// records nothing. The replicas are told it (msgActivity).
	Activity *ActivityLog
	// Unstable are the offsets of the extents where the previous
	// primary's writes may have been in flight, as this node recorded
	// them while it was a replica (PeerActivity): a copy in sync when
	// that primary was lost may differ from this one there. With the
	// extents each in-sync replica recorded itself (its hello), they are
	// resynced to it before it counts as in sync again (see Open).
	Unstable []int64
	// Log receives replica failures; nil discards.
	Log *slog.Logger
}

// Store is a replicated volume on its primary: a backend.Store that
// writes locally and to every in-sync replica in parallel, and returns
// only when all have the write (or the ones that failed are out of the
// in-sync set). Reads are local.
type Store struct {
	o     Options
	local backend.Store
	locks rangeLock
	log   *slog.Logger

	mu      sync.Mutex
	inSync  []*peer          // replicas every write goes to
	syncing map[string]*peer // out-of-sync replicas resyncing: they get live writes too
	out     map[string]bool  // out-of-sync replicas: every write is recorded dirty for them
	// held are replicas taken out of sync at Open for the previous
	// primary's writes in flight, with their connection and the
	// extents marked: Resync goes on with them by bitmap.
	held   map[string]heldPeer
	fenced atomic.Bool
	// inflight is held shared by every write for its whole length, so a
	// resync can wait for the writes that began before its replica
	// started receiving live writes (they only mark it dirty).
	inflight sync.RWMutex
}

// Open connects to every replica and says hello at o.Epoch. A replica that
// cannot be reached is taken out of the in-sync set (o.OutOfSync) before
// Open returns; a replica that holds a higher epoch fences the primary:
// Open fails with backend.ErrFenced.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.OutOfSync == nil {
		return nil, errors.New("replication: Options.OutOfSync is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	s := &Store{o: o, local: o.Local, log: o.Log, syncing: map[string]*peer{}, out: map[string]bool{}, held: map[string]heldPeer{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range o.OutOfSyncAtStart {
		s.out[name] = true
	}
	for _, r := range o.Replicas {
		dctx, cancel := context.WithTimeout(ctx, o.Timeout)
		p, h, err := dialPeer(dctx, r.Name, r.Dial, o.Volume, o.Epoch, o.Timeout)
		cancel()
		if err == nil {
			err = s.checkInSync(r.Name, h)
			if err != nil {
				p.close()
			}
		}
		switch {
		case errors.Is(err, errStale):
			s.closePeers()
			return nil, fmt.Errorf("replication: volume %s: %w: %w", o.Volume, backend.ErrFenced, err)
		case err != nil:
			if ferr := s.outOfSync(r.Name, err); ferr != nil {
				s.closePeers()
				return nil, ferr
			}
			continue
		}
		if u := s.unstable(h.gen); len(u) > 0 {
			if err := s.hold(r.Name, p, h, u); err != nil {
				s.closePeers()
				return nil, err
			}
			continue
		}
		s.inSync = append(s.inSync, p)
	}
	if a := o.Activity; a != nil {
		a.Watch(s.publishActivity)
	}
	return s, nil
}

// heldPeer is a replica taken out of sync at Open, to be resynced by its
// bitmap over the connection Open made.
type heldPeer struct {
	p   *peer
	h   hello
	why string
}

// unstable returns where an in-sync replica's copy g may differ from
// this primary's by writes the previous primary had in flight when it
// was lost: the extents of its activity log that this node recorded
// (Options.Unstable) and that the replica recorded, unless the replica's
// record is this primary's own run's (RecoverActivity covers that).
func (s *Store) unstable(g Generation) []int64 {
	u := slices.Clone(s.o.Unstable)
	if g.PeerEpoch < s.o.Lineage.PrimarySince {
		u = append(u, g.PeerExtents...)
	}
	slices.Sort(u)
	return slices.Compact(u)
}

// hold takes in-sync replica name out of sync because its copy may
// differ from this one in the extents u (writes the previous primary had
// in flight, which reached one copy and not the other): they are marked
// dirty for it, it leaves the in-sync set, and Resync goes on over the
// connection p by bitmap — its copy was in sync when this primary's run
// began, so the bitmap from now on and those extents cover every
// difference. If the extents cannot be marked, it is only taken out of
// sync: its resync is then decided afresh (a full one). An error means
// the primary is fenced.
func (s *Store) hold(name string, p *peer, h hello, u []int64) error {
	merr := error(nil)
	if s.o.Dirty == nil {
		merr = errors.New("no dirty record")
	}
	for _, off := range u {
		if merr != nil || off >= s.local.Size() {
			break
		}
		merr = s.markDirty([]string{name}, off, min(ALExtent, s.local.Size()-off))
	}
	cause := fmt.Errorf("the previous primary was lost with writes in flight in %d extents, which may have reached this copy or this primary's and not the other", len(u))
	if err := s.outOfSync(name, cause); err != nil {
		p.close()
		return err
	}
	if merr != nil {
		p.close()
		s.log.Warn("replication: could not mark the previous primary's extents in flight; the replica will be resynced in full", "volume", s.o.Volume, "replica", name, "err", merr)
		return nil
	}
	s.mu.Lock()
	s.held[name] = heldPeer{p: p, h: h, why: fmt.Sprintf("in sync when this primary's run began; the %d extents where the previous primary's writes were in flight are marked", len(u))}
	s.mu.Unlock()
	return nil
}

// publishActivity tells every replica a write goes to the primary's
// activity log (called under the log's lock, see ActivityLog.Watch).
func (s *Store) publishActivity(offs []int64) {
	s.mu.Lock()
	ps := slices.Concat(s.inSync, slices.Collect(maps.Values(s.syncing)))
	s.mu.Unlock()
	f := &frame{typ: msgActivity, epoch: s.o.Epoch, payload: appendExtents(nil, offs)}
	for _, p := range ps {
		p.notify(f)
	}
}

// checkInSync checks an in-sync replica's hello: its volume's size, and
// that its copy descends from this primary's lineage.
func (s *Store) checkInSync(name string, h hello) error {
	if h.size != s.local.Size() {
		return fmt.Errorf("replica %s: volume of %d bytes, the primary's has %d", name, h.size, s.local.Size())
	}
	if d, why := Decide(s.o.Lineage, h.gen, true); d != DecideBitmap {
		return fmt.Errorf("replica %s: in sync in the record, but its copy at %v needs a %v: %s", name, h.gen, d, why)
	}
	return nil
}

// InSync returns the names of the replicas writes go to.
func (s *Store) InSync() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.inSync))
	for i, p := range s.inSync {
		out[i] = p.name
	}
	return out
}

// Drop takes replica name out of the in-sync set, as a failure of it
// would, because of cause: the cluster's record has it out of sync
// already (its node found its copy new at start) while this store still
// writes to it. Writes are recorded dirty for it from then on.
func (s *Store) Drop(name string, cause error) error {
	return s.outOfSync(name, cause)
}

// outOfSync takes replica name out of the in-sync set. It returns
// backend.ErrFenced when the removal could not be made durable.
func (s *Store) outOfSync(name string, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.inSync {
		if p.name == name {
			s.inSync = append(s.inSync[:i:i], s.inSync[i+1:]...)
			p.close()
			break
		}
	}
	if err := s.o.OutOfSync(name, cause); err != nil {
		s.fenced.Store(true)
		s.log.Error("replication: could not take a failed replica out of the in-sync set; fenced", "volume", s.o.Volume,
			"replica", name, "cause", cause, "err", err)
		return fmt.Errorf("replication: volume %s: %w: replica %s failed (%v) and could not be taken out of sync: %v",
			s.o.Volume, backend.ErrFenced, name, cause, err)
	}
	s.out[name] = true
	s.log.Warn("replication: replica out of sync", "volume", s.o.Volume, "replica", name, "cause", cause)
	return nil
}

func (s *Store) closePeers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.inSync {
		p.close()
	}
	for _, p := range s.syncing {
		p.close()
	}
	for _, hp := range s.held {
		hp.p.close()
	}
	s.inSync = nil
	clear(s.syncing)
	clear(s.held)
}

// peers returns the replicas a write goes to — the in-sync ones, then
// the resyncing ones (marked by syncing[i]) — and, taken at the same
// moment, the out-of-sync replicas it does not go to, which must have it
// recorded dirty.
func (s *Store) peers() ([]*peer, []bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := append([]*peer(nil), s.inSync...)
	syncing := make([]bool, len(ps), len(ps)+len(s.syncing))
	for _, p := range s.syncing {
		ps = append(ps, p)
		syncing = append(syncing, true)
	}
	var missing []string
	for name := range s.out {
		if s.syncing[name] == nil {
			missing = append(missing, name)
		}
	}
	return ps, syncing, missing
}

// dropSyncing ends replica p's resync: it failed a write. It reports
// false when p is no longer resyncing (it just rejoined the in-sync set).
func (s *Store) dropSyncing(p *peer, cause error) bool {
	s.mu.Lock()
	was := s.syncing[p.name] == p
	if was {
		delete(s.syncing, p.name)
		s.out[p.name] = true
	}
	s.mu.Unlock()
	if !was {
		return false
	}
	p.fail(fmt.Errorf("resync of replica %s ended: %w", p.name, cause))
	s.log.Warn("replication: resync ended", "volume", s.o.Volume, "replica", p.name, "cause", cause)
	return true
}

// markDirty records [off, off+n) for the replicas in names (those the
// write did not reach: out of sync when it began, or dropped during it).
func (s *Store) markDirty(names []string, off, n int64) error {
	if s.o.Dirty == nil || n <= 0 {
		return nil
	}
	for _, name := range names {
		if err := s.o.Dirty(name, off, n); err != nil {
			return fmt.Errorf("replication: volume %s: recording a write for replica %s's resync: %w: %w", s.o.Volume, name, backend.ErrIO, err)
		}
	}
	return nil
}

// replicate sends f to every in-sync replica, runs local, and waits for
// all. A replica that fails or times out is taken out of sync before
// replicate returns; a replica with a higher epoch fences the primary.
func (s *Store) replicate(f *frame, off, n int64, local func() error) error {
	if s.fenced.Load() {
		return fmt.Errorf("replication: volume %s: %w", s.o.Volume, backend.ErrFenced)
	}
	s.inflight.RLock()
	defer s.inflight.RUnlock()
	if a := s.o.Activity; a != nil && n > 0 {
		if err := a.Begin(off, n); err != nil {
			return fmt.Errorf("replication: volume %s: %w: %w", s.o.Volume, backend.ErrIO, err)
		}
		defer a.End(off, n)
	}
	ps, syncing, missing := s.peers()
	f.epoch = s.o.Epoch
	calls := make([]call, len(ps))
	for i, p := range ps {
		fc := *f
		calls[i] = p.send(&fc)
	}
	lerr := local()
	failed, err := s.await(ps, syncing, calls, func(cause error) error { return cause })
	if err != nil {
		return err
	}
	missing = append(missing, failed...)
	if err := s.markDirty(missing, off, n); err != nil {
		return err
	}
	return lerr
}

// await waits for the answers to calls of the replicas ps (syncing[i]:
// ps[i] is resyncing). A request that gets no answer within the replica
// timeout fails its connection (peer.watch), so each wait ends. A
// replica that fails or does not answer leaves the in-sync set, for the
// reason wrap gives its failure — or, if it was resyncing, only its
// resync ends. It returns the replicas that did not apply the request,
// and an error when the primary is fenced: a replica holds a higher
// epoch, or one could not be taken out of sync.
func (s *Store) await(ps []*peer, syncing []bool, calls []call, wrap func(error) error) ([]string, error) {
	var failed []string
	var fenceErr error
	for i, c := range calls {
		r := c.wait()
		switch {
		case r.err == nil && r.status == statusOK:
			continue
		case r.err == nil && r.status == statusStaleEpoch:
			s.fenced.Store(true)
			fenceErr = fmt.Errorf("replication: volume %s: %w: %w", s.o.Volume, backend.ErrFenced, statusError(ps[i].name, r.status, r.msg))
			continue
		}
		cause := r.err
		if cause == nil {
			cause = statusError(ps[i].name, r.status, r.msg)
		}
		cause = wrap(cause)
		failed = append(failed, ps[i].name)
		if syncing[i] && s.dropSyncing(ps[i], cause) {
			// Already out of sync in the cluster's record: only its
			// resync ends.
			continue
		}
		if err := s.outOfSync(ps[i].name, cause); err != nil {
			fenceErr = err
		}
	}
	return failed, fenceErr
}

// ReadAt reads the primary's copy.
func (s *Store) ReadAt(ctx context.Context, p []byte, off int64) error {
	if s.fenced.Load() {
		return fmt.Errorf("replication: volume %s: %w", s.o.Volume, backend.ErrFenced)
	}
	return s.local.ReadAt(ctx, p, off)
}

// WriteAt writes p locally and on every in-sync replica, durable on all
// when durable is set. Overlapping writes are ordered by a range lock, so
// the replicas apply them in the primary's order. The command's context
// does not cut the wait short: a write the replicas may have applied is
// waited for (at most the replica timeout), so no replica is left with
// data the others lack without being taken out of sync.
func (s *Store) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	sp := s.locks.lock(off, int64(len(p)))
	defer s.locks.unlock(sp)
	f := &frame{typ: msgWrite, offset: uint64(off), payload: p}
	if durable {
		f.flags = flagDurable
	}
	return s.replicate(f, off, int64(len(p)), func() error { return s.local.WriteAt(ctx, p, off, durable) })
}

// maxUnmap is the most one unmap message covers (its length is 32 bits).
const maxUnmap = 1 << 30

// Unmap deallocates the range locally and on every in-sync replica, in
// pieces of at most maxUnmap bytes.
func (s *Store) Unmap(ctx context.Context, off, n int64) error {
	for n > 0 {
		m := min(n, maxUnmap)
		sp := s.locks.lock(off, m)
		err := s.replicate(&frame{typ: msgUnmap, offset: uint64(off), length: uint32(m)}, off, m,
			func() error { return s.local.Unmap(ctx, off, m) })
		s.locks.unlock(sp)
		if err != nil {
			return err
		}
		off += m
		n -= m
	}
	return nil
}

// Sync makes every completed write durable locally and on every in-sync
// replica.
func (s *Store) Sync(ctx context.Context) error {
	return s.replicate(&frame{typ: msgSync}, 0, 0, func() error { return s.local.Sync(ctx) })
}

// RecoverActivity handles a previous run as primary on this node that did
// not stop cleanly (a crash, a lost lease), before the first write is
// served: inside its activity log's extents this copy and the replicas
// may differ by writes that were in flight, none acknowledged. Those
// extents are recorded dirty for every replica (Options.Dirty) and the
// in-sync replicas leave the in-sync set (Options.OutOfSync), so they are
// resynced from this copy before they count as holding the volume again.
// It returns the number of extents.
func (s *Store) RecoverActivity() (int, error) {
	a := s.o.Activity
	if a == nil {
		return 0, nil
	}
	left := a.Leftover()
	if len(left) == 0 {
		return 0, nil
	}
	inSync := s.InSync()
	s.mu.Lock()
	names := slices.Clone(inSync)
	for name := range s.out {
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, e := range left {
		if err := s.markDirty(names, e[0], e[1]); err != nil {
			return 0, err
		}
	}
	cause := fmt.Errorf("the primary's last run here stopped with writes in flight in %d extents", len(left))
	for _, name := range inSync {
		if err := s.outOfSync(name, cause); err != nil {
			return 0, err
		}
	}
	if err := a.Clear(); err != nil {
		return 0, fmt.Errorf("replication: volume %s: %w", s.o.Volume, err)
	}
	return len(left), nil
}

// Quiesce ends the primary's run cleanly: it waits for the writes in
// flight, syncs every in-sync replica, and empties the activity log, so
// that this node's next run as primary resyncs nothing it left. The
// caller has stopped sending writes (a switchover, a shutdown).
func (s *Store) Quiesce(ctx context.Context) error {
	s.inflight.Lock()
	s.inflight.Unlock() //nolint:staticcheck // an empty critical section: a barrier
	if err := s.Sync(ctx); err != nil {
		return err
	}
	if a := s.o.Activity; a != nil {
		return a.Clear()
	}
	return nil
}

// Size is the volume's size.
func (s *Store) Size() int64 { return s.local.Size() }

// Close closes the replica connections and the local store.
func (s *Store) Close() error {
	s.closePeers()
	return s.local.Close()
}
