package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
)

// volumeStore is the store a replicated volume's logical unit writes to:
// while this node is the volume's primary, the replicated store; otherwise
// nothing — every call is refused as fenced (NOT READY, TARGET PORT IN
// STANDBY STATE), so an initiator path to this node can never read data
// the primary may have overwritten or write past the primary. The local
// copy underneath is the replica side's.
type volumeStore struct {
	name  string
	local backend.Store
	cur   atomic.Pointer[backend.Store] // nil: not primary here
	// deadline is the node's lease deadline, by its own clock: past it
	// a successor may have promoted, so nothing is served — checked on
	// every command, so a primary that was frozen (SIGSTOP) and wakes
	// after it serves not one stale read before its controller demotes
	// it.
	deadline func() time.Time
	// grow is Resize's work (volume.grow).
	grow func(size int64) error
}

func (s *volumeStore) active() (backend.Store, error) {
	if p := s.cur.Load(); p != nil {
		if s.deadline != nil && time.Now().After(s.deadline()) {
			return nil, fmt.Errorf("volume %s: this node's lease may have expired: %w", s.name, backend.ErrFenced)
		}
		return *p, nil
	}
	return nil, fmt.Errorf("volume %s: not primary on this node: %w", s.name, backend.ErrFenced)
}

func (s *volumeStore) set(st backend.Store) {
	if st == nil {
		s.cur.Store(nil)
		return
	}
	s.cur.Store(&st)
}

func (s *volumeStore) ReadAt(ctx context.Context, p []byte, off int64) error {
	st, err := s.active()
	if err != nil {
		return err
	}
	return st.ReadAt(ctx, p, off)
}

func (s *volumeStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	st, err := s.active()
	if err != nil {
		return err
	}
	return st.WriteAt(ctx, p, off, durable)
}

// Sync syncs the replicated store while primary; otherwise there is
// nothing of this path's to flush (the replica side syncs the local copy
// as its primary asks), so it succeeds — a shutdown's flush included.
func (s *volumeStore) Sync(ctx context.Context) error {
	if p := s.cur.Load(); p != nil {
		return (*p).Sync(ctx)
	}
	return nil
}

func (s *volumeStore) Unmap(ctx context.Context, off, n int64) error {
	st, err := s.active()
	if err != nil {
		return err
	}
	return st.Unmap(ctx, off, n)
}

// Size is the local copy's: every replica has the same.
func (s *volumeStore) Size() int64 { return s.local.Size() }

// Close is the node's: the local store closes with the cluster node, not
// with a logical unit rebuilt by a reload.
func (s *volumeStore) Close() error { return nil }

// MapStatus reports the primary's copy's allocation (GET LBA STATUS);
// the replicas hold the same (unmaps replicate). A copy that cannot tell
// is all mapped.
func (s *volumeStore) MapStatus(off, n int64) (bool, int64, error) {
	if _, err := s.active(); err != nil {
		return false, 0, err
	}
	if m, ok := s.local.(backend.Mapper); ok {
		return m.MapStatus(off, n)
	}
	return true, n, nil
}

// AllocatedBytes is this node's copy's allocation, whether or not it is
// the primary (the metrics endpoint reports every copy).
func (s *volumeStore) AllocatedBytes() (int64, error) {
	if a, ok := s.local.(backend.Allocator); ok {
		return a.AllocatedBytes()
	}
	return 0, fmt.Errorf("cluster: volume store over %T does not report its allocation", s.local)
}
