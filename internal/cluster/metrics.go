package cluster

import "slices"

// VolumeMetrics is what the metrics endpoint reports of one replicated
// volume on this node.
type VolumeMetrics struct {
	Volume  string
	Primary bool   // this node is the volume's primary
	Epoch   uint64 // the epoch this node serves (as primary) or last took
	// Replicas are the other copies as the primary sees them; empty on
	// a node that is not the volume's primary.
	Replicas []ReplicaMetrics
	// ResyncedBytes counts the bytes this node copied to resyncing
	// replicas as primary; Promotions the times it became primary.
	ResyncedBytes uint64
	Promotions    uint64
}

// ReplicaMetrics is one replica of a volume, from its primary.
type ReplicaMetrics struct {
	Node   string
	InSync bool // every write reaches it before it is acknowledged
	// DirtyBytes are the bytes it lacks (its bitmap): how far it lags.
	DirtyBytes int64
	Resyncing  bool
}

// Metrics returns the replication state of this node's volumes, in name
// order.
func (n *Node) Metrics() []VolumeMetrics {
	out := make([]VolumeMetrics, 0, len(n.vols))
	for _, v := range n.vols {
		out = append(out, v.metrics())
	}
	slices.SortFunc(out, func(a, b VolumeMetrics) int {
		switch {
		case a.Volume < b.Volume:
			return -1
		case a.Volume > b.Volume:
			return 1
		}
		return 0
	})
	return out
}

func (v *volume) metrics() VolumeMetrics {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := VolumeMetrics{Volume: v.cfg.Name, Primary: v.primary != nil, Epoch: v.epoch,
		ResyncedBytes: v.resynced.Load(), Promotions: v.promotions.Load()}
	if v.primary == nil {
		return m
	}
	inSync := v.primary.InSync()
	for _, r := range v.cfg.Replicas {
		if r == v.n.self {
			continue
		}
		rm := ReplicaMetrics{Node: r, InSync: slices.Contains(inSync, r), Resyncing: v.resyncs[r]}
		if bm := v.bitmaps[r]; bm != nil {
			rm.DirtyBytes = bm.DirtyBytes()
		}
		m.Replicas = append(m.Replicas, rm)
	}
	return m
}
