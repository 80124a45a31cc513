package scale

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/server"
	"github.com/halun/halun/test/harness"
)

// inprocIQN is the target of the in-process node.
const inprocIQN = "iqn.2026-11.io.halun.scale:mem"

// startNode runs a node in this process from a config with one 64 MiB
// memory volume behind inprocIQN; nodeExtra adds fields under node:. It
// returns the node and its portal address; the node stops when the test
// ends.
func startNode(t *testing.T, nodeExtra string) (*server.Node, string) {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`node:
  data_dir: %s
%s
portal_groups:
  - { tag: 1, portals: ["127.0.0.1:%d"] }
volumes:
  - { name: mem, backend: memory, size: 64MiB, serial: scalemem }
targets:
  - { iqn: %q, luns: [{ lun: 0, volume: mem }], access: { all: true } }
`, dir, nodeExtra, harness.FreePort(t), inprocIQN)
	path := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := harness.ServeInProcess(t, cfg, harness.InProcessOptions{Log: slog.New(slog.DiscardHandler)})
	return p.Node, p.Addr
}

// selfRSSKiB is this process's resident set size in KiB.
func selfRSSKiB(t *testing.T) int { return rssKiB(t, os.Getpid()) }

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory being read
}

// settle waits until the goroutine count is at most want (want < 0: until
// it has not changed for 300 ms), at most 10 s, and returns it.
func settle(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	last, since := runtime.NumGoroutine(), time.Now()
	for {
		n := runtime.NumGoroutine()
		if n != last {
			last, since = n, time.Now()
		}
		stable := want < 0 && time.Since(since) > 300*time.Millisecond
		if n <= want || stable || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledRSSKiB returns the RSS after a full garbage collection that hands
// free memory back to the kernel, so that what remains is what is live.
func settledRSSKiB(t *testing.T) int {
	runtime.GC()
	debug.FreeOSMemory()
	return selfRSSKiB(t)
}

// envInt reads a positive integer from the environment, def if unset.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive whole number", name, v)
	}
	return n
}
