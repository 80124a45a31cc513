package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/scsi"
)

// Growing a replicated volume. The primary grows it: its logical unit's
// Resize (a reload with a larger size, `halun volume resize`) reaches
// volumeStore.Resize, which grows every copy through the replicated
// store (replication.Store.Resize) and then records the size in the
// volume's definition in etcd, so that nodes starting later agree. Each
// replica's node, told its copy grew, grows its own logical unit, so
// initiators see the new capacity on every path. On a node that is not
// the primary, a resize to the size its copy already has succeeds (the
// primary's reached it: the operator's reload there); any other is
// refused, naming the primary.

// Resize grows the volume to size bytes (backend.Resizer).
func (s *volumeStore) Resize(size int64) error {
	if s.grow == nil {
		return fmt.Errorf("volume %s: this store cannot be resized", s.name)
	}
	return s.grow(size)
}

// grow is the volume's volumeStore.Resize.
func (v *volume) grow(size int64) error {
	v.mu.Lock()
	s, epoch := v.primary, v.epoch
	v.mu.Unlock()
	if s == nil {
		have := v.local.Size()
		switch {
		case have == size:
			return nil
		case size < have:
			return fmt.Errorf("volume %s: resize to %d bytes: its copy here holds %d: %w", v.cfg.Name, size, have, backend.ErrShrink)
		}
		primary := "none at the moment"
		if st, err := v.n.volumeState(v.cfg.Name, 2*time.Second); err == nil && st.Primary != "" {
			primary = st.Primary
		}
		return fmt.Errorf("volume %s is replicated: grow it on its primary, node %s; this node follows (its copy holds %d bytes)",
			v.cfg.Name, primary, have)
	}
	if err := s.Resize(size); err != nil {
		return fmt.Errorf("volume %s: %w", v.cfg.Name, err)
	}
	ctx, cancel := context.WithTimeout(v.n.ctx, 5*time.Second)
	defer cancel()
	if err := v.n.client.GrowVolume(ctx, v.cfg.Name, v.n.self, epoch, size); err != nil {
		// Every copy has grown; a retry finds them so and records the
		// size again.
		return fmt.Errorf("volume %s: grown to %d bytes, but not recorded in the cluster: %w", v.cfg.Name, size, err)
	}
	v.n.log.Info("cluster: volume grown", "volume", v.cfg.Name, "size", size, "epoch", epoch)
	return nil
}

// grown follows a resize of this node's copy by the volume's primary
// (replication.Replica.Resized): the logical unit grows with it, so the
// initiators on this node's paths see the new capacity (CAPACITY DATA
// HAS CHANGED) as the primary's do.
func (v *volume) grown(size int64) {
	v.mu.Lock()
	lu := v.lu
	v.mu.Unlock()
	if lu == nil {
		return
	}
	if err := lu.Resize(size); err != nil {
		v.n.log.Warn("cluster: the volume grew but its logical unit here did not", "volume", v.cfg.Name, "size", size, "err", err)
	}
}

// fitLU grows the logical unit to the local copy's size when it is
// smaller (the copy grew while the logical unit here did not follow), as
// a node becoming primary does before it serves.
func (v *volume) fitLU(lu *scsi.LU) {
	size := v.local.Size()
	if int64(lu.Blocks())*int64(lu.Config().BlockSize) >= size {
		return
	}
	if err := lu.Resize(size); err != nil {
		v.n.log.Warn("cluster: the logical unit is smaller than the volume", "volume", v.cfg.Name, "size", size, "err", err)
	}
}
