package replication

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
)

// TestActivityLog_SurvivesACrash: an extent with a write begun is on disk
// before Begin returns, so a log reopened after a crash (no Clear) holds
// it; a second write into a hot extent writes nothing; Clear refuses
// while a write is in flight and empties the log once none is.
func TestActivityLog_SurvivesACrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vol1.activity")
	const size = 64 << 20
	a, err := OpenActivityLog(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Begin(ALExtent+100, 4096); err != nil {
		t.Fatal(err)
	}
	if err := a.Begin(ALExtent+8192, 4096); err != nil {
		t.Fatal(err)
	}
	if a.writes != 1 {
		t.Errorf("%d log writes for two writes into one extent, want 1", a.writes)
	}
	if err := a.Clear(); err == nil {
		t.Error("Clear with writes in flight succeeded")
	}
	crashed, err := OpenActivityLog(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if got := crashed.Leftover(); len(got) != 1 || got[0] != [2]int64{ALExtent, ALExtent} {
		t.Fatalf("leftover after a crash: %v, want extent 1", got)
	}
	a.End(ALExtent+100, 4096)
	a.End(ALExtent+8192, 4096)
	// A run that ended without Clear in this process (a lost lease)
	// leaves the same to the next run.
	if got := a.Leftover(); len(got) != 1 || got[0] != [2]int64{ALExtent, ALExtent} {
		t.Fatalf("leftover of a run ended without a clean stop: %v, want extent 1", got)
	}
	if err := a.Clear(); err != nil {
		t.Fatal(err)
	}
	clean, err := OpenActivityLog(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if got := clean.Leftover(); len(got) != 0 {
		t.Fatalf("leftover after a clean stop: %v", got)
	}
}

// TestActivityLog_Bounded: idle extents leave, least recently used first,
// so the log never holds more than ActivityExtents.
func TestActivityLog_Bounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vol1.activity")
	n := int64(ActivityExtents + 8)
	a, err := OpenActivityLog(path, n*ALExtent)
	if err != nil {
		t.Fatal(err)
	}
	// Extent 0 stays in flight: it never leaves.
	if err := a.Begin(0, 512); err != nil {
		t.Fatal(err)
	}
	for e := int64(1); e < n; e++ {
		if err := a.Begin(e*ALExtent, 512); err != nil {
			t.Fatal(err)
		}
		a.End(e*ALExtent, 512)
	}
	reopened, err := OpenActivityLog(path, n*ALExtent)
	if err != nil {
		t.Fatal(err)
	}
	left := reopened.Leftover()
	if len(left) != ActivityExtents {
		t.Fatalf("%d extents in the log, want %d", len(left), ActivityExtents)
	}
	if left[0][0] != 0 || left[len(left)-1][0] != (n-1)*ALExtent {
		t.Errorf("log holds %v … %v: want the extent in flight and the newest", left[0], left[len(left)-1])
	}
}

// TestRecoverActivity_ReplicasAgreeAgain: a primary crashes with a write in
// flight that reached the replica but not its own copy (never
// acknowledged). When the node is primary again, the extent goes to the
// replica's bitmap, the replica leaves the in-sync set, and a resync makes
// both copies identical, the primary's winning.
func TestRecoverActivity_ReplicasAgreeAgain(t *testing.T) {
	b := startReplica(t, "b")
	dir := t.TempDir()
	local := backend.NewMemory(volSize)
	bm, err := OpenBitmap(filepath.Join(dir, "vol1.b.bitmap"), volSize)
	if err != nil {
		t.Fatal(err)
	}
	open := func(epoch uint64, out *outLog) (*Store, *ActivityLog) {
		t.Helper()
		a, err := OpenActivityLog(filepath.Join(dir, "vol1.activity"), volSize)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, Options{Volume: "vol1", Epoch: epoch, Local: keepOpen{local}, Replicas: []ReplicaAddr{b.addr()},
			OutOfSync: out.outOfSync, Dirty: bitmapDirty("b", bm), Timeout: time.Second, Activity: a,
			Lineage: Lineage{VolumeID: testVolumeID, Epoch: epoch, PrimarySince: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return s, a
	}
	s, a := open(1, &outLog{})
	if err := s.WriteAt(ctx, bytes.Repeat([]byte{1}, 8192), 0, false); err != nil {
		t.Fatal(err)
	}
	// The crash: a write into extent 0 in flight, applied by the replica
	// only.
	if err := a.Begin(4096, 4096); err != nil {
		t.Fatal(err)
	}
	if err := b.store.WriteAt(ctx, bytes.Repeat([]byte{9}, 4096), 4096, false); err != nil {
		t.Fatal(err)
	}
	s.closePeers()

	out := &outLog{}
	s, _ = open(2, out)
	defer s.Close()
	n, err := s.RecoverActivity()
	if err != nil || n != 1 {
		t.Fatalf("RecoverActivity: %d extents, %v; want 1", n, err)
	}
	if got := out.got(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("out of sync: %v, want [b]", got)
	}
	if bm.DirtyBytes() < 8192 {
		t.Fatalf("the bitmap holds %d bytes, not the extent in flight", bm.DirtyBytes())
	}
	if _, err := s.Resync(ctx, ResyncOptions{Replica: b.addr(), Bitmap: bm, BackInSync: func(string) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(contents(t, local), contents(t, b.store)) {
		t.Fatal("after the recovery the replica still differs from the primary")
	}
	if n, err := s.RecoverActivity(); err != nil || n != 0 {
		t.Fatalf("a second recovery found %d extents, %v", n, err)
	}
}

// keepOpen keeps a store shared by two runs of a primary open.
type keepOpen struct{ backend.Store }

func (keepOpen) Close() error { return nil }
