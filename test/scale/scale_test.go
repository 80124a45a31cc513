// Package scale measures halun at scale: a thousand idle sessions on one
// daemon (memory per session), a thousand volumes and targets in one
// config (start-up time), 500 sessions flooding writes against the
// buffered-data limit (resident memory, flood_test.go), and tens of
// thousands of logins and dropped connections (goroutines, file
// descriptors and memory back to baseline, leak_test.go). It reports
// figures and checks that everything works at that scale; it asserts
// memory and leak bounds (docs/limits.md), never timings.
package scale

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/test/harness"
)

func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestThousandIdleSessions logs 1,000 sessions in to one daemon and reports
// the daemon's resident memory per idle session.
func TestThousandIdleSessions(t *testing.T) {
	const n = 1000
	// The embedded default's target, with room for all the sessions from
	// one address (max_connections_per_address is 256 by default).
	dir := t.TempDir()
	portal := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	cfg := filepath.Join(dir, "halun.yaml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`node: { data_dir: %s, max_connections_per_address: 2048 }
portal_groups: [{ tag: 1, portals: [%q] }]
volumes: [{ name: default, backend: file, path: default.img, size: 1GiB, thin: true }]
targets: [{ iqn: %s, luns: [{ lun: 0, volume: default }], access: { all: true } }]
`, dir, portal, harness.DefaultIQN)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := harness.Start(t, harness.Options{Config: cfg, Portal: portal, DataDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	warm, err := initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:warm", TargetName: harness.DefaultIQN})
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	time.Sleep(200 * time.Millisecond)
	before := rssKiB(t, d.Pid())
	start := time.Now()
	sessions := make([]*initiator.Session, 0, n)
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	for i := 0; i < n; i++ {
		s, err := initiator.Dial(ctx, d.Addr, initiator.Options{
			InitiatorName: fmt.Sprintf("iqn.2026-11.io.halun.test:host%04d", i),
			ISID:          pdu.ISID{0x80, 0, 0, 0, byte(i >> 8), byte(i)},
			TargetName:    harness.DefaultIQN})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		sessions = append(sessions, s)
	}
	loginTime := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	after := rssKiB(t, d.Pid())
	// Every session works, the first and the last included.
	for _, i := range []int{0, n / 2, n - 1} {
		if err := sessions[i].Nop(ctx); err != nil {
			t.Fatalf("session %d after %d logins: %v", i, n, err)
		}
	}
	t.Logf("%d sessions logged in in %v (%.0f logins/s); daemon RSS %d KiB -> %d KiB: %.1f KiB per idle session",
		n, loginTime.Round(time.Millisecond), float64(n)/loginTime.Seconds(), before, after, float64(after-before)/n)
}

// TestThousandVolumesStartup builds a node of 1,000 memory volumes behind
// 1,000 targets and reports how long parsing, validating and assembling it
// takes, and that every target is served.
func TestThousandVolumesStartup(t *testing.T) {
	const n = 1000
	var b strings.Builder
	dir := t.TempDir()
	fmt.Fprintf(&b, "node: { name: scale, data_dir: %s }\nportal_groups:\n  - { tag: 1, portals: [\"127.0.0.1:%d\"] }\nvolumes:\n", dir, harness.FreePort(t))
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - { name: v%04d, backend: memory, size: 64MiB, serial: scale%04d }\n", i, i)
	}
	b.WriteString("targets:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - { iqn: \"iqn.2026-11.io.halun.scale:t%04d\", luns: [{ lun: 0, volume: v%04d }], access: { all: true } }\n", i, i)
	}
	path := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	parsed := time.Since(start)
	p := harness.ServeInProcess(t, cfg, harness.InProcessOptions{Log: slog.New(slog.DiscardHandler)})
	ready := time.Since(start)
	addr := p.Addr
	ts, err := initiator.Discover(context.Background(), addr, "iqn.2026-11.io.halun.test:scale")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != n {
		t.Fatalf("SendTargets lists %d targets, want %d", len(ts), n)
	}
	s, err := initiator.Dial(context.Background(), addr, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:scale",
		TargetName: "iqn.2026-11.io.halun.scale:t0999"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Logf("%d volumes and targets: config parsed in %v, node listening after %v", n, parsed.Round(time.Millisecond), ready.Round(time.Millisecond))
}
