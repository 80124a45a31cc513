package cluster

import (
	"testing"
	"time"
)

func TestProgressAt(t *testing.T) {
	start := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	p := progressAt(start, start, 0, 8<<20)
	if p.TotalBytes != 8<<20 || p.BytesPerSec != 0 || p.ETASeconds != -1 || percentOf(p) != 0 {
		t.Fatalf("at the start: %+v", p)
	}
	p = progressAt(start, start.Add(2*time.Second), 6<<20, 2<<20)
	if p.TotalBytes != 8<<20 || p.BytesPerSec != 3<<20 || p.ETASeconds < 0.66 || p.ETASeconds > 0.67 || percentOf(p) != 75 {
		t.Fatalf("after 2 s: %+v (percent %d)", p, percentOf(p))
	}
	// Almost done is not 100 %.
	if p := progressAt(start, start.Add(time.Second), 1000, 1); percentOf(p) != 99 {
		t.Fatalf("one byte left: %d%%", percentOf(p))
	}
}

func TestReplicaResyncString(t *testing.T) {
	for _, c := range []struct {
		r    ReplicaResync
		want string
	}{
		{ReplicaResync{Replica: "b", Percent: 42, BytesPerSec: 85 << 20, ETASeconds: 3.4}, "b: resync 42% 85 MiB/s ETA 3s"},
		{ReplicaResync{Replica: "b", Percent: 7, BytesPerSec: 2.5 * (1 << 20), ETASeconds: 80}, "b: resync 7% 2.5 MiB/s ETA 1m20s"},
		{ReplicaResync{Replica: "c", Percent: 0, ETASeconds: -1}, "c: resync 0% 0.0 MiB/s ETA -"},
	} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.r, got, c.want)
		}
	}
}
