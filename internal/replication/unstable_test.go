package replication

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
)

// waitRecorded waits until replica n has recorded the primary of epoch's
// activity log with extent off in it.
func waitRecorded(t *testing.T, n *replicaNode, epoch uint64, off int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e, offs := n.peer.Get()
		if e == epoch && slices.Contains(offs, off) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s recorded epoch %d extents %v, want extent %d of epoch %d", n.name, e, offs, off, epoch)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// threeCopies runs primary a of a 16 MiB volume with in-sync replicas b
// and c at epoch 1, writes the whole of extent 0 through it, and
// returns it with its activity log.
func threeCopies(t *testing.T) (b, c *replicaNode, a *Store, al *ActivityLog) {
	t.Helper()
	const size = 4 * ALExtent
	b, c = startReplicaSized(t, "b", size), startReplicaSized(t, "c", size)
	al, err := OpenActivityLog(filepath.Join(t.TempDir(), "vol1.activity"), size)
	if err != nil {
		t.Fatal(err)
	}
	a, err = Open(ctx, Options{Volume: "vol1", Epoch: 1, Local: backend.NewMemory(size), Replicas: []ReplicaAddr{b.addr(), c.addr()},
		OutOfSync: (&outLog{}).outOfSync, Timeout: time.Second, Activity: al,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: 1, PrimarySince: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.WriteAt(ctx, bytes.Repeat([]byte{1}, ALExtent), 0, false); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, b, 1, 0)
	waitRecorded(t, c, 1, 0)
	return b, c, a, al
}

// promote makes b the primary at epoch 2 with replica c in sync in the
// record, as a node does after the primary of epoch 1 was lost: what b
// recorded of that primary's activity log is Options.Unstable.
func promote(t *testing.T, b, c *replicaNode, out *outLog, bm *Bitmap) *Store {
	t.Helper()
	var unstable []int64
	if e, offs := b.peer.Get(); e < 2 {
		unstable = offs
	}
	al, err := OpenActivityLog(filepath.Join(t.TempDir(), "vol1.activity"), b.store.Size())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: 2, Local: keepOpen{b.store}, Replicas: []ReplicaAddr{c.addr()},
		OutOfSync: out.outOfSync, Dirty: bitmapDirty("c", bm), Timeout: time.Second, Activity: al, Unstable: unstable,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: 2, PrimarySince: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestUnstable_SurvivorsAgreeAfterPrimaryLoss: with three copies, the
// primary is lost with writes in flight that reached one survivor and not
// the other — one in an extent both had heard of, one in an extent only
// the other had heard of (the first survivor's link was cut). The
// survivor promoted takes the other out of the in-sync set and resyncs
// exactly the lost primary's activity log extents to it, so the copies
// agree again; the other extent is not copied.
func TestUnstable_SurvivorsAgreeAfterPrimaryLoss(t *testing.T) {
	b, c, a, al := threeCopies(t)
	// In flight in extent 1: reached b only.
	if err := al.Begin(ALExtent+4096, 4096); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, b, 1, ALExtent)
	waitRecorded(t, c, 1, ALExtent)
	if err := b.store.WriteAt(ctx, bytes.Repeat([]byte{2}, 4096), ALExtent+4096, false); err != nil {
		t.Fatal(err)
	}
	// b's link is cut; in flight in extent 3: reached c only, and only c
	// heard that the log holds it.
	b.closeConns()
	if err := al.Begin(3*ALExtent, 8192); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, c, 1, 3*ALExtent)
	if err := c.store.WriteAt(ctx, bytes.Repeat([]byte{3}, 8192), 3*ALExtent, false); err != nil {
		t.Fatal(err)
	}
	a.closePeers() // the primary is lost

	if bytes.Equal(contents(t, b.store), contents(t, c.store)) {
		t.Fatal("the survivors agree before the recovery: the test shows nothing")
	}
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "vol1.c.bitmap"), b.store.Size())
	if err != nil {
		t.Fatal(err)
	}
	out := &outLog{}
	s := promote(t, b, c, out, bm)
	if got := out.got(); !slices.Equal(got, []string{"c"}) || len(s.InSync()) != 0 {
		t.Fatalf("out of sync %v, in sync %v: want c out until its extents are resynced", got, s.InSync())
	}
	back := 0
	copied, err := s.Resync(ctx, ResyncOptions{Replica: c.addr(), Bitmap: bm, BackInSync: func(string) error { back++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if copied != 3*ALExtent || back != 1 {
		t.Fatalf("copied %d bytes (want extents 0, 1 and 3: %d), back in sync %d times", copied, 3*ALExtent, back)
	}
	if !bytes.Equal(contents(t, b.store), contents(t, c.store)) {
		t.Fatal("the survivors still differ after the resync")
	}
	// c now records the new primary's log, not the lost one's.
	if e, _ := c.peer.Get(); e != 2 {
		t.Fatalf("c records the log of epoch %d, want 2", e)
	}
}

// TestUnstable_CleanEndKeepsReplicasInSync: a primary whose run ended
// cleanly (Quiesce: every write synced everywhere, the log emptied and
// the replicas told) leaves nothing unstable: the next primary keeps
// the other replica in sync and copies nothing.
func TestUnstable_CleanEndKeepsReplicasInSync(t *testing.T) {
	b, c, a, _ := threeCopies(t)
	if err := a.Quiesce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*replicaNode{b, c} {
		deadline := time.Now().Add(5 * time.Second)
		for e, offs := n.peer.Get(); len(offs) != 0 || e != 1; e, offs = n.peer.Get() {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still records %v at epoch %d after a clean end", n.name, offs, e)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	a.closePeers()
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "vol1.c.bitmap"), b.store.Size())
	if err != nil {
		t.Fatal(err)
	}
	out := &outLog{}
	s := promote(t, b, c, out, bm)
	if got := out.got(); len(got) != 0 || !slices.Equal(s.InSync(), []string{"c"}) || bm.DirtyBytes() != 0 {
		t.Fatalf("out of sync %v, in sync %v, dirty %d: want c in sync, nothing to copy", got, s.InSync(), bm.DirtyBytes())
	}
}
