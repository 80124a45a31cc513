package coord

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestEtcdLogsReachSlogAtErrorLevelWithoutShutdownNoise(t *testing.T) {
	t.Setenv(DebugEnv, "")
	recs := &records{}
	lg := zapToSlog(slog.New(recs), "etcd").With(zap.String("member", "a"))
	lg.Info("routine chatter")
	lg.Warn("a warning")
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("mux: server closed")))
	lg.Error("serving", zap.Error(errors.New("accept tcp 127.0.0.1:1: use of closed network connection")))
	lg.Error("failed to update storage version", zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	lg.Error("disk full", zap.Error(errors.New("no space left on device")))
	got := recs.all()
	if len(got) != 1 {
		t.Fatalf("records %q, want only the disk error", got)
	}
	for _, want := range []string{`ERROR "disk full"`, "component=etcd", "member=a", "error=no space left on device"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("record %q lacks %q", got[0], want)
		}
	}
}

func TestEtcdLogsAtDebugLevelWhenAsked(t *testing.T) {
	t.Setenv(DebugEnv, "1")
	recs := &records{}
	lg := zapToSlog(slog.New(recs), "etcd")
	lg.Debug("raft detail")
	lg.Info("routine chatter")
	lg.Error("failed to update storage version", zap.Error(errors.New("cannot detect storage schema version: missing confstate information")))
	got := recs.all()
	if len(got) != 3 {
		t.Fatalf("records %q, want all three", got)
	}
	if !strings.Contains(got[2], `DEBUG "failed to update storage version"`) {
		t.Fatalf("bootstrap noise logged as %q, want at debug level", got[2])
	}
}

func TestNamesAreCheckedBeforeTheyBecomeKeys(t *testing.T) {
	for _, n := range []string{"a", "node-1", "n0"} {
		if err := checkNode(n); err != nil {
			t.Errorf("node %q: %v", n, err)
		}
	}
	for _, n := range []string{"", "A", "-a", "a-", "a/b", "a.b", strings.Repeat("a", 64)} {
		if checkNode(n) == nil {
			t.Errorf("node %q accepted", n)
		}
	}
	for _, n := range []string{"v1", "Vol_1.data", "a-b", strings.Repeat("v", 64)} {
		if err := checkVolume(n); err != nil {
			t.Errorf("volume %q: %v", n, err)
		}
	}
	for _, n := range []string{"", ".v", "-v", "../v", "v/w", "v w", strings.Repeat("v", 65)} {
		if checkVolume(n) == nil {
			t.Errorf("volume %q accepted", n)
		}
	}
}
