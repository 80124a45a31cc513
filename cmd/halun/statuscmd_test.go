package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
)

func TestStatusRates(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	a := admin.Stats{Time: t0, Volumes: []admin.VolumeStats{
		{Name: "v0", Size: 1 << 30, Allocated: 1 << 29, Commands: map[string]uint64{"read": 100, "write": 50, "other": 3},
			Seconds: map[string]float64{"read": 1, "write": 2}, ReadBytes: 1 << 20, WrittenBytes: 1 << 20, CheckConditions: 1},
	}}
	b := admin.Stats{Time: t0.Add(2 * time.Second), Volumes: []admin.VolumeStats{
		{Name: "v0", Size: 1 << 30, Allocated: 1 << 29, Commands: map[string]uint64{"read": 300, "write": 50, "other": 5, "sync": 2},
			Seconds: map[string]float64{"read": 1.02, "write": 2}, ReadBytes: 1<<20 + 4<<20, WrittenBytes: 1 << 20, CheckConditions: 4},
		{Name: "new", Size: 1 << 20, Allocated: -1, Commands: map[string]uint64{"write": 10}, Seconds: map[string]float64{"write": 0.01},
			WrittenBytes: 2 << 20},
	}}
	got := rates(a, b)
	if len(got) != 2 {
		t.Fatalf("%d volumes, want 2", len(got))
	}
	near := func(what string, x, want float64) {
		if math.Abs(x-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, x, want)
		}
	}
	v := got[0]
	near("v0 read IOPS", v.ReadIOPS, 100)
	near("v0 write IOPS", v.WriteIOPS, 0)
	near("v0 other IOPS", v.OtherIOPS, 2)
	near("v0 read MiB/s", v.ReadMiBs, 2)
	near("v0 read latency", v.ReadLatency, 0.0001)
	near("v0 write latency", v.WriteLatency, 0)
	if v.Errors != 3 {
		t.Errorf("v0 errors %d, want 3", v.Errors)
	}
	n := got[1]
	near("new write IOPS", n.WriteIOPS, 5)
	near("new write MiB/s", n.WriteMiBs, 1)
	near("new write latency", n.WriteLatency, 0.001)

	var sb strings.Builder
	printStatus(&sb, statusView{Daemon: admin.Status{Version: "v1", Config: "c.yaml", DataDir: "/d"}, Interval: 2,
		Portals: []admin.Portal{{Group: 1, Addr: "127.0.0.1:3260", ALUA: "active-optimized"}},
		Targets: []statusTarget{{IQN: "iqn.x:t", LUNs: 1, Sessions: 2}}, Sessions: 2, Volumes: got})
	for _, want := range []string{"halun v1", "127.0.0.1:3260", "active-optimized", "iqn.x:t", "v0", "1GiB", "50%", "100µs", "1.0ms"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("status screen lacks %q:\n%s", want, sb.String())
		}
	}
}
