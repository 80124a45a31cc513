package cluster_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/test/harness"
)

// TestResync_ProgressInStatus: the primary stops cleanly, the other node
// takes over and takes writes, and the old primary comes back: the new
// primary resyncs it in full (it may hold writes it never acknowledged),
// at cluster.resync_rate, and halun cluster status shows the resync's
// progress while it runs and nothing once the replica is back in sync.
func TestResync_ProgressInStatus(t *testing.T) {
	const size = 8 << 20 // the fixture's volume
	nodes, mp, ctx := startCluster(t, setup{extra: "  resync_rate: 4MiB\n"})
	if err := mp.Write(ctx, 0, bytes.Repeat([]byte{1}, 4096), 512); err != nil {
		t.Fatal(err)
	}
	old, next := primaryOf(nodes)
	if old == nil || next == nil {
		t.Fatal("no single primary")
	}
	if err := old.cl.Close(); err != nil {
		t.Fatal(err)
	}
	old.srv.Stop()
	for i := range uint64(4) {
		if err := mp.Write(ctx, 8+i*8, bytes.Repeat([]byte{byte(i + 2)}, 4096), 512); err != nil {
			t.Fatalf("write while %s is away: %v", old.name, err)
		}
	}
	if !next.cl.Primary("v") {
		t.Fatalf("%s did not take over", next.name)
	}
	var err error
	if old.cl, err = cluster.Start(ctx, old.cfg, harness.TestLogger()); err != nil {
		t.Fatalf("restarting %s: %v", old.name, err)
	}
	old.srv = harness.ServeInProcess(t, old.cfg, harness.InProcessOptions{Parts: old.cl.Parts()})

	// Status, read from the returning node's certificates, every 50 ms.
	var seen []cluster.ReplicaResync
	start := time.Now()
	for {
		st, err := cluster.ReadStatus(ctx, old.cfg)
		if err != nil {
			t.Fatal(err)
		}
		v := st.Volumes[0]
		if len(v.Resyncs) > 1 || len(v.Resyncs) == 1 && v.Resyncs[0].Replica != old.name {
			t.Fatalf("resyncs %+v, want only %s's", v.Resyncs, old.name)
		}
		if len(v.Resyncs) == 1 {
			seen = append(seen, v.Resyncs[0])
		} else if len(v.InSync) == 2 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s not back in sync after 20 s: %+v", old.name, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("back in sync after %v; status showed %d progress readings", time.Since(start).Round(time.Millisecond), len(seen))
	// 8 MiB at 4 MiB/s: about 2 s, recorded every half second.
	var mid bool
	for i, r := range seen {
		t.Logf("  %s (%d of %d bytes)", r, r.CopiedBytes, r.TotalBytes)
		if r.TotalBytes != size {
			t.Errorf("a resync of %d bytes, want the whole volume (%d): the returning node was primary", r.TotalBytes, size)
		}
		if i > 0 && r.Percent < seen[i-1].Percent {
			t.Errorf("progress went back from %d%% to %d%%", seen[i-1].Percent, r.Percent)
		}
		if r.Percent > 0 && r.Percent < 100 {
			mid = true
			if r.BytesPerSec <= 0 || r.BytesPerSec > 8<<20 || r.ETASeconds < 0 {
				t.Errorf("%s: rate %.0f B/s and ETA %.1f s, want at most about 4 MiB/s (the resync_rate; its first chunk is not delayed) and a known ETA", r, r.BytesPerSec, r.ETASeconds)
			}
		}
	}
	if !mid {
		t.Fatalf("status never showed the resync part done: %+v", seen)
	}
	// Its store (memory) came back empty: every write reads back from
	// it once it is primary again.
	if err := cluster.Promote(ctx, next.cfg, "v", old.name, false); err != nil {
		t.Fatal(err)
	}
	for !old.cl.Primary("v") {
		if time.Since(start) > 30*time.Second {
			t.Fatal("no switchover back to the resynced node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range uint64(5) {
		got, err := mp.Read(ctx, i*8, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i + 1)}, 4096)) {
			t.Fatalf("block %d on the resynced node: %v", i*8, err)
		}
	}
	if !old.cl.Primary("v") {
		t.Fatal("the reads were not served by the resynced node")
	}
}
