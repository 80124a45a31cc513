package cluster_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/initiator"
)

// writeBlocks writes n random 4 KiB blocks spread over volume v (8 MiB)
// through mp.
func writeBlocks(t *testing.T, ctx context.Context, mp *initiator.Multipath, rng *rand.Rand, n int) {
	t.Helper()
	p := make([]byte, 4096)
	for range n {
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if err := mp.Write(ctx, uint64(rng.IntN(2048))*8, p, 512); err != nil {
			t.Fatal(err)
		}
	}
}

// wipe deletes node n's copy of volume v (its image file) and its
// replication state (generation record, epochs, bitmaps), as a new disk
// would leave it; n is down.
func wipe(t *testing.T, n *testNode) {
	t.Helper()
	if err := os.Remove(n.cfg.Volumes[0].Path); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(n.cfg.Node.DataDir, "replication")); err != nil {
		t.Fatal(err)
	}
}

// sameImages fails unless both nodes' images of volume v hold the same
// bytes.
func sameImages(t *testing.T, a, b *testNode) {
	t.Helper()
	pa, err := os.ReadFile(a.cfg.Volumes[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile(b.cfg.Volumes[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pa, pb) {
		n := 0
		for i := 0; i < len(pa) && i < len(pb); i += 4096 {
			if !bytes.Equal(pa[i:min(i+4096, len(pa))], pb[i:min(i+4096, len(pb))]) {
				n++
			}
		}
		t.Fatalf("the images of %s and %s differ in %d of %d 4 KiB blocks", a.name, b.name, n, len(pa)/4096)
	}
}

// TestGenerations_WipedReplicaResyncedInFull: a replica whose disk is
// wiped while it is down (image file and replication state deleted)
// comes back with the whole volume, not only what its bitmap holds —
// whether the primary saw it fail and wrote meanwhile (the bitmap holds
// just those writes), or did not (the record still has it in sync: the
// node takes itself out at start). Both images end byte-identical.
func TestGenerations_WipedReplicaResyncedInFull(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{file: true})
	rng := rand.New(rand.NewPCG(5, 6))
	writeBlocks(t, ctx, mp, rng, 64)
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary")
	}
	waitStatus(t, ctx, other, "both in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	for _, writeWhileDown := range []bool{false, true} {
		crash(other)
		if writeWhileDown {
			writeBlocks(t, ctx, mp, rng, 4)
			waitStatus(t, ctx, primary, other.name+" out of sync", func(v cluster.VolumeStatus) bool { return slices.Equal(v.OutOfSync, []string{other.name}) })
		}
		wipe(t, other)
		restart(t, ctx, other)
		waitStatus(t, ctx, primary, other.name+" back in sync (written while down: "+map[bool]string{false: "no", true: "yes"}[writeWhileDown]+")",
			func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
		sameImages(t, primary, other)
	}
}

// TestGenerations_DivergedRefusedUntilDiscarded: node b, out of sync,
// is forced primary while a — which holds writes b never got — is down;
// when a returns, b refuses to resync it (halun cluster status lists it
// diverged) and a's copy is left as it was, until an operator discards
// it; then a is resynced in full and in sync again.
func TestGenerations_DivergedRefusedUntilDiscarded(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{file: true})
	rng := rand.New(rand.NewPCG(7, 8))
	writeBlocks(t, ctx, mp, rng, 16)
	a, b := primaryOf(nodes)
	if a == nil || b == nil {
		t.Fatal("no single primary")
	}
	waitStatus(t, ctx, b, "both in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	crash(b)
	// Acknowledged by a alone: b never gets them.
	only := bytes.Repeat([]byte("only on a "), 410)[:4096]
	if err := mp.Write(ctx, 4000, only, 512); err != nil {
		t.Fatal(err)
	}
	crash(a)
	restart(t, ctx, b) // etcd has a quorum again: b and the witness
	if err := cluster.Promote(ctx, b.cfg, "v", b.name, true); err != nil {
		t.Fatal(err)
	}
	writeBlocks(t, ctx, mp, rng, 8) // through b, the forced primary
	imageA, err := os.ReadFile(a.cfg.Volumes[0].Path)
	if err != nil {
		t.Fatal(err)
	}

	restart(t, ctx, a)
	v := waitStatus(t, ctx, b, a.name+" diverged", func(v cluster.VolumeStatus) bool { return slices.Contains(v.Diverged, a.name) })
	if v.Primary != b.name || slices.Contains(v.InSync, a.name) {
		t.Fatalf("status with a diverged replica: %+v", v)
	}
	if got, err := os.ReadFile(a.cfg.Volumes[0].Path); err != nil || !bytes.Equal(got, imageA) {
		t.Fatalf("the diverged copy on %s was written to (%v)", a.name, err)
	}

	if err := cluster.Discard(ctx, a.cfg, "v", a.name); err != nil {
		t.Fatal(err)
	}
	v = waitStatus(t, ctx, b, a.name+" discarded and back in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	if len(v.Diverged) != 0 || len(v.Discarded) != 0 {
		t.Fatalf("status after the discard: %+v", v)
	}
	sameImages(t, a, b)
	got, err := os.ReadFile(a.cfg.Volumes[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got[4000*512:4000*512+4096], only) {
		t.Fatal("the write only the discarded copy held is still there")
	}
}
