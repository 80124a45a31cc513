package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Keys in etcd.
const (
	prefix        = "/halun/v1/"
	volumesPrefix = prefix + "volumes/"
	nodesPrefix   = prefix + "nodes/"
)

func volumeKey(name string) string { return volumesPrefix + name }
func nodeKey(name string) string   { return nodesPrefix + name }

// Errors of the volume transactions; test them with errors.Is.
var (
	// ErrNoVolume: the volume has no record.
	ErrNoVolume = errors.New("no such volume")
	// ErrNotReplica: the node holds no replica of the volume.
	ErrNotReplica = errors.New("node is not a replica of the volume")
	// ErrNotInSync: the node's replica is not in sync; it cannot be
	// promoted (ForcePromote can, losing writes).
	ErrNotInSync = errors.New("replica is not in sync")
	// ErrPrimaryAlive: the volume has another primary whose node key
	// (its lease) still exists.
	ErrPrimaryAlive = errors.New("the primary is alive")
	// ErrConflict: the record changed between the read the decision was
	// based on and the transaction; read again and retry.
	ErrConflict = errors.New("the volume record changed concurrently")
	// ErrFenced: the caller is no longer the volume's primary at its
	// epoch. It must stop serving the volume at once.
	ErrFenced = errors.New("fenced: no longer the primary at this epoch")
	// ErrLastInSync: the node is the only replica in sync; Relinquish
	// leaves the decision to an operator.
	ErrLastInSync = errors.New("the only replica in sync")
)

// VolumeState is a replicated volume's record.
type VolumeState struct {
	// Primary is the node serving the volume; "" before the first
	// promotion.
	Primary string `json:"primary"`
	// Epoch goes up by one at every promotion; replication carries it
	// and replicas refuse lower ones.
	Epoch uint64 `json:"epoch"`
	// InSync are the replicas holding every acknowledged write; only
	// they may be promoted.
	InSync []string `json:"in_sync"`
	// Replicas are all the nodes holding a replica of the volume.
	Replicas []string `json:"replicas"`
	// Definition is what every node must agree on about the volume,
	// recorded by the node that created the record (DefinedBy).
	Definition Definition `json:"definition,omitempty"`
	DefinedBy  string     `json:"defined_by,omitempty"`
	// ID identifies the volume in this cluster, chosen at random when
	// the record is created: a copy of another volume (or of a volume of
	// the same name in another cluster) is known by it.
	ID string `json:"id,omitempty"`
	// ForcedAt is the epoch of the latest forced promotion (0: none): a
	// copy last written before it may hold acknowledged writes the
	// forced node never had, and is not resynced over until discarded.
	ForcedAt uint64 `json:"forced_at,omitempty"`
	// Diverged are the replicas the primary refused to resync: their
	// copies may hold acknowledged writes it lacks.
	Diverged []string `json:"diverged,omitempty"`
	// Discard are the replicas an operator allowed to be overwritten by
	// a full resync whatever their copies hold (halun cluster discard);
	// a replica leaves the list when it is back in sync.
	Discard []string `json:"discard,omitempty"`
}

// IsInSync says whether node is in the in-sync set.
func (s VolumeState) IsInSync(node string) bool { return slices.Contains(s.InSync, node) }

func (s VolumeState) clone() VolumeState {
	s.InSync = slices.Clone(s.InSync)
	s.Replicas = slices.Clone(s.Replicas)
	s.Definition = maps.Clone(s.Definition)
	s.Diverged = slices.Clone(s.Diverged)
	s.Discard = slices.Clone(s.Discard)
	return s
}

// IsDiverged says whether node's copy was refused as diverged.
func (s VolumeState) IsDiverged(node string) bool { return slices.Contains(s.Diverged, node) }

// IsDiscarded says whether an operator allowed node's copy to be
// overwritten.
func (s VolumeState) IsDiscarded(node string) bool { return slices.Contains(s.Discard, node) }

func without(list []string, node string) []string {
	return slices.DeleteFunc(list, func(r string) bool { return r == node })
}

func decodeState(name string, kv []byte) (VolumeState, error) {
	var s VolumeState
	if err := json.Unmarshal(kv, &s); err != nil {
		return VolumeState{}, fmt.Errorf("volume %s: damaged record: %w", name, err)
	}
	if s.InSync == nil {
		s.InSync = []string{}
	}
	if s.Replicas == nil {
		s.Replicas = []string{}
	}
	return s, nil
}

func encodeState(s VolumeState) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings and numbers only
	}
	return string(b)
}

// CreateVolume creates the record of volume name if it has none: no
// primary, epoch 0, every replica in sync, def as its definition. It
// returns the record as it is, created now or before; a record created
// before with other replicas or another definition is ErrDefinition,
// saying which fields differ.
func (c *Client) CreateVolume(ctx context.Context, name string, replicas []string, def Definition) (VolumeState, error) {
	if err := checkVolume(name); err != nil {
		return VolumeState{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	if len(replicas) == 0 {
		return VolumeState{}, fmt.Errorf("create volume %s: no replicas", name)
	}
	for i, r := range replicas {
		if err := checkNode(r); err != nil {
			return VolumeState{}, fmt.Errorf("create volume %s: %w", name, err)
		}
		if slices.Contains(replicas[:i], r) {
			return VolumeState{}, fmt.Errorf("create volume %s: replica %s given twice", name, r)
		}
	}
	var id [16]byte
	rand.Read(id[:])
	s := VolumeState{Epoch: 0, InSync: slices.Clone(replicas), Replicas: slices.Clone(replicas), ID: hex.EncodeToString(id[:]),
		Definition: def, DefinedBy: c.node}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	key := volumeKey(name)
	resp, err := c.etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, encodeState(s))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return VolumeState{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	if resp.Succeeded {
		c.log.Info("volume created", "volume", name, "replicas", replicas)
		return s, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return VolumeState{}, fmt.Errorf("create volume %s: %w", name, ErrConflict)
	}
	rec, err := decodeState(name, kvs[0].Value)
	if err != nil {
		return VolumeState{}, err
	}
	if err := checkDefinition(name, def, replicas, rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// Volume reads the record of volume name (a linearizable read) and its
// mod revision.
func (c *Client) Volume(ctx context.Context, name string) (VolumeState, int64, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	s, rev, err := c.volume(ctx, name)
	if err != nil {
		return VolumeState{}, 0, fmt.Errorf("read volume %s: %w", name, err)
	}
	return s, rev, nil
}

func (c *Client) volume(ctx context.Context, name string) (VolumeState, int64, error) {
	if err := checkVolume(name); err != nil {
		return VolumeState{}, 0, err
	}
	resp, err := c.etcd.Get(ctx, volumeKey(name))
	if err != nil {
		return VolumeState{}, 0, err
	}
	if len(resp.Kvs) == 0 {
		return VolumeState{}, 0, ErrNoVolume
	}
	s, err := decodeState(name, resp.Kvs[0].Value)
	return s, resp.Kvs[0].ModRevision, err
}

// putIf writes s as the record of name if its mod revision is still rev,
// and (if dead is not "") node dead has no key. It reports whether it
// wrote.
func (c *Client) putIf(ctx context.Context, name string, rev int64, dead string, s VolumeState) (bool, error) {
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(volumeKey(name)), "=", rev)}
	if dead != "" {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(nodeKey(dead)), "=", 0))
	}
	resp, err := c.etcd.Txn(ctx).If(cmps...).Then(clientv3.OpPut(volumeKey(name), encodeState(s))).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// Promote makes node the primary of volume name, in one transaction that
// succeeds only if node is in sync, the volume has no primary (or node
// is it already, or the primary's node key is gone: its lease expired),
// and the record has not changed since it was read. The epoch goes up by
// one. Otherwise the error is ErrNotInSync, ErrPrimaryAlive or
// ErrConflict (read again and retry). A lost primary it replaces leaves
// the in-sync set in the same transaction. Of nodes promoting at once,
// exactly one wins.
func (c *Client) Promote(ctx context.Context, name, node string) (VolumeState, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	fail := func(err error) (VolumeState, error) {
		return VolumeState{}, fmt.Errorf("promote %s to primary of volume %s: %w", node, name, err)
	}
	s, rev, err := c.volume(ctx, name)
	if err != nil {
		return fail(err)
	}
	if !s.IsInSync(node) {
		return fail(fmt.Errorf("%w (in sync: %v)", ErrNotInSync, s.InSync))
	}
	dead := ""
	if s.Primary != "" && s.Primary != node {
		dead = s.Primary
	}
	prev := s.Primary
	n := s.clone()
	n.Primary = node
	n.Epoch++
	if dead != "" {
		// The lost primary may hold writes it took but never
		// acknowledged: it leaves the in-sync set in the same
		// transaction and returns only through a full resync.
		n.InSync = slices.DeleteFunc(n.InSync, func(r string) bool { return r == dead })
	}
	ok, err := c.putIf(ctx, name, rev, dead, n)
	if err != nil {
		return fail(err)
	}
	if !ok {
		// Which guard failed? If the record is unchanged, the primary's
		// key exists.
		if _, now, err := c.volume(ctx, name); err == nil && now == rev && dead != "" {
			return fail(fmt.Errorf("%w: %s holds epoch %d", ErrPrimaryAlive, dead, s.Epoch))
		}
		return fail(ErrConflict)
	}
	c.log.Info("volume primary promoted", "volume", name, "primary", node, "previous", prev, "epoch", n.Epoch)
	return n, nil
}

// ForcePromote makes node primary of volume name even if its replica is
// not in sync, for disaster recovery when no in-sync replica survives:
// the epoch goes up by one and node becomes the only replica in sync.
// Writes acknowledged by the previous primary that node does not have
// are lost, and the other replicas must resync from node. It does not
// check that the previous primary is gone: the operator must make sure.
func (c *Client) ForcePromote(ctx context.Context, name, node string) (VolumeState, error) {
	return c.update(ctx, "force "+node+" to primary of volume "+name, name, func(s VolumeState) (VolumeState, error) {
		if !slices.Contains(s.Replicas, node) {
			return VolumeState{}, fmt.Errorf("%w (replicas: %v)", ErrNotReplica, s.Replicas)
		}
		s.Primary = node
		s.Epoch++
		s.InSync = []string{node}
		s.ForcedAt = s.Epoch
		s.Diverged = without(s.Diverged, node)
		return s, nil
	}, func(n VolumeState) {
		c.log.Warn("volume primary forced: writes the node missed are lost", "volume", name, "primary", node, "epoch", n.Epoch)
	})
}

// OutOfSync removes replica from the in-sync set of volume name, as its
// primary at epoch: only if the record still names primary at epoch.
// Otherwise the error is ErrFenced and the caller must stop serving.
// Removing a replica that is not in sync is not an error.
func (c *Client) OutOfSync(ctx context.Context, name, primary string, epoch uint64, replica string) error {
	what := fmt.Sprintf("mark replica %s of volume %s out of sync (primary %s, epoch %d)", replica, name, primary, epoch)
	if replica == primary {
		return fmt.Errorf("%s: the primary cannot be out of sync with itself", what)
	}
	_, err := c.update(ctx, what, name, func(s VolumeState) (VolumeState, error) {
		if err := fenced(s, primary, epoch); err != nil {
			return VolumeState{}, err
		}
		if !s.IsInSync(replica) {
			return s, errUnchanged
		}
		s.InSync = without(s.InSync, replica)
		return s, nil
	}, func(VolumeState) {
		c.log.Warn("replica out of sync", "volume", name, "replica", replica, "primary", primary, "epoch", epoch)
	})
	return err
}

// BackInSync adds replica back to the in-sync set of volume name once it
// has resynchronised, as its primary at epoch, under the same guard as
// OutOfSync.
func (c *Client) BackInSync(ctx context.Context, name, primary string, epoch uint64, replica string) error {
	what := fmt.Sprintf("mark replica %s of volume %s in sync (primary %s, epoch %d)", replica, name, primary, epoch)
	_, err := c.update(ctx, what, name, func(s VolumeState) (VolumeState, error) {
		if err := fenced(s, primary, epoch); err != nil {
			return VolumeState{}, err
		}
		if !slices.Contains(s.Replicas, replica) {
			return VolumeState{}, fmt.Errorf("%w (replicas: %v)", ErrNotReplica, s.Replicas)
		}
		if s.IsInSync(replica) && !s.IsDiverged(replica) && !s.IsDiscarded(replica) {
			return s, errUnchanged
		}
		s.Diverged = without(s.Diverged, replica)
		s.Discard = without(s.Discard, replica)
		// Keep the in-sync set in the order of the replicas.
		var in []string
		for _, r := range s.Replicas {
			if r == replica || s.IsInSync(r) {
				in = append(in, r)
			}
		}
		s.InSync = in
		return s, nil
	}, func(VolumeState) {
		c.log.Info("replica back in sync", "volume", name, "replica", replica, "primary", primary, "epoch", epoch)
	})
	return err
}

// OutOfSyncFunc is the OutOfSync callback of a replicated volume's
// primary (replication.Options.OutOfSync) in a cluster: it removes the
// replica from the in-sync set of volume name as primary at epoch,
// waiting at most timeout (0 means DefaultRequestTimeout). An error —
// ErrFenced, or etcd unreachable — means the primary must acknowledge
// nothing more.
func (c *Client) OutOfSyncFunc(name, primary string, epoch uint64, timeout time.Duration) func(replica string, cause error) error {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	return func(replica string, cause error) error {
		c.log.Warn("replica failed", "volume", name, "replica", replica, "cause", cause)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return c.OutOfSync(ctx, name, primary, epoch, replica)
	}
}

func fenced(s VolumeState, primary string, epoch uint64) error {
	if s.Primary != primary || s.Epoch != epoch {
		return fmt.Errorf("%w: the volume's primary is %q at epoch %d", ErrFenced, s.Primary, s.Epoch)
	}
	return nil
}

// errUnchanged tells update that the record already is as wanted.
var errUnchanged = errors.New("unchanged")

// update reads the record of name, asks change for the new one, and
// writes it if the record is unchanged since the read, retrying with a
// fresh read while it changes concurrently (bounded by ctx).
func (c *Client) update(ctx context.Context, what, name string, change func(VolumeState) (VolumeState, error), done func(VolumeState)) (VolumeState, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 100*time.Millisecond) {
		s, rev, err := c.volume(ctx, name)
		if err != nil {
			return VolumeState{}, fmt.Errorf("%s: %w", what, err)
		}
		n, err := change(s.clone())
		if errors.Is(err, errUnchanged) {
			return s, nil
		}
		if err != nil {
			return VolumeState{}, fmt.Errorf("%s: %w", what, err)
		}
		ok, err := c.putIf(ctx, name, rev, "", n)
		if err != nil {
			return VolumeState{}, fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			done(n)
			return n, nil
		}
		select {
		case <-ctx.Done():
			return VolumeState{}, fmt.Errorf("%s: %w: %w", what, ErrConflict, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// WatchVolume sends the record of volume name as it is (if it exists),
// then every new version of it in order — including its creation — until
// ctx ends, when the channel is closed. Each version waits for the
// receiver. While etcd is unreachable or without a leader nothing is
// sent; the watch then resumes with the record as it is, so versions
// written in the meantime may be skipped, never reordered.
func (c *Client) WatchVolume(ctx context.Context, name string) <-chan VolumeState {
	ch := make(chan VolumeState)
	if err := checkVolume(name); err != nil {
		c.log.Error("watch volume", "err", err)
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		var rev int64 // mod revision of the last version sent
		send := func(s VolumeState, r int64) bool {
			if r <= rev {
				return true
			}
			select {
			case ch <- s:
				rev = r
				return true
			case <-ctx.Done():
				return false
			}
		}
		for backoff := 50 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 2*time.Second) {
			// Read, then watch from the revision after the read, so
			// that nothing written in between is missed.
			rctx, cancel := c.bound(ctx)
			resp, err := c.etcd.Get(rctx, volumeKey(name))
			cancel()
			if err != nil {
				c.log.Debug("watch volume: read failed", "volume", name, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				continue
			}
			if len(resp.Kvs) == 1 {
				if s, err := decodeState(name, resp.Kvs[0].Value); err != nil {
					c.log.Error("watch volume: damaged record", "volume", name, "err", err)
				} else if !send(s, resp.Kvs[0].ModRevision) {
					return
				}
			}
			opts := []clientv3.OpOption{clientv3.WithRev(resp.Header.Revision + 1)}
			wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for wr := range c.etcd.Watch(wctx, volumeKey(name), opts...) {
				if err := wr.Err(); err != nil {
					c.log.Debug("watch volume: watch ended", "volume", name, "err", err)
					break
				}
				for _, ev := range wr.Events {
					if ev.Type != clientv3.EventTypePut {
						continue
					}
					s, err := decodeState(name, ev.Kv.Value)
					if err != nil {
						c.log.Error("watch volume: damaged record", "volume", name, "err", err)
						continue
					}
					if !send(s, ev.Kv.ModRevision) {
						wcancel()
						return
					}
				}
				backoff = 50 * time.Millisecond
			}
			wcancel()
			select { // the watch ended (no leader, compaction): read again
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}()
	return ch
}

// Volumes returns every volume record.
func (c *Client) Volumes(ctx context.Context) (map[string]VolumeState, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, volumesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("coord: listing volumes: %w", err)
	}
	out := make(map[string]VolumeState, len(r.Kvs))
	for _, kv := range r.Kvs {
		var s VolumeState
		if err := json.Unmarshal(kv.Value, &s); err != nil {
			return nil, fmt.Errorf("coord: volume record %s: %w", kv.Key, err)
		}
		out[strings.TrimPrefix(string(kv.Key), volumesPrefix)] = s
	}
	return out, nil
}

// AliveNodes returns the nodes holding a live lease.
func (c *Client) AliveNodes(ctx context.Context) ([]string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, nodesPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("coord: listing nodes: %w", err)
	}
	var out []string
	for _, kv := range r.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), nodesPrefix))
	}
	return out, nil
}
