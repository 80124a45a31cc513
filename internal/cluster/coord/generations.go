package coord

import (
	"context"
	"fmt"
	"slices"
)

// The volume record's part in deciding how a replica is resynced: which
// copies the primary refused as diverged, which an operator discarded,
// and a node giving up its place in the in-sync set when its copy is
// found new (wiped, replaced). See replication.Decide.

// MarkDiverged records, as volume name's primary at epoch (ErrFenced
// otherwise), that replica's copy was refused as diverged.
func (c *Client) MarkDiverged(ctx context.Context, name, primary string, epoch uint64, replica string) error {
	what := fmt.Sprintf("mark replica %s of volume %s diverged (primary %s, epoch %d)", replica, name, primary, epoch)
	_, err := c.update(ctx, what, name, func(s VolumeState) (VolumeState, error) {
		if err := fenced(s, primary, epoch); err != nil {
			return VolumeState{}, err
		}
		if s.IsDiverged(replica) {
			return s, errUnchanged
		}
		s.Diverged = append(s.Diverged, replica)
		return s, nil
	}, func(VolumeState) {
		c.log.Error("replica diverged: not resynced until discarded", "volume", name, "replica", replica, "primary", primary, "epoch", epoch)
	})
	return err
}

// Discard allows volume name's primary to overwrite node's copy with a
// full resync, whatever it holds (an operator's decision, for a copy
// refused as diverged). The node must be a replica other than the
// primary.
func (c *Client) Discard(ctx context.Context, name, node string) (VolumeState, error) {
	return c.update(ctx, "discard the copy of "+node+" of volume "+name, name, func(s VolumeState) (VolumeState, error) {
		if !slices.Contains(s.Replicas, node) {
			return VolumeState{}, fmt.Errorf("%w (replicas: %v)", ErrNotReplica, s.Replicas)
		}
		if s.Primary == node {
			return VolumeState{}, fmt.Errorf("%s is the primary: promote another node first", node)
		}
		if s.IsDiscarded(node) {
			return s, errUnchanged
		}
		s.Discard = append(s.Discard, node)
		s.Diverged = without(s.Diverged, node)
		return s, nil
	}, func(VolumeState) {
		c.log.Warn("replica discarded: the primary overwrites it with a full resync", "volume", name, "replica", node)
	})
}

// Relinquish takes node out of volume name's in-sync set, and out of the
// primary's place if the record names it, because its copy was found new
// (wiped or replaced) at start: it holds none of the writes the record
// says it has. It refuses with ErrLastInSync when node is the only
// replica in sync: an operator decides then (halun cluster promote
// --force). It returns the record as written.
func (c *Client) Relinquish(ctx context.Context, name, node string) (VolumeState, error) {
	return c.update(ctx, "take "+node+" out of volume "+name+"'s in-sync set (its copy is new)", name, func(s VolumeState) (VolumeState, error) {
		if !s.IsInSync(node) {
			return s, errUnchanged
		}
		if len(s.InSync) == 1 {
			return VolumeState{}, fmt.Errorf("%w: %s is the only replica in sync, and its copy is new: the volume's data is lost unless an out-of-sync replica holds it; choose with halun cluster promote --force", ErrLastInSync, node)
		}
		s.InSync = without(s.InSync, node)
		if s.Primary == node {
			s.Primary = ""
		}
		return s, nil
	}, func(n VolumeState) {
		c.log.Warn("replica gave up its place in the in-sync set: its copy is new", "volume", name, "replica", node, "in_sync", n.InSync)
	})
}
