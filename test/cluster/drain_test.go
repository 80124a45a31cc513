package cluster_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/initiator"
)

// TestDrain_MovesEveryPrimaryWithoutErrorForMultipath: two volumes, both
// primaried on node a; halun cluster drain a moves both to b while a
// multipath initiator writes to each, none of whose commands fails;
// every write reads back, and nothing moves the volumes back to a.
func TestDrain_MovesEveryPrimaryWithoutErrorForMultipath(t *testing.T) {
	vols := []string{"v", "u"}
	nodes, mpV, ctx := startCluster(t, setup{volumes: vols})
	a, b := nodes[0], nodes[1]
	mps := []*initiator.Multipath{mpV, multipath(t, nodes, 1)}
	waitAllInSync(t, ctx, b, len(vols))

	// Whatever the start gave b moves to a: draining a node with
	// nothing on it is not an error either.
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := cluster.Drain(dctx, a.cfg, "b"); err != nil {
		t.Fatal(err)
	}
	waitPrimaries(t, ctx, a, vols)

	// Drain a while both initiators write.
	stop := make(chan struct{})
	acked := make([]map[uint64]byte, len(mps))
	var wg sync.WaitGroup
	for i, mp := range mps {
		acked[i] = map[uint64]byte{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := uint64(1); ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				lba, fill := n*8%2048, byte(n)^byte(i<<7)
				if err := mp.Write(ctx, lba, bytes.Repeat([]byte{fill}, 4096), 512); err != nil {
					t.Errorf("%s: write during the drain: %v", vols[i], err)
					return
				}
				acked[i][lba] = fill
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	results, err := cluster.Drain(dctx, b.cfg, "a")
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	waitPrimaries(t, ctx, b, vols)
	t.Logf("drain of a took %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond) // writes through b
	close(stop)
	wg.Wait()
	if len(results) != 2 {
		t.Fatalf("results %+v, want both volumes", results)
	}
	for _, r := range results {
		if !r.Moved || r.To != "b" || r.Primary != "b" || r.Problem != "" {
			t.Errorf("result %+v, want moved to b", r)
		}
	}
	for i, mp := range mps {
		if len(acked[i]) == 0 {
			t.Fatalf("%s: no write acknowledged", vols[i])
		}
		for lba, fill := range acked[i] {
			got, err := mp.Read(ctx, lba, 8, 512)
			if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{fill}, 4096)) {
				t.Fatalf("%s: write at %d lost in the drain (%v)", vols[i], lba, err)
			}
		}
	}

	// Nothing moves them back: a stays a replica.
	time.Sleep(time.Second)
	st, err := cluster.ReadStatus(ctx, a.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Volumes {
		if v.Primary != "b" || len(v.InSync) != 2 || a.cl.Primary(v.Name) {
			t.Errorf("a second after the drain: %+v", v)
		}
	}

	// a holds no primary now: drain reports nothing to do.
	if res, err := cluster.Drain(dctx, b.cfg, "a"); err != nil || len(res) != 0 {
		t.Fatalf("drain of an empty node: %+v, %v", res, err)
	}
}

// waitAllInSync waits until n volumes each have a primary and both
// nodes in sync (a node slower to start is resynced first).
func waitAllInSync(t *testing.T, ctx context.Context, via *testNode, n int) {
	t.Helper()
	for {
		st, err := cluster.ReadStatus(ctx, via.cfg)
		if err != nil {
			t.Fatal(err)
		}
		ok := len(st.Volumes) == n
		for _, v := range st.Volumes {
			ok = ok && v.Primary != "" && len(v.InSync) == 2
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the volumes never got in sync on both nodes: %+v", st.Volumes)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitPrimaries waits until node n serves every volume of vols.
func waitPrimaries(t *testing.T, ctx context.Context, n *testNode, vols []string) {
	t.Helper()
	for {
		all := true
		for _, v := range vols {
			all = all && n.cl.Primary(v)
		}
		if all {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s is not primary of every volume of %v", n.name, vols)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
