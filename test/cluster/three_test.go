package cluster_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster"
)

// TestFailover_ThreeCopiesAgreeAfterPrimaryLoss: a volume with three
// copies (nodes a, b, c, no witness; etcd's leader kept off the
// primary's node) under a write load loses its primary. One survivor promotes itself and takes the other out of the
// in-sync set until it has resynced the extents where the lost primary's
// writes were in flight — each survivor had recorded the primary's
// activity log — so a write in flight that reached one survivor and not
// the other cannot leave them differing. Every acknowledged write reads
// back, and the survivors' images end byte-identical.
func TestFailover_ThreeCopiesAgreeAfterPrimaryLoss(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{three: true, file: true})
	rng := rand.New(rand.NewPCG(7, 8))
	writeBlocks(t, ctx, mp, rng, 64)
	primary, _ := primaryOf(nodes)
	if primary == nil {
		t.Fatal("no primary")
	}
	var survivors []*testNode
	for _, n := range nodes {
		if n != primary {
			survivors = append(survivors, n)
		}
	}
	waitStatus(t, ctx, survivors[0], "three copies in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 3 })
	// Without a witness, etcd's leader is kept off the primary's node,
	// so losing the primary does not cost an election as well.
	for {
		st, err := cluster.ReadStatus(ctx, survivors[0].cfg)
		if err != nil {
			t.Fatal(err)
		}
		leader := ""
		for _, n := range st.Nodes {
			if n.EtcdLeader {
				leader = n.Name
			}
		}
		if leader != "" && leader != primary.name {
			t.Logf("etcd leader %s, primary %s", leader, primary.name)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("etcd's leader stays on the primary's node %s (status %+v)", primary.name, st.Nodes)
		case <-time.After(200 * time.Millisecond):
		}
	}

	// A writer keeps writes in flight while the primary is lost: each
	// block gets a value naming its sequence number, and the last one
	// acknowledged per block is kept.
	var mu sync.Mutex
	acked := map[uint64][]byte{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			p := make([]byte, 4096)
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				lba := uint64(w*512+int(i%512)) * 8
				binary.BigEndian.PutUint64(p, uint64(w)<<32|i)
				wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				err := mp.Write(wctx, lba, p, 512)
				cancel()
				if err == nil {
					mu.Lock()
					acked[lba] = bytes.Clone(p)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	t.Logf("primary %s; crashing it under load", primary.name)
	crash(primary)
	v := waitStatus(t, ctx, survivors[0], "a survivor primary", func(v cluster.VolumeStatus) bool {
		return v.Primary != primary.name && v.Primary != "" && v.Epoch == 2
	})
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	v = waitStatus(t, ctx, survivors[0], "both survivors in sync", func(v cluster.VolumeStatus) bool {
		return v.Epoch == 2 && len(v.InSync) == 2 && !slices.Contains(v.InSync, primary.name) && len(v.Resyncs) == 0
	})
	newPrimary, other := survivors[0], survivors[1]
	if newPrimary.name != v.Primary {
		newPrimary, other = other, newPrimary
	}
	// The other survivor was resynced the lost primary's extents: without
	// that it would have stayed in sync and nothing would be copied.
	var resynced uint64
	for _, m := range newPrimary.cl.Metrics() {
		if m.Volume == "v" {
			resynced = m.ResyncedBytes
		}
	}
	if resynced == 0 {
		t.Fatalf("%s copied nothing to %s after the primary's loss", newPrimary.name, other.name)
	}
	t.Logf("%s primary at epoch %d, resynced %d bytes to %s", newPrimary.name, v.Epoch, resynced, other.name)
	mu.Lock()
	defer mu.Unlock()
	for lba, want := range acked {
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("acknowledged write at %d lost (%v)", lba, err)
		}
	}
	sameImages(t, newPrimary, other)
}
