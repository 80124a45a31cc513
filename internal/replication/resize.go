package replication

import (
	"fmt"

	"github.com/halun/halun/internal/backend"
)

// Resize grows the volume to size bytes; volumes never shrink. No write
// is in flight while it runs (it waits for them, and holds new ones). The
// replicas a write would go to — in sync, or resyncing — grow first: each
// gets a resize message and is waited for, and one that fails or does not
// answer within the timeout leaves the in-sync set (or ends its resync),
// as for a write. Then the primary's own copy grows, and every replica's
// dirty record with it (Options.Grow): the added bytes clean for an
// in-sync replica, which grew, dirty for the others, which get them when
// they resync (Resync grows a smaller copy first). The replicas grow
// before the primary so that a primary lost halfway leaves the larger
// copies in sync, never a primary larger than them. A size equal to the
// current one changes nothing, so a resize that failed halfway can be
// repeated. Store is thereby a backend.Resizer.
func (s *Store) Resize(size int64) error {
	if s.fenced.Load() {
		return fmt.Errorf("replication: volume %s: %w", s.o.Volume, backend.ErrFenced)
	}
	r, ok := s.local.(backend.Resizer)
	if !ok {
		return fmt.Errorf("replication: volume %s: the primary's copy (%T) cannot be resized", s.o.Volume, s.local)
	}
	s.inflight.Lock()
	defer s.inflight.Unlock()
	cur := s.local.Size()
	switch {
	case size < cur:
		return fmt.Errorf("replication: volume %s: resize from %d to %d bytes: %w", s.o.Volume, cur, size, backend.ErrShrink)
	case size == cur:
		return nil
	}
	ps, syncing, _ := s.peers()
	calls := make([]call, len(ps))
	for i, p := range ps {
		calls[i] = p.send(&frame{typ: msgResize, epoch: s.o.Epoch, offset: uint64(size)})
	}
	if _, err := s.await(ps, syncing, calls, func(cause error) error { return fmt.Errorf("resize to %d bytes: %w", size, cause) }); err != nil {
		return err
	}
	if err := r.Resize(size); err != nil {
		return fmt.Errorf("replication: volume %s: growing the primary's copy to %d bytes: %w", s.o.Volume, size, err)
	}
	if a := s.o.Activity; a != nil {
		a.Grow(size)
	}
	// No write is in flight: the in-sync set is the replicas that grew.
	s.mu.Lock()
	grown := make(map[string]bool, len(s.inSync))
	for _, p := range s.inSync {
		grown[p.name] = true
	}
	names := make([]string, 0, len(s.out))
	for name := range s.out {
		names = append(names, name)
	}
	s.mu.Unlock()
	if s.o.Grow == nil {
		return nil
	}
	for name := range grown {
		names = append(names, name)
	}
	for _, name := range names {
		// The volume has grown: failing now would leave it so while a
		// retry finds nothing to do. A record that grew in memory but
		// could not be flushed still records writes (and reads as dirty
		// beyond its flushed size after a restart); one that cannot be
		// opened fails the writes that mark it (Options.Dirty).
		if err := s.o.Grow(name, size, !grown[name]); err != nil {
			s.log.Error("replication: growing a replica's dirty record", "volume", s.o.Volume, "replica", name, "size", size, "err", err)
		}
	}
	s.log.Info("replication: volume grown", "volume", s.o.Volume, "from", cur, "to", size, "replicas_grown", len(grown))
	return nil
}
