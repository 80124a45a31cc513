// Package integration drives an in-process halun target (memory volumes,
// loopback portals) with the project's own initiator: every negotiation
// variant moves real data that is read back and compared, and the protocol
// edges (CmdSN window, task management, reinstatement, keepalive, bad input)
// are checked on the wire. Running the target in-process lets -race see
// both sides.
package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/scsi"
)

const (
	targetIQN    = "iqn.2026-11.io.halun.test:disk"
	initiatorIQN = "iqn.2026-11.io.halun.test:initiator"
	blockSize    = 512
	volumeSize   = 64 << 20
)

// testTarget is a running in-process target.
type testTarget struct {
	Addr   string
	Server *iscsi.Server
	Store  *backend.Memory
	cancel context.CancelFunc
	// done is closed when Serve has returned, with serveErr.
	done     chan struct{}
	serveErr error
}

type targetOpts struct {
	settings    *login.Settings
	nopInterval time.Duration
	nopTimeout  time.Duration
	luns        int
	// logoutWait is the server's LogoutWait (0: its default).
	logoutWait time.Duration
	// tune, if set, adjusts the server's config before it starts.
	tune func(*iscsi.Config)
	// store, if set, wraps LUN 0's store.
	store func(backend.Store) backend.Store
}

func startTarget(t testing.TB, o targetOpts) *testTarget {
	t.Helper()
	settings := login.DefaultSettings()
	if o.settings != nil {
		settings = *o.settings
	}
	if o.luns == 0 {
		o.luns = 1
	}
	store := backend.NewMemory(volumeSize)
	luns := map[uint64]*scsi.LU{}
	for i := 0; i < o.luns; i++ {
		var st backend.Store = store
		if i > 0 {
			st = backend.NewMemory(volumeSize)
		} else if o.store != nil {
			st = o.store(st)
		}
		lu, err := scsi.NewLU(scsi.LUConfig{Serial: "itest" + string(rune('0'+i)), BlockSize: blockSize, Thin: true}, st)
		if err != nil {
			t.Fatal(err)
		}
		luns[uint64(i)] = lu
	}
	level := slog.LevelError
	if os.Getenv("HALUN_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg := iscsi.Config{
		PortalGroups: []iscsi.PortalGroup{{Tag: 1, Addrs: []string{"127.0.0.1:0"}}},
		Targets: []iscsi.Target{{Name: targetIQN, PortalGroups: []uint16{1}, Settings: settings,
			LUNs: scsi.NewTarget(targetIQN, luns)}},
		Logger: log, NopInterval: o.nopInterval, NopTimeout: o.nopTimeout, LogoutWait: o.logoutWait,
	}
	if o.tune != nil {
		o.tune(&cfg)
	}
	srv, err := iscsi.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tt := &testTarget{Addr: srv.Addrs()[0].Addr, Server: srv, Store: store, cancel: cancel, done: make(chan struct{})}
	go func() {
		tt.serveErr = srv.Serve(ctx)
		close(tt.done)
	}()
	t.Cleanup(tt.stop)
	return tt
}

// stop shuts the target down as SIGTERM does and waits for Serve.
func (tt *testTarget) stop() {
	tt.cancel()
	<-tt.done
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t testing.TB, tt *testTarget, o initiator.Options) *initiator.Session {
	t.Helper()
	if o.InitiatorName == "" {
		o.InitiatorName = initiatorIQN
	}
	if o.TargetName == "" {
		o.TargetName = targetIQN
	}
	s, err := initiator.Dial(ctxT(t), tt.Addr, o)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	clearUnitAttention(t, s)
	return s
}

// clearUnitAttention consumes the POWER ON / RESET unit attention a new
// I_T nexus sees first (SAM-5 §5.14), as every initiator does.
func clearUnitAttention(t testing.TB, s *initiator.Session) {
	t.Helper()
	for i := 0; i < 4; i++ {
		err := s.TestUnitReady(ctxT(t), 0)
		if err == nil {
			return
		}
		var se *initiator.SCSIError
		if !errors.As(err, &se) || se.SenseKey != 0x06 {
			t.Fatalf("TEST UNIT READY: %v", err)
		}
	}
	t.Fatal("unit attentions do not clear")
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
