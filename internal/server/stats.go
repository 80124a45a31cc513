package server

import (
	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/scsi"
)

// VolumeStat is one volume's statistics, for the metrics endpoint.
type VolumeStat struct {
	Name string
	Size int64
	// Allocated is the bytes of backing the volume holds; -1 when its
	// store cannot tell.
	Allocated int64
	Stats     scsi.StatsSnapshot
}

// VolumeStats returns the statistics of every open volume, in config
// order.
func (n *Node) VolumeStats() []VolumeStat {
	n.mu.Lock()
	vols := make([]*volume, 0, len(n.cfg.Volumes))
	for _, vc := range n.cfg.Volumes {
		if v := n.vols[vc.Name]; v != nil {
			vols = append(vols, v)
		}
	}
	n.mu.Unlock()
	out := make([]VolumeStat, 0, len(vols))
	for _, v := range vols {
		st := VolumeStat{Name: v.cfg.Name, Size: int64(v.lu.Blocks()) * int64(v.cfg.BlockSize), Allocated: -1, Stats: v.lu.Stats()}
		if a, ok := v.store.(backend.Allocator); ok {
			if b, err := a.AllocatedBytes(); err == nil {
				st.Allocated = b
			}
		}
		out = append(out, st)
	}
	return out
}

// countReload counts a reload (SIGHUP, `halun reload`) by its outcome.
func (n *Node) countReload(err error) {
	if err != nil {
		n.reloadsFailed.Add(1)
	} else {
		n.reloadsOK.Add(1)
	}
}

// Reloads returns the reloads that applied and those refused since the
// node started.
func (n *Node) Reloads() (ok, failed uint64) { return n.reloadsOK.Load(), n.reloadsFailed.Load() }
