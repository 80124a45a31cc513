package replication

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/halun/halun/internal/backend"
)

// bitmapDirty sends a store's Dirty calls for replica name to bm.
func bitmapDirty(name string, bm *Bitmap) func(string, int64, int64) error {
	return func(replica string, off, n int64) error {
		if replica != name {
			return nil
		}
		return bm.Mark(off, n)
	}
}

// stop takes a replica node off the network: its listener and every
// connection close; its store is kept.
func (n *replicaNode) stop() {
	n.ln.Close()
	if n.closeConns != nil {
		n.closeConns()
	}
}

// TestResync_OnlyWhatChanged: a replica that was away receives, when it
// returns, only the regions written meanwhile (bitmap granularity), gets
// live writes during the resync, ends byte-identical to the primary and
// rejoins the in-sync set through BackInSync.
func TestResync_OnlyWhatChanged(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "vol1.b.bitmap"), volSize)
	if err != nil {
		t.Fatal(err)
	}
	out := &outLog{}
	s := openPrimary(t, 1, out, bitmapDirty("b", bm), a.addr(), b.addr())
	rng := rand.New(rand.NewPCG(1, 2))
	write := func(off int64, n int) {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if err := s.WriteAt(ctx, p, off, false); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 8192) // before the outage: b has it
	b.stop()
	var written int64
	for range 20 {
		off := int64(rng.IntN(volSize/4096)) * 4096
		write(off, 4096)
		written += 4096
	}
	if got := out.got(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("out of sync: %v", got)
	}
	b.serve(t)
	var live sync.WaitGroup
	var liveWrites atomic.Int64
	stopLive := make(chan struct{})
	live.Add(1)
	go func() {
		defer live.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stopLive:
				return
			default:
			}
			p := make([]byte, 4096)
			p[0] = byte(r.Uint32())
			if err := s.WriteAt(ctx, p, int64(r.IntN(volSize/4096))*4096, false); err != nil {
				t.Error(err)
				return
			}
			liveWrites.Add(1)
		}
	}()
	var back atomic.Bool
	var progress, calls, firstRemaining atomic.Int64
	copied, err := s.Resync(ctx, ResyncOptions{Replica: b.addr(), Bitmap: bm, Chunk: 256 << 10,
		BackInSync: func(r string) error { back.Store(r == "b"); return nil },
		Progress: func(c, rem int64) {
			if calls.Add(1) == 1 {
				firstRemaining.Store(rem)
				if c != 0 {
					t.Errorf("first progress: %d copied, want 0 (the start)", c)
				}
			}
			progress.Store(c)
		}})
	close(stopLive)
	live.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !back.Load() || len(s.InSync()) != 2 {
		t.Fatalf("back in sync %v, in sync %v", back.Load(), s.InSync())
	}
	// Each 4 KiB write dirties one 64 KiB grain at most: those of the
	// outage, and live ones that began before the replica joined (the
	// rest reach it directly).
	if bound := (written + 4096*liveWrites.Load()) * BitmapGrain / 4096; copied > bound || copied == 0 || progress.Load() != copied {
		t.Errorf("copied %d bytes for %d written (progress %d)", copied, written, progress.Load())
	}
	if firstRemaining.Load() == 0 {
		t.Error("the first progress report gave nothing to copy")
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p := contents(t, s)
	if !bytes.Equal(p, contents(t, a.store)) || !bytes.Equal(p, contents(t, b.store)) {
		t.Fatal("after resync the replicas differ from the primary")
	}
	if bm.DirtyBytes() != 0 {
		t.Errorf("%d bytes still dirty", bm.DirtyBytes())
	}
}

// TestResync_Full: a replica whose disk was wiped (a new, empty copy
// with the generation record of one) gets the whole volume, though the
// bitmap holds only the one write it missed.
func TestResync_Full(t *testing.T) {
	b := startReplica(t, "b")
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "bm"), volSize)
	if err != nil {
		t.Fatal(err)
	}
	s := openPrimary(t, 1, &outLog{}, bitmapDirty("b", bm), b.addr())
	big := bytes.Repeat([]byte{0x5a}, volSize/2)
	if err := s.WriteAt(ctx, big, volSize/4, true); err != nil {
		t.Fatal(err)
	}
	b.stop()
	s.WriteAt(ctx, []byte("x"), 0, false) // b goes out of sync
	b.wipe(t)
	b.serve(t)
	copied, err := s.Resync(ctx, ResyncOptions{Replica: b.addr(), Bitmap: bm, BackInSync: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if copied != volSize || !bytes.Equal(contents(t, s), contents(t, b.store)) {
		t.Errorf("full resync copied %d of %d; identical %v", copied, volSize, bytes.Equal(contents(t, s), contents(t, b.store)))
	}
}

// TestResync_DivergedRefusedUntilDiscarded: a replica last written before
// the forced promotion that made this primary may hold acknowledged
// writes the primary lacks: its resync is refused, with an error naming
// both generations, and the copy is left untouched; once an operator
// discards it, it gets the whole volume.
func TestResync_DivergedRefusedUntilDiscarded(t *testing.T) {
	b := startReplica(t, "b")
	// b's history: it took writes at epoch 2, which the node forced to
	// primary at epoch 3 never saw.
	if err := b.gen.Applied(2); err != nil {
		t.Fatal(err)
	}
	if err := b.store.WriteAt(ctx, []byte("only on b"), 0, true); err != nil {
		t.Fatal(err)
	}
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "bm"), volSize)
	if err != nil {
		t.Fatal(err)
	}
	out := &outLog{}
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: 4, Local: backend.NewMemory(volSize), OutOfSyncAtStart: []string{"b"},
		OutOfSync: out.outOfSync, Dirty: bitmapDirty("b", bm), Timeout: time.Second,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: 4, PrimarySince: 3, ForcedAt: 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.WriteAt(ctx, bytes.Repeat([]byte{7}, 4096), 1<<20, true); err != nil {
		t.Fatal(err)
	}
	back := 0
	o := ResyncOptions{Replica: b.addr(), Bitmap: bm, BackInSync: func(string) error { back++; return nil }}
	_, err = s.Resync(ctx, o)
	var de *DivergedError
	if !errors.Is(err, ErrDiverged) || !errors.As(err, &de) || de.Copy.Epoch != 2 || de.Primary.Epoch != 4 || de.Replica != "b" {
		t.Fatalf("resync of a diverged replica: %v", err)
	}
	for _, want := range []string{"vol1", "replica b", "epoch 2", "epoch 4", "forced promotion at epoch 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if got := contents(t, b.store); string(got[:9]) != "only on b" || got[1<<20] != 0 || back != 0 || b.gen.Generation().Epoch != 2 {
		t.Fatalf("the refused copy was touched (back in sync %d times, epoch %d)", back, b.gen.Generation().Epoch)
	}
	o.Discard = true
	copied, err := s.Resync(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if copied != volSize || back != 1 || !bytes.Equal(contents(t, s), contents(t, b.store)) || b.gen.Generation().Epoch != 4 {
		t.Fatalf("discarded copy: copied %d of %d, back in sync %d times, epoch %d", copied, volSize, back, b.gen.Generation().Epoch)
	}
}

// TestOpen_InSyncReplicaOfAnotherVolume: an in-sync replica whose
// copy is not this volume's is taken out of sync at Open.
func TestOpen_InSyncReplicaOfAnotherVolume(t *testing.T) {
	b := startReplica(t, "b")
	g, _, err := OpenGenFile(filepath.Join(t.TempDir(), "g.json"), "another-volume", Image{}, true)
	if err != nil {
		t.Fatal(err)
	}
	b.gen = g
	b.stop()
	b.serve(t)
	out := &outLog{}
	s := openPrimary(t, 1, out, nil, b.addr())
	if got := out.got(); len(got) != 1 || got[0] != "b" || len(s.InSync()) != 0 {
		t.Fatalf("out of sync %v, in sync %v", got, s.InSync())
	}
}

// TestResync_PreviousPrimaryByItsActivityLog: the previous primary comes
// back as a replica. Its copy differs from the new primary's in what the
// new primary wrote since (its bitmap) and in a write it had in flight
// when it was lost, inside an extent of its activity log, which it
// reports in its hello. The resync copies exactly those — not the whole
// volume — and the copies end identical.
func TestResync_PreviousPrimaryByItsActivityLog(t *testing.T) {
	const size = 4 * ALExtent
	p := startReplica(t, "p")
	p.store = &countingStore{Store: backend.NewMemory(size)}
	// p's history: primary at epoch 4.
	if _, err := p.gen.BecamePrimary(4); err != nil {
		t.Fatal(err)
	}
	base := bytes.Repeat([]byte{0x5a}, size)
	if err := p.store.WriteAt(ctx, base, 0, true); err != nil {
		t.Fatal(err)
	}
	// Its write in flight, in extent 0, that the other copy never got.
	if err := p.store.WriteAt(ctx, []byte("in flight on p only"), 8192, true); err != nil {
		t.Fatal(err)
	}
	p.closeConns()
	p.ln.Close()
	p.leftover = []int64{0}
	p.serve(t)

	// The new primary, at epoch 5 since 5, holds base and writes while p
	// is away (its bitmap records them).
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "vol1.p.bitmap"), size)
	if err != nil {
		t.Fatal(err)
	}
	local := backend.NewMemory(size)
	if err := local.WriteAt(ctx, base, 0, true); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: 5, Local: local, OutOfSyncAtStart: []string{"p"},
		OutOfSync: (&outLog{}).outOfSync, Dirty: bitmapDirty("p", bm), Timeout: time.Second,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: 5, PrimarySince: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteAt(ctx, bytes.Repeat([]byte{1}, 4096), 2*ALExtent+4096, false); err != nil {
		t.Fatal(err)
	}
	copied, err := s.Resync(ctx, ResyncOptions{Replica: p.addr(), Bitmap: bm, BackInSync: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(contents(t, s), contents(t, p.store)) {
		t.Fatal("the previous primary's copy still differs after its resync")
	}
	if want := int64(ALExtent + 4096); copied != want {
		t.Errorf("copied %d bytes, want %d: the extent in flight and the one write", copied, want)
	}
}
