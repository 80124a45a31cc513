package coord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// While a primary resyncs an out-of-sync replica it records the progress
// at /halun/v1/resync/<volume>/<replica>, attached to its node's lease:
// the record vanishes with the primary, and the primary deletes it when
// the resync ends, done or not.

const resyncPrefix = prefix + "resync/"

func resyncKey(volume, replica string) string { return resyncPrefix + volume + "/" + replica }

// ResyncProgress is one replica's resync as its primary last recorded it.
type ResyncProgress struct {
	// TotalBytes is what the resync has to copy: what it copied plus
	// what is left.
	TotalBytes     int64 `json:"total_bytes"`
	CopiedBytes    int64 `json:"copied_bytes"`
	RemainingBytes int64 `json:"remaining_bytes"`
	// BytesPerSec is the copy rate since the resync started.
	BytesPerSec float64   `json:"bytes_per_sec"`
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`
	// ETASeconds is RemainingBytes at BytesPerSec; -1 while no rate is
	// known.
	ETASeconds float64 `json:"eta_seconds"`
}

// PutResync records p as the progress of volume's resync of replica,
// attached to lease (the primary's node lease).
func (c *Client) PutResync(ctx context.Context, lease *Lease, volume, replica string, p ResyncProgress) error {
	if err := checkResync(volume, replica); err != nil {
		return fmt.Errorf("coord: record resync progress: %w", err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("coord: record resync progress of %s on %s: %w", volume, replica, err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := c.etcd.Put(ctx, resyncKey(volume, replica), string(b), clientv3.WithLease(lease.id)); err != nil {
		return fmt.Errorf("coord: record resync progress of %s on %s: %w", volume, replica, err)
	}
	return nil
}

// DeleteResync removes the progress record of volume's resync of
// replica, if any.
func (c *Client) DeleteResync(ctx context.Context, volume, replica string) error {
	if err := checkResync(volume, replica); err != nil {
		return fmt.Errorf("coord: delete resync progress: %w", err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := c.etcd.Delete(ctx, resyncKey(volume, replica)); err != nil {
		return fmt.Errorf("coord: delete resync progress of %s on %s: %w", volume, replica, err)
	}
	return nil
}

// Resyncs returns every resync in progress, by volume and replica.
func (c *Client) Resyncs(ctx context.Context) (map[string]map[string]ResyncProgress, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, resyncPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("coord: listing resyncs: %w", err)
	}
	out := map[string]map[string]ResyncProgress{}
	for _, kv := range r.Kvs {
		volume, replica, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), resyncPrefix), "/")
		if !ok {
			return nil, fmt.Errorf("coord: resync record %s: not <volume>/<replica>", kv.Key)
		}
		var p ResyncProgress
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			return nil, fmt.Errorf("coord: resync record %s: %w", kv.Key, err)
		}
		if out[volume] == nil {
			out[volume] = map[string]ResyncProgress{}
		}
		out[volume][replica] = p
	}
	return out, nil
}

func checkResync(volume, replica string) error {
	if err := checkVolume(volume); err != nil {
		return err
	}
	return checkNode(replica)
}
