package admin_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/test/harness"
)

// TestStatusShowsLiveRates runs `halun status` while a load writes to a
// volume: the write rate and bandwidth show, reads do not, and the text
// view names the portal with its ALUA state and the target's session.
func TestStatusShowsLiveRates(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, metricsConfig)
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: filepath.Join(dir, "data"), IQN: "iqn.2026-11.io.halun.test:metrics"})
	sock := filepath.Join(d.DataDir, admin.SocketName)
	ctx := ctxT(t)
	s, err := initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:status-host", TargetName: "iqn.2026-11.io.halun.test:metrics"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.TestUnitReady(ctx, 0) // the POWER ON unit attention

	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for i := 0; lctx.Err() == nil; i++ {
			if err := s.Write(lctx, 0, uint64(i%1000)*8, buf, 512); err != nil && lctx.Err() == nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	out, err := halunCLI(t, sock, "status", "--json", "--interval", "1s")
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("halun status --json: %v\n%s", err, out)
	}
	var v struct {
		Sessions int `json:"sessions"`
		Volumes  []struct {
			Name      string  `json:"name"`
			Size      int64   `json:"size"`
			ReadIOPS  float64 `json:"read_iops"`
			WriteIOPS float64 `json:"write_iops"`
			WriteMiBs float64 `json:"write_mib_per_sec"`
			WriteLat  float64 `json:"write_latency_seconds"`
		} `json:"volumes"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if v.Sessions != 1 || len(v.Volumes) != 1 {
		t.Fatalf("sessions %d, volumes %d; want 1 and 1:\n%s", v.Sessions, len(v.Volumes), out)
	}
	m := v.Volumes[0]
	if m.Name != "m0" || m.Size != 4<<20 || m.WriteIOPS <= 0 || m.WriteMiBs <= 0 || m.WriteLat <= 0 || m.ReadIOPS != 0 {
		t.Errorf("during a write load: %+v", m)
	}
	if d := m.WriteMiBs*(1<<20)/4096 - m.WriteIOPS; d > 1 || d < -1 {
		t.Errorf("write MiB/s %v does not match %v IOPS of 4 KiB", m.WriteMiBs, m.WriteIOPS)
	}

	text, err := halunCLI(t, sock, "status", "--interval", "200ms")
	if err != nil {
		t.Fatalf("halun status: %v\n%s", err, text)
	}
	for _, want := range []string{d.Addr, "active-optimized", "iqn.2026-11.io.halun.test:metrics", "m0", "W IOPS"} {
		if !strings.Contains(text, want) {
			t.Errorf("halun status lacks %q:\n%s", want, text)
		}
	}
}
