package replication

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestBitmap_CrashLosesNoBit: bits marked but not flushed survive a crash
// (reopen without Flush) through the activity log, as whole extents; a
// flush keeps them exactly and empties the log.
func TestBitmap_CrashLosesNoBit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vol1.b.bitmap")
	const size = 64 << 20
	b, err := OpenBitmap(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Mark(5<<20+100, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Mark(5<<20+200<<10, 4096); err != nil { // same extent: no log write
		t.Fatal(err)
	}
	if b.alWrites != 1 {
		t.Errorf("activity log written %d times for one extent", b.alWrites)
	}
	// Crash: reopen without flushing.
	c, err := OpenBitmap(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.DirtyBytes(); got != ALExtent {
		t.Errorf("after a crash %d bytes dirty, want the extent (%d)", got, ALExtent)
	}
	if off, n, ok := c.Next(0, size); !ok || off != 4<<20 || n != ALExtent {
		t.Errorf("dirty run %d+%d %v", off, n, ok)
	}
	// Flush, reopen: exactly the marked grains, and the log is empty.
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	d, err := OpenBitmap(path, size)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.DirtyBytes(); got != 2*BitmapGrain {
		t.Errorf("after a flush %d bytes dirty, want two grains", got)
	}
	if len(d.al) != 0 {
		t.Errorf("activity log after flush: %v", d.al)
	}
}

// TestBitmap_ClearAndNext: resynced ranges are cleared (whole grains
// only), Next walks the dirty runs in order, bounded by max.
func TestBitmap_ClearAndNext(t *testing.T) {
	const size = 10*BitmapGrain + 100 // a partial last grain
	b, err := OpenBitmap(filepath.Join(t.TempDir(), "bm"), size)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{0, 1}, {3 * BitmapGrain, 3 * BitmapGrain}, {size - 1, 1}} {
		if err := b.Mark(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	var runs [][2]int64
	for off := int64(0); ; {
		o, n, ok := b.Next(off, 2*BitmapGrain)
		if !ok {
			break
		}
		runs = append(runs, [2]int64{o, n})
		off = o + n
	}
	want := [][2]int64{{0, BitmapGrain}, {3 * BitmapGrain, 2 * BitmapGrain}, {5 * BitmapGrain, BitmapGrain}, {10 * BitmapGrain, 100}}
	if len(runs) != len(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	for i := range want {
		if runs[i] != want[i] {
			t.Fatalf("runs %v, want %v", runs, want)
		}
	}
	b.Clear(3*BitmapGrain+1, 2*BitmapGrain) // covers grain 4 only
	if got := b.DirtyBytes(); got != 3*BitmapGrain+100 {
		t.Errorf("after a partial clear %d dirty", got)
	}
	b.Clear(0, size)
	if _, _, ok := b.Next(0, size); ok || b.DirtyBytes() != 0 {
		t.Error("dirty after clearing everything")
	}
	if err := b.SetAll(); err != nil || b.DirtyBytes() != size {
		t.Errorf("SetAll: %v, %d dirty", err, b.DirtyBytes())
	}
}

// TestBitmap_WrongSize: a bitmap file of a larger volume is refused, not
// reinterpreted; one of a smaller volume (it grew after the last flush)
// keeps its bits and reads the added space as dirty.
func TestBitmap_WrongSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bm")
	b, _ := OpenBitmap(path, 1<<30)
	b.Mark(0, 1)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBitmap(path, 1<<29); err == nil {
		t.Error("a bitmap of a larger volume was accepted")
	}
	g, err := OpenBitmap(path, 2<<30)
	if err != nil {
		t.Fatalf("a bitmap of a volume grown since was refused: %v", err)
	}
	if got, want := g.DirtyBytes(), int64(BitmapGrain+1<<30); got != want {
		t.Errorf("grown volume: %d bytes dirty, want %d (the old bit and the added space)", got, want)
	}
}

// TestBitmap_Grow: growing keeps the bits, adds the new space dirty or
// clean as asked, and is flushed at the new size.
func TestBitmap_Grow(t *testing.T) {
	dir := t.TempDir()
	for _, dirty := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprint(dirty))
		b, err := OpenBitmap(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Mark(8192, 1); err != nil {
			t.Fatal(err)
		}
		if err := b.Grow(3<<20, dirty); err != nil {
			t.Fatal(err)
		}
		want := int64(BitmapGrain)
		if dirty {
			want += 2 << 20
		}
		if got := b.DirtyBytes(); got != want {
			t.Errorf("dirty=%v: %d bytes dirty, want %d", dirty, got, want)
		}
		if err := b.Mark(3<<20-1, 1); err != nil { // the last byte is tracked
			t.Fatal(err)
		}
		if !dirty {
			want += BitmapGrain
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		again, err := OpenBitmap(path, 3<<20)
		if err != nil {
			t.Fatalf("reopened at the grown size: %v", err)
		}
		if got := again.DirtyBytes(); got != want {
			t.Errorf("dirty=%v, reopened: %d bytes dirty, want %d", dirty, got, want)
		}
	}
}
