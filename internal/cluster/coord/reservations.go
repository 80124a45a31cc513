package coord

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Persistent reservations of a replicated volume live in etcd, one key per
// volume, /halun/v1/reservations/<name>, holding the reservation state as
// the primary encoded it. The primary writes it after every change, in the
// order it applies them, in a transaction that also checks the volume's
// record still names it primary at its epoch: a deposed primary cannot
// overwrite what its successor serves. A promoted node reads it before
// it serves, so a reservation held before a failover is held after it.

const reservationsPrefix = prefix + "reservations/"

func reservationsKey(name string) string { return reservationsPrefix + name }

// SaveReservations records volume name's reservation state, guarded by
// primary and epoch (ErrFenced when the record moved on).
func (c *Client) SaveReservations(ctx context.Context, name, primary string, epoch uint64, state []byte) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	for {
		st, rev, err := c.volume(ctx, name)
		if err != nil {
			return err
		}
		if err := fenced(st, primary, epoch); err != nil {
			return err
		}
		resp, err := c.etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(volumeKey(name)), "=", rev)).
			Then(clientv3.OpPut(reservationsKey(name), string(state))).Commit()
		if err != nil {
			return fmt.Errorf("coord: volume %s: saving reservations: %w", name, err)
		}
		if resp.Succeeded {
			return nil
		}
		// The record changed (another replica in or out of sync): check
		// again that this node is still primary.
	}
}

// Reservations returns volume name's recorded reservation state, nil when
// none was recorded.
func (c *Client) Reservations(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, reservationsKey(name))
	if err != nil {
		return nil, fmt.Errorf("coord: volume %s: reading reservations: %w", name, err)
	}
	if len(r.Kvs) == 0 {
		return nil, nil
	}
	return r.Kvs[0].Value, nil
}
