package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/halun/halun/internal/cluster/pki"
)

// DefaultRequestTimeout bounds a call whose context has no deadline:
// without quorum etcd would otherwise keep it waiting forever.
const DefaultRequestTimeout = 5 * time.Second

// Client talks to the cluster's etcd over mutual TLS.
type Client struct {
	etcd *clientv3.Client
	node string
	log  *slog.Logger
}

// DialOption changes how Dial connects.
type DialOption func(*dialOptions)

type dialOptions struct {
	log *slog.Logger
}

// WithLogger sends the client's records (and the etcd client's errors)
// to log.
func WithLogger(log *slog.Logger) DialOption {
	return func(o *dialOptions) { o.log = log }
}

// Dial connects to etcd at endpoints (https://host:port or host:port)
// with id's certificate, and checks, within ctx, that one of them answers
// — a serializable read, which needs no quorum, so that a node can dial
// while the cluster is still forming. The server must present a
// certificate of id's cluster (chain to the cluster CA and halun URI SAN,
// as pki.Identity.ClientTLS checks); which node it is, and the address
// dialled, play no part, as in every halun cluster link.
func Dial(ctx context.Context, endpoints []string, id *pki.Identity, opts ...DialOption) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("dial etcd: no endpoints")
	}
	if id == nil {
		return nil, errors.New("dial etcd: no node identity")
	}
	var o dialOptions
	for _, opt := range opts {
		opt(&o)
	}
	log := o.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		TLS:                  id.ClientTLS(""),
		DialTimeout:          DefaultRequestTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		Logger:               zapToSlog(log, "etcd-client"),
	})
	if err != nil {
		return nil, fmt.Errorf("dial etcd at %v: %w", endpoints, err)
	}
	c := &Client{etcd: cli, node: id.Name, log: log}
	rctx, cancel := c.bound(ctx)
	defer cancel()
	if _, err := cli.Get(rctx, prefix, clientv3.WithSerializable(), clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("dial etcd at %v: %w", endpoints, err)
	}
	return c, nil
}

// Close closes the connections. Leases the client keeps alive stop being
// kept alive (they expire in etcd after their TTL).
func (c *Client) Close() error {
	if err := c.etcd.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd client: %w", err)
	}
	return nil
}

// bound gives ctx a deadline of DefaultRequestTimeout if it has none.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultRequestTimeout)
}

// memberProbeTimeout bounds a status request to one member: a member
// that is up answers one in milliseconds, and one that is starting (it
// accepts connections before it serves) must not hold its caller —
// halun cluster status — for the caller's whole deadline.
const memberProbeTimeout = time.Second

// Healthy reports whether the etcd member serving endpoint (a client URL)
// answers a status request within memberProbeTimeout.
func (c *Client) Healthy(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, memberProbeTimeout)
	defer cancel()
	_, err := c.etcd.Status(ctx, endpoint)
	return err == nil
}
