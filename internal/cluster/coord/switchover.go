package coord

import (
	"context"
	"fmt"
	"slices"
)

// A planned switchover moves a volume's primary to another in-sync node
// without an error reaching a multipath initiator: an operator records a
// request (/halun/v1/switchover/<name> = the new primary), the current
// primary stops taking commands, syncs, and hands the volume over in one
// transaction (HandOver), and the new primary promotes itself as usual.

const switchoverPrefix = prefix + "switchover/"

func switchoverKey(name string) string { return switchoverPrefix + name }

// RequestSwitchover asks volume name's primary to hand it to node, which
// must be in sync.
func (c *Client) RequestSwitchover(ctx context.Context, name, node string) error {
	st, _, err := c.Volume(ctx, name)
	if err != nil {
		return err
	}
	if !st.IsInSync(node) {
		return fmt.Errorf("coord: volume %s: %w: %s (in sync: %v)", name, ErrNotInSync, node, st.InSync)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := c.etcd.Put(ctx, switchoverKey(name), node); err != nil {
		return fmt.Errorf("coord: volume %s: requesting a switchover: %w", name, err)
	}
	return nil
}

// Switchover returns the node a switchover of volume name was requested
// to, "" if none.
func (c *Client) Switchover(ctx context.Context, name string) (string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, switchoverKey(name))
	if err != nil {
		return "", fmt.Errorf("coord: volume %s: reading the switchover request: %w", name, err)
	}
	if len(r.Kvs) == 0 {
		return "", nil
	}
	return string(r.Kvs[0].Value), nil
}

// HandOver makes target volume name's primary, at epoch + 1, guarded by
// primary and epoch (ErrFenced otherwise), and removes the switchover
// request. The caller has stopped serving and synced the volume.
func (c *Client) HandOver(ctx context.Context, name, primary string, epoch uint64, target string) (VolumeState, error) {
	st, err := c.update(ctx, "hand over", name, func(s VolumeState) (VolumeState, error) {
		if err := fenced(s, primary, epoch); err != nil {
			return s, err
		}
		if !slices.Contains(s.InSync, target) {
			return s, fmt.Errorf("%w: %s", ErrNotInSync, target)
		}
		s.Primary = target
		s.Epoch++
		return s, nil
	}, func(VolumeState) {})
	if err != nil {
		return st, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := c.etcd.Delete(ctx, switchoverKey(name)); err != nil {
		return st, fmt.Errorf("coord: volume %s: clearing the switchover request: %w", name, err)
	}
	return st, nil
}
