package server

import (
	"time"

	"github.com/halun/halun/internal/admin"
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
	// Sanitize is the volume's running SANITIZE's progress (0 to 1), if
	// one runs.
	Sanitize func() (float64, bool)
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
		st := VolumeStat{Name: v.cfg.Name, Size: int64(v.lu.Blocks()) * int64(v.cfg.BlockSize), Allocated: -1, Stats: v.lu.Stats(),
			Sanitize: v.lu.SanitizeProgress}
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

// Stats are the volumes' counters now, for `halun status`.
func (n *Node) Stats() admin.Stats {
	out := admin.Stats{Time: time.Now(), BufferedBytes: n.Server.BufferStats().Used}
	for _, v := range n.VolumeStats() {
		vs := admin.VolumeStats{Name: v.Name, Size: v.Size, Allocated: v.Allocated,
			Commands: map[string]uint64{}, Seconds: map[string]float64{},
			ReadBytes: v.Stats.Class[scsi.StatRead].Bytes, WrittenBytes: v.Stats.Class[scsi.StatWrite].Bytes}
		for c := range scsi.NumStatClasses {
			vs.Commands[c.String()] = v.Stats.Class[c].Commands
			vs.Seconds[c.String()] = v.Stats.Class[c].Seconds
		}
		for _, x := range v.Stats.SenseKeys {
			vs.CheckConditions += x
		}
		if p, ok := v.Sanitize(); ok {
			vs.Sanitize = &p
		}
		out.Volumes = append(out.Volumes, vs)
	}
	return out
}
