package harness

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/server"
)

// InProcess is a node built from a config and served in the test's own
// process — the same assembly `halun serve` runs — so -race sees both
// sides and a test can reach the node's parts. It is the one way the
// tests start a node in-process; Start runs the real binary.
type InProcess struct {
	Node *server.Node
	// Addr is the first bound portal.
	Addr string
	stop func()
}

// InProcessOptions choose what else the node serves.
type InProcessOptions struct {
	// Log receives the node's logs; nil means TestLogger().
	Log *slog.Logger
	// Source is the config file the node writes back to (alua set,
	// volume add …); empty for a config that came from no file.
	Source string
	// AdminSocket, if set, serves the management API there.
	AdminSocket string
	// Parts are the node's parts (server.Parts); the zero value is a
	// single node's.
	Parts server.Parts
}

// TestLogger logs errors only, or everything with HALUN_TEST_DEBUG set.
func TestLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("HALUN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// ServeInProcess builds a node from cfg and serves it until Stop or the
// end of the test.
func ServeInProcess(t testing.TB, cfg *config.Config, o InProcessOptions) *InProcess {
	t.Helper()
	if o.Log == nil {
		o.Log = TestLogger()
	}
	n, err := server.Build(cfg, o.Log, o.Parts)
	if err != nil {
		t.Fatal(err)
	}
	if o.Source != "" {
		n.SetSource(o.Source, config.Overrides{})
	}
	if err := n.Server.Listen(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	var as *admin.Server
	if o.AdminSocket != "" {
		if as, err = admin.Serve(o.AdminSocket, n, o.Log); err != nil {
			n.Close()
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Server.Serve(ctx) }()
	stopped := false
	p := &InProcess{Node: n, Addr: n.Server.Addrs()[0].Addr}
	p.stop = func() {
		if stopped {
			return
		}
		stopped = true
		if as != nil {
			as.Close()
		}
		cancel()
		<-done
		n.Close()
	}
	t.Cleanup(p.stop)
	return p
}

// Stop stops serving and closes the node; the end of the test does it
// otherwise.
func (p *InProcess) Stop() { p.stop() }
