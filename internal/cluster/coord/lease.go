package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Lease is a node's liveness in etcd: an etcd lease, kept alive, with the
// node's key /halun/v1/nodes/<node> attached. While the key exists no
// other node can promote itself over this node's volumes.
//
// Lost fires when the lease may no longer be alive: at Deadline at the
// latest if no keep-alive succeeds (etcd unreachable, no quorum), at once
// if etcd says the lease has expired, and when the keep-alive stops
// (its context ends, Close). A primary must stop serving when Lost fires
// — and, not to depend on being scheduled in time, must not acknowledge
// anything after Deadline by its own clock. Once lost, a Lease is never
// renewed: the node takes a new one with KeepAlive.
type Lease struct {
	c      *Client
	id     clientv3.LeaseID
	node   string
	ttl    time.Duration
	margin time.Duration
	log    *slog.Logger

	mu       sync.Mutex
	deadline time.Time

	lost      chan struct{}
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// nodeRecord is the value of a node key.
type nodeRecord struct {
	Lease string `json:"lease"`
}

// KeepAlive grants a lease of ttl (rounded up to whole seconds; etcd may
// grant more, see Lease.TTL), puts the node's key attached to it, and
// keeps it alive until ctx ends — then it expires in etcd after its TTL
// — or Close revokes it. The grant and put are bounded by ctx's deadline
// or DefaultRequestTimeout; ctx is meant to live as long as the node.
func (c *Client) KeepAlive(ctx context.Context, node string, ttl time.Duration) (*Lease, error) {
	if err := checkNode(node); err != nil {
		return nil, fmt.Errorf("keep node %s alive: %w", node, err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("keep node %s alive: TTL %v is not positive", node, ttl)
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	rctx, cancel := c.bound(ctx)
	defer cancel()
	sent := time.Now()
	g, err := c.etcd.Grant(rctx, secs)
	if err != nil {
		return nil, fmt.Errorf("keep node %s alive: grant a %d s lease: %w", node, secs, err)
	}
	val, err := json.Marshal(nodeRecord{Lease: fmt.Sprintf("%016x", int64(g.ID))})
	if err != nil {
		return nil, fmt.Errorf("keep node %s alive: %w", node, err)
	}
	if _, err := c.etcd.Put(rctx, nodeKey(node), string(val), clientv3.WithLease(g.ID)); err != nil {
		c.revoke(g.ID, time.Duration(g.TTL)*time.Second)
		return nil, fmt.Errorf("keep node %s alive: put %s: %w", node, nodeKey(node), err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	l := &Lease{
		c:      c,
		id:     g.ID,
		node:   node,
		ttl:    time.Duration(g.TTL) * time.Second,
		log:    c.log.With("node", node, "lease", fmt.Sprintf("%016x", int64(g.ID))),
		lost:   make(chan struct{}),
		cancel: lcancel,
		done:   make(chan struct{}),
	}
	l.margin = l.ttl / marginDiv
	l.deadline = sent.Add(l.ttl - l.margin)
	l.log.Info("node lease granted", "ttl", l.ttl)
	go l.run(lctx)
	return l, nil
}

// ID is the etcd lease ID.
func (l *Lease) ID() int64 { return int64(l.id) }

// TTL is the lease's TTL as etcd granted it.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Deadline is when this node must consider the lease gone, by its own
// clock: the time the last successful keep-alive (or the grant) was sent,
// plus the TTL, minus an eighth of the TTL as margin. etcd cannot expire
// the lease before then.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// Lost is closed when the lease is no longer kept alive.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Close stops the keep-alive and revokes the lease, which deletes the
// node key at once (so a replica may promote without waiting for the
// TTL). It waits at most a TTL for etcd: if the revoke fails, the lease
// expires after its TTL anyway.
func (l *Lease) Close() error {
	l.closeOnce.Do(func() {
		l.cancel()
		<-l.done
		if err := l.c.revoke(l.id, l.ttl); err != nil {
			l.closeErr = fmt.Errorf("revoke the lease of node %s: %w", l.node, err)
			return
		}
		l.log.Info("node lease revoked")
	})
	return l.closeErr
}

// revoke revokes lease id, waiting at most timeout: once its TTL has
// passed, the lease has expired anyway.
func (c *Client) revoke(id clientv3.LeaseID, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := c.etcd.Revoke(ctx, id)
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return nil
	}
	return err
}

// Keep-alive timing, as fractions of the TTL and a retry delay. A
// keep-alive needs etcd's leader, so when the leader is lost it fails
// until an election ends; the lease itself does not end with it (a new
// leader extends every lease), but this node's deadline, counted from
// its last keep-alive, does. The keep-alives are therefore frequent and
// retried quickly, and the margin small, so that the deadline outlasts an
// election: with a 2 s TTL and the members' 500 ms election timeout
// (DefaultElectionTimeout), the last keep-alive is at most 250 ms old
// when the leader dies, its successor is elected within 1 s (raft's
// randomized timeout is below two election timeouts), the next attempt
// follows within 50 ms, and the deadline is 1.75 s after the last
// keep-alive. The margin covers what runs between the deadline and the
// successor serving: etcd expires the lease a TTL after it received the
// keep-alive, later than it was sent, and the successor then still has
// to see it expired, win its promotion and reach the replicas.
const (
	intervalDiv = 8
	marginDiv   = 8
	retryEvery  = 50 * time.Millisecond
)

// run keeps the lease alive, one keep-alive every eighth of the TTL and a
// retry soon after one fails, and closes lost when it stops.
func (l *Lease) run(ctx context.Context) {
	defer close(l.done)
	defer close(l.lost)
	interval := l.ttl / intervalDiv
	next := time.NewTimer(interval)
	defer next.Stop()
	expiry := time.NewTimer(time.Until(l.Deadline()))
	defer expiry.Stop()
	for {
		select {
		case <-ctx.Done():
			l.log.Info("node lease no longer kept alive", "cause", context.Cause(ctx))
			return
		case <-expiry.C:
			l.log.Warn("node lease lost: no keep-alive succeeded before the deadline")
			return
		case <-next.C:
		}
		sent := time.Now()
		deadline := l.Deadline()
		attemptEnd := sent.Add(interval)
		if deadline.Before(attemptEnd) {
			attemptEnd = deadline
		}
		actx, cancel := context.WithDeadline(clientv3.WithRequireLeader(ctx), attemptEnd)
		resp, err := l.c.etcd.KeepAliveOnce(actx, l.id)
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && resp.TTL <= 0):
			l.log.Warn("node lease lost: etcd says it expired")
			return
		case err != nil:
			if ctx.Err() != nil {
				continue // reported by the select
			}
			if time.Now().After(deadline) {
				l.log.Warn("node lease lost: no keep-alive succeeded before the deadline", "err", err)
				return
			}
			l.log.Debug("node lease keep-alive failed", "err", err)
			next.Reset(retryEvery)
			continue
		}
		d := sent.Add(time.Duration(resp.TTL)*time.Second - l.margin)
		l.mu.Lock()
		l.deadline = d
		l.mu.Unlock()
		expiry.Reset(time.Until(d))
		next.Reset(max(0, interval-time.Since(sent)))
	}
}

// Alive reports whether node's key exists: the node holds a lease it
// keeps alive. Promote decides for itself; this only spares a
// transaction while a primary is alive.
func (c *Client) Alive(ctx context.Context, node string) (bool, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	r, err := c.etcd.Get(ctx, nodeKey(node), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("coord: node %s: %w", node, err)
	}
	return r.Count > 0, nil
}
