package coord

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster/pki"
)

// Lease TTL of test clusters: the default (config.DefaultLeaseTTL), as
// the members run etcd's default timing of a node (DefaultElectionTimeout).
const (
	testTTL      = 2 * time.Second
	startTimeout = 30 * time.Second
	testCluster  = "test"
)

// records collects log records; they are printed if the test fails.
type records struct {
	mu   sync.Mutex
	recs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: r, attrs: as}
}
func (r *records) WithGroup(string) slog.Handler { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	return r.add(nil, rec)
}

func (r *records) add(pre []slog.Attr, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q", rec.Time.Format("15:04:05.000"), rec.Level, rec.Message)
	for _, a := range pre {
		fmt.Fprintf(&b, " %s", a)
	}
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.mu.Unlock()
	return nil
}

func (r *records) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.recs...)
}

type attrHandler struct {
	r     *records
	attrs []slog.Attr
}

func (h *attrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrHandler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h *attrHandler) WithGroup(string) slog.Handler { return h }
func (h *attrHandler) Handle(_ context.Context, rec slog.Record) error {
	return h.r.add(h.attrs, rec)
}

// cluster is a test cluster of embedded members on a loopback address of
// its own.
type cluster struct {
	t       *testing.T
	pkiDir  string
	logs    *records
	log     *slog.Logger
	cfgs    map[string]MemberConfig
	mu      sync.Mutex
	members map[string]*Member
}

// loopbackIP picks an address of 127.0.0.0/8 for one test cluster. A port
// found free is closed again before etcd binds it; other test packages
// run at the same time on 127.0.0.1 and may take it meanwhile, but not
// on an address of their own.
func loopbackIP() string {
	return fmt.Sprintf("127.%d.%d.%d", 10+rand.IntN(200), rand.IntN(250), 1+rand.IntN(250))
}

// freePort finds a TCP port on ip that nothing listens on.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newCluster makes certificates for names and for nodes a, b, c and w
// (w is a witness, the others storage nodes) and starts a member for
// each of names, all at once, closing them when the test ends.
func newCluster(t *testing.T, names ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, pkiDir: filepath.Join(dir, "pki"), logs: &records{},
		cfgs: map[string]MemberConfig{}, members: map[string]*Member{}}
	c.log = slog.New(c.logs)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range c.logs.all() {
				t.Log(r)
			}
		}
	})
	var nodes []pki.Node
	initial := map[string]string{}
	ip := loopbackIP()
	for _, n := range []string{"a", "b", "c", "w"} {
		role := pki.RoleStorage
		if n == "w" {
			role = pki.RoleWitness
		}
		nodes = append(nodes, pki.Node{Name: n, Role: role, Hosts: []string{ip, "127.0.0.1"}})
	}
	for _, n := range names {
		initial[n] = fmt.Sprintf("https://%s:%d", ip, freePort(t, ip))
	}
	if err := pki.Init(c.pkiDir, testCluster, nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		c.cfgs[n] = MemberConfig{
			Name:           n,
			DataDir:        filepath.Join(dir, "data", n),
			PeerURL:        initial[n],
			ClientURL:      fmt.Sprintf("https://%s:%d", ip, freePort(t, ip)),
			InitialCluster: initial,
			TLSDir:         filepath.Join(c.pkiDir, n),
			Log:            c.log,
		}
	}
	t.Cleanup(func() {
		for _, n := range names {
			c.stop(n)
		}
	})
	c.start(names...)
	return c
}

// start starts the members named, concurrently, and waits until all are
// ready.
func (c *cluster) start(names ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), startTimeout)
	defer cancel()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			m, err := StartMember(ctx, c.cfgs[n])
			if err != nil {
				errs[i] = err
				return
			}
			c.mu.Lock()
			c.members[n] = m
			c.mu.Unlock()
		})
	}
	wg.Wait()
	c.t.Logf("members %v started", names)
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// stop closes member n if it runs.
func (c *cluster) stop(n string) {
	c.mu.Lock()
	m := c.members[n]
	delete(c.members, n)
	c.mu.Unlock()
	if m != nil {
		start := time.Now()
		m.Close()
		c.t.Logf("member %s stopped in %v", n, time.Since(start).Round(time.Millisecond))
	}
}

func (c *cluster) identity(n string) *pki.Identity {
	c.t.Helper()
	id, err := pki.Load(filepath.Join(c.pkiDir, n))
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *cluster) endpoints(names ...string) []string {
	var eps []string
	for _, n := range names {
		eps = append(eps, c.cfgs[n].ClientURL)
	}
	return eps
}

// dial connects as node "as" to the members named, closing the client
// when the test ends.
func (c *cluster) dial(as string, names ...string) *Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	cl, err := Dial(ctx, c.endpoints(names...), c.identity(as), WithLogger(c.log.With("client", as)))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// keepAlive takes node n's lease through cl, closing it when the test
// ends.
func keepAlive(t *testing.T, cl *Client, n string) *Lease {
	t.Helper()
	l, err := cl.KeepAlive(t.Context(), n, testTTL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
