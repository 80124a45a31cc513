package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/config"
)

// drainPoll is how often Drain reads the volume records while it waits
// for the switchovers.
const drainPoll = 100 * time.Millisecond

// DrainResult is what Drain did with one volume whose primary was the
// drained node.
type DrainResult struct {
	Volume string `json:"volume"`
	// To is the node asked to take the volume over, "" if none could.
	To string `json:"to,omitempty"`
	// Primary is the volume's primary when Drain returned.
	Primary string `json:"primary"`
	Moved   bool   `json:"moved"`
	// Problem says why the volume did not move.
	Problem string `json:"problem,omitempty"`
}

// Drain moves the primary of every volume whose primary is node to
// another in-sync replica holding a live lease — of those, the one that
// is primary of the fewest volumes, so the load spreads — by planned
// switchovers (as Promote does), and waits until every record names its
// new primary or ctx ends. A volume with no such replica is not moved.
// The error lists every volume not moved; the results say, per volume,
// what happened. A switchover requested but not done when ctx ends stays
// requested: its primary hands the volume over when it can.
//
// Nothing moves the volumes back: a node promotes itself only when a
// volume has no primary or its primary's lease is gone, so the drained
// node stays a replica — until the new primary fails, when it may be
// promoted like any in-sync replica.
func Drain(ctx context.Context, cfg *config.Config, node string) ([]DrainResult, error) {
	if cfg.Cluster == nil || !slices.Contains(cfg.Cluster.NodeNames(), node) {
		return nil, fmt.Errorf("cluster drain: %q is not a storage node of the cluster in %s", node, cfg.Source)
	}
	c, err := dialFromConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	vols, err := c.Volumes(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster drain %s: %w", node, err)
	}
	alive, err := c.AliveNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster drain %s: %w", node, err)
	}
	load := map[string]int{}
	var names []string
	for name, st := range vols {
		load[st.Primary]++
		if st.Primary == node {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	results := make([]DrainResult, len(names))
	for i, name := range names {
		st := vols[name]
		r := &results[i]
		r.Volume, r.Primary = name, st.Primary
		target := drainTarget(st, node, alive, load)
		if target == "" {
			r.Problem = fmt.Sprintf("no other in-sync replica holds a live lease (in sync: %s; alive: %s)",
				strings.Join(st.InSync, ","), strings.Join(alive, ","))
			continue
		}
		if err := c.RequestSwitchover(ctx, name, target); err != nil {
			r.Problem = err.Error()
			continue
		}
		r.To = target
		load[target]++
	}
	waitDrained(ctx, c, node, results)
	var stuck []string
	for _, r := range results {
		if !r.Moved {
			stuck = append(stuck, r.Volume+" ("+r.Problem+")")
		}
	}
	if len(stuck) > 0 {
		return results, fmt.Errorf("cluster drain %s: %d of %d volumes not moved: %s", node, len(stuck), len(results), strings.Join(stuck, "; "))
	}
	return results, nil
}

// drainTarget picks the node to take over volume st from node: an
// in-sync replica other than node holding a live lease, the one that is
// primary of the fewest volumes (load), the first in the in-sync set on
// a tie; "" if there is none.
func drainTarget(st coord.VolumeState, node string, alive []string, load map[string]int) string {
	best := ""
	for _, r := range st.InSync {
		if r == node || !slices.Contains(alive, r) {
			continue
		}
		if best == "" || load[r] < load[best] {
			best = r
		}
	}
	return best
}

// waitDrained reads the records until every volume asked to move has a
// primary other than node, or ctx ends, and fills in the results.
func waitDrained(ctx context.Context, c *coord.Client, node string, results []DrainResult) {
	for {
		pending := false
		vols, err := c.Volumes(ctx)
		for i := range results {
			r := &results[i]
			if r.To == "" || r.Moved {
				continue
			}
			if err == nil {
				st := vols[r.Volume]
				r.Primary = st.Primary
				r.Moved = st.Primary != node && st.Primary != ""
			}
			pending = pending || !r.Moved
		}
		if !pending {
			return
		}
		select {
		case <-ctx.Done():
			for i := range results {
				if r := &results[i]; r.To != "" && !r.Moved {
					r.Problem = fmt.Sprintf("switchover to %s requested, not done in time (the request stays)", r.To)
				}
			}
			return
		case <-time.After(drainPoll):
		}
	}
}
