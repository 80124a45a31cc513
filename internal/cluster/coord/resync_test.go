package coord

import (
	"testing"
	"time"
)

// TestClusterResyncProgressLivesWithTheLease: a primary's resync records
// are listed by volume and replica, replaced by newer ones, deleted when
// the resync ends, and gone with the primary's lease.
func TestClusterResyncProgressLivesWithTheLease(t *testing.T) {
	c := newCluster(t, "a")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 20*time.Second)
	lease := keepAlive(t, cl, "a")

	started := time.Now().UTC().Truncate(time.Millisecond)
	p := ResyncProgress{TotalBytes: 8 << 20, CopiedBytes: 0, RemainingBytes: 8 << 20, Started: started, Updated: started, ETASeconds: -1}
	if err := cl.PutResync(ctx, lease, "v1", "b", p); err != nil {
		t.Fatal(err)
	}
	p.CopiedBytes, p.RemainingBytes, p.BytesPerSec, p.ETASeconds = 2<<20, 6<<20, 4<<20, 1.5
	if err := cl.PutResync(ctx, lease, "v1", "b", p); err != nil {
		t.Fatal(err)
	}
	if err := cl.PutResync(ctx, lease, "v2", "c", p); err != nil {
		t.Fatal(err)
	}
	all, err := cl.Resyncs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := all["v1"]["b"]; len(all) != 2 || len(all["v1"]) != 1 || got.CopiedBytes != 2<<20 || got.ETASeconds != 1.5 || !got.Started.Equal(started) {
		t.Fatalf("resyncs %+v, want v1/b at 2 MiB copied and v2/c", all)
	}

	if err := cl.DeleteResync(ctx, "v1", "b"); err != nil {
		t.Fatal(err)
	}
	if err := cl.DeleteResync(ctx, "v1", "b"); err != nil {
		t.Fatalf("deleting a record that is gone: %v", err)
	}
	if all, err = cl.Resyncs(ctx); err != nil || len(all) != 1 || len(all["v2"]) != 1 {
		t.Fatalf("after the delete: %+v, %v; want only v2/c", all, err)
	}

	// The primary's lease ends: its records go with it.
	if err := lease.Close(); err != nil {
		t.Fatal(err)
	}
	if all, err = cl.Resyncs(ctx); err != nil || len(all) != 0 {
		t.Fatalf("after the lease ended: %+v, %v; want none", all, err)
	}

	if err := cl.PutResync(ctx, keepAlive(t, cl, "a"), "v/1", "b", p); err == nil {
		t.Fatal("a record for volume v/1 was written")
	}
}
