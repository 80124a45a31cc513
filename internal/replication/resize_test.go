package replication

import (
	"bytes"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
)

// resizePrimary opens a primary over replicas with a dirty bitmap per
// replica, grown with the volume.
func resizePrimary(t *testing.T, out *outLog, bms map[string]*Bitmap, replicas ...ReplicaAddr) *Store {
	t.Helper()
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: 1, Local: backend.NewMemory(volSize), Replicas: replicas,
		OutOfSync: out.outOfSync, Timeout: time.Second,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: 1, PrimarySince: 1},
		Dirty:   func(r string, off, n int64) error { return bms[r].Mark(off, n) },
		Grow:    func(r string, size int64, dirty bool) error { return bms[r].Grow(size, dirty) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openBitmaps(t *testing.T, names ...string) map[string]*Bitmap {
	t.Helper()
	bms := map[string]*Bitmap{}
	for _, n := range names {
		bm, err := OpenBitmap(filepath.Join(t.TempDir(), n+".bitmap"), volSize)
		if err != nil {
			t.Fatal(err)
		}
		bms[n] = bm
	}
	return bms
}

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// TestResize_InSyncReplicasGrowWithThePrimary: a resize grows every
// in-sync replica before it returns; writes past the old end reach them;
// their dirty records grow clean; the copies stay identical. A smaller
// size is refused, the same size changes nothing.
func TestResize_InSyncReplicasGrowWithThePrimary(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	var mu sync.Mutex
	var told []int64
	a.r.Resized = func(v string, size int64) { mu.Lock(); told = append(told, size); mu.Unlock() }
	out := &outLog{}
	bms := openBitmaps(t, "a", "b")
	s := resizePrimary(t, out, bms, a.addr(), b.addr())
	if err := s.WriteAt(ctx, fill(8192, 1), 0, false); err != nil {
		t.Fatal(err)
	}
	const grown = 3 * volSize
	if err := s.Resize(grown); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*replicaNode{a, b} {
		if n.store.Size() != grown {
			t.Errorf("replica %s holds %d bytes after the resize, want %d", n.name, n.store.Size(), grown)
		}
	}
	if s.Size() != grown {
		t.Errorf("primary holds %d bytes, want %d", s.Size(), grown)
	}
	mu.Lock()
	if len(told) != 1 || told[0] != grown {
		t.Errorf("replica a's Resized told %v, want [%d]", told, grown)
	}
	mu.Unlock()
	if err := s.WriteAt(ctx, fill(4096, 2), grown-4096, true); err != nil {
		t.Fatalf("write past the old end: %v", err)
	}
	if got := out.got(); len(got) != 0 || len(s.InSync()) != 2 {
		t.Fatalf("out of sync %v, in sync %v", got, s.InSync())
	}
	for name, bm := range bms {
		if bm.DirtyBytes() != 0 {
			t.Errorf("replica %s: %d bytes dirty after growing in sync", name, bm.DirtyBytes())
		}
	}
	p := contents(t, s)
	if !bytes.Equal(p, contents(t, a.store)) || !bytes.Equal(p, contents(t, b.store)) {
		t.Fatal("the replicas differ from the primary after the resize")
	}
	if err := s.Resize(grown); err != nil {
		t.Errorf("resize to the same size: %v", err)
	}
	if err := s.Resize(volSize); !errors.Is(err, backend.ErrShrink) {
		t.Errorf("shrink: %v, want ErrShrink", err)
	}
	mu.Lock()
	if len(told) != 1 {
		t.Errorf("Resized told %v: a resize that changed nothing reached the replica", told)
	}
	mu.Unlock()
}

// TestResize_AwayReplicaGrownOnResync: a replica unreachable during the
// resize leaves the in-sync set, the space added is dirty for it, and
// when it returns the resync grows its copy first, then copies what it
// missed — past the old end too — and the copies are identical.
func TestResize_AwayReplicaGrownOnResync(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	out := &outLog{}
	bms := openBitmaps(t, "a", "b")
	s := resizePrimary(t, out, bms, a.addr(), b.addr())
	if err := s.WriteAt(ctx, fill(8192, 1), 0, false); err != nil {
		t.Fatal(err)
	}
	b.stop()
	const grown = 2 * volSize
	if err := s.Resize(grown); err != nil {
		t.Fatal(err)
	}
	if got := out.got(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("out of sync after the resize: %v, want [b]", got)
	}
	if b.store.Size() != volSize {
		t.Fatalf("the away replica grew to %d", b.store.Size())
	}
	if got := bms["b"].DirtyBytes(); got != grown-volSize {
		t.Errorf("replica b: %d bytes dirty, want the %d added", got, grown-volSize)
	}
	if got := bms["a"].DirtyBytes(); got != 0 {
		t.Errorf("replica a: %d bytes dirty, want none", got)
	}
	if err := s.WriteAt(ctx, fill(4096, 3), grown-4096, false); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteAt(ctx, fill(4096, 4), 4096, false); err != nil {
		t.Fatal(err)
	}
	b.serve(t)
	if _, err := s.Resync(ctx, ResyncOptions{Replica: b.addr(), Bitmap: bms["b"], BackInSync: func(string) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if b.store.Size() != grown || len(s.InSync()) != 2 {
		t.Fatalf("after the resync: replica b holds %d bytes, in sync %v", b.store.Size(), s.InSync())
	}
	if err := s.WriteAt(ctx, fill(4096, 5), grown-8192, false); err != nil {
		t.Fatal(err)
	}
	p := contents(t, s)
	if !bytes.Equal(p, contents(t, a.store)) || !bytes.Equal(p, contents(t, b.store)) {
		t.Fatal("after the resync the replicas differ from the primary")
	}
}
