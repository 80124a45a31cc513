package replication

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/halun/halun/internal/atomicfile"
)

// The dirty bitmap records which parts of a volume were written while a
// replica was out of sync, so that the replica, when it returns, receives
// only those (a resync moves what changed, not the volume).
//
// Like DRBD's, it survives a crash of the primary without losing a bit
// and without a disk write per application write: each bit covers
// BitmapGrain bytes and lives in memory; an activity log of coarse
// extents (ALExtent bytes) is written durably before the first write into
// an extent not yet in it is acknowledged. Flush writes the bits and then
// empties the log. After a crash, Open reads the bits last flushed and
// marks every extent of the log dirty as a whole: every write acknowledged
// since the last flush is inside one of them.
//
// A bit covers 4 KiB, as DRBD's do: scattered 4 KiB writes cost their own
// size to resync, not a coarser grain's (64 KiB bits copied 15 times the
// bytes written). The price is memory and the flushed file: 32 KiB per GiB
// of volume and replica, 32 MiB per TiB.
const (
	BitmapGrain = 4 << 10 // bytes per bit
	ALExtent    = 4 << 20 // bytes per activity log extent
)

// Bitmap is the dirty bitmap of one volume towards one replica.
type Bitmap struct {
	path, alPath string
	size         int64

	mu   sync.Mutex
	bits []uint64
	al   map[int64]bool // hot extents, by index
	// alWrites counts activity log writes, for tests and metrics.
	alWrites int
}

type alDoc struct {
	Extent  int64   `json:"extent_bytes"`
	Extents []int64 `json:"extents"`
}

// OpenBitmap opens (or creates) the bitmap of a volume of size bytes
// kept at path (and its activity log at path + ".al").
func OpenBitmap(path string, size int64) (*Bitmap, error) {
	b := &Bitmap{path: path, alPath: path + ".al", size: size, al: map[int64]bool{}}
	nbits := (size + BitmapGrain - 1) / BitmapGrain
	b.bits = make([]uint64, (nbits+63)/64)
	data, found, err := readState(b.path, "bitmap")
	switch {
	case err != nil:
		return nil, err
	case !found:
	case len(data)%8 != 0 || len(data) > 8*len(b.bits):
		return nil, fmt.Errorf("replication: bitmap %s has %d bytes; a volume of %d bytes needs %d", b.path, len(data), size, 8*len(b.bits))
	default:
		for i := range len(data) / 8 {
			b.bits[i] = binary.LittleEndian.Uint64(data[8*i:])
		}
		if short := int64(len(data)) * 8 * BitmapGrain; short < size {
			// The volume grew after the last flush (Grow flushes, but
			// the node may have stopped in between): what lies beyond
			// is dirty, since nothing here says the replica has it.
			b.setLocked(short, size-short)
		}
	}
	data, found, err = readState(b.alPath, "activity log")
	switch {
	case err != nil:
		return nil, err
	case !found:
	default:
		var doc alDoc
		if err := json.Unmarshal(data, &doc); err != nil || doc.Extent != ALExtent {
			return nil, fmt.Errorf("replication: activity log %s is damaged (%v): resync the replica fully", b.alPath, err)
		}
		// The log's extents may hold acknowledged writes the bits
		// missed: they are dirty as a whole.
		for _, e := range doc.Extents {
			b.al[e] = true
			b.setLocked(e*ALExtent, ALExtent)
		}
	}
	return b, nil
}

func (b *Bitmap) setLocked(off, n int64) {
	if off >= b.size || n <= 0 {
		return
	}
	end := min(off+n, b.size)
	for i := off / BitmapGrain; i <= (end-1)/BitmapGrain; i++ {
		b.bits[i/64] |= 1 << (i % 64)
	}
}

// Mark records [off, off+n) as dirty, durably: when Mark returns, a crash
// cannot lose it. It writes to disk only when the range enters an extent
// the activity log does not hold yet.
func (b *Bitmap) Mark(off, n int64) error {
	if n <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setLocked(off, n)
	end := min(off+n, b.size)
	grew := false
	for e := off / ALExtent; e <= (end-1)/ALExtent; e++ {
		if !b.al[e] {
			b.al[e] = true
			grew = true
		}
	}
	if grew {
		return b.writeALLocked()
	}
	return nil
}

func (b *Bitmap) writeALLocked() error {
	doc := alDoc{Extent: ALExtent}
	for e := range b.al {
		doc.Extents = append(doc.Extents, e)
	}
	slices.Sort(doc.Extents)
	if err := writeJSON(b.alPath, "bitmap activity log", doc); err != nil {
		return err
	}
	b.alWrites++
	return nil
}

// Flush writes the bits durably, then empties the activity log of the
// extents the written bits cover.
func (b *Bitmap) Flush() error {
	b.mu.Lock()
	data := make([]byte, 8*len(b.bits))
	for i, w := range b.bits {
		binary.LittleEndian.PutUint64(data[8*i:], w)
	}
	covered := make([]int64, 0, len(b.al))
	for e := range b.al {
		covered = append(covered, e)
	}
	b.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(b.path), 0o750); err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if err := atomicfile.Write(b.path, data, 0o644); err != nil {
		return fmt.Errorf("replication: writing bitmap: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Extents marked since the snapshot stay hot: their writes may not
	// be in the bits just written.
	for _, e := range covered {
		delete(b.al, e)
	}
	return b.writeALLocked()
}

// Clear marks [off, off+n) clean (resynced). Bits that only partly lie in
// the range stay set. The change reaches the disk with the next Flush; a
// crash before it resends the range, which is safe.
func (b *Bitmap) Clear(off, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= 0 || off >= b.size {
		return
	}
	end := min(off+n, b.size)
	first := (off + BitmapGrain - 1) / BitmapGrain
	last := end / BitmapGrain // exclusive, unless end is the volume's end
	if end == b.size {
		last = (end + BitmapGrain - 1) / BitmapGrain
	}
	for i := first; i < last; i++ {
		b.bits[i/64] &^= 1 << (i % 64)
	}
}

// SetAll marks the whole volume dirty (a full resync).
func (b *Bitmap) SetAll() error {
	return b.Mark(0, b.size)
}

// Next returns the first dirty run at or after off, at most limit bytes,
// and whether there is one.
func (b *Bitmap) Next(off, limit int64) (int64, int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	nbits := (b.size + BitmapGrain - 1) / BitmapGrain
	i := off / BitmapGrain
	for i < nbits && b.bits[i/64]&(1<<(i%64)) == 0 {
		if b.bits[i/64]>>(i%64) == 0 {
			i = (i/64 + 1) * 64 // the rest of this word is clean
			continue
		}
		i++
	}
	if i >= nbits {
		return 0, 0, false
	}
	start := max(i*BitmapGrain, off)
	if start >= b.size {
		return 0, 0, false
	}
	j := i
	for j < nbits && b.bits[j/64]&(1<<(j%64)) != 0 && (j-i+1)*BitmapGrain <= limit {
		j++
	}
	if j == i {
		j = i + 1
	}
	return start, min(j*BitmapGrain, b.size) - start, true
}

// DirtyBytes is how many bytes the set bits cover.
func (b *Bitmap) DirtyBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, w := range b.bits {
		n += int64(bits.OnesCount64(w))
	}
	bytes := n * BitmapGrain
	// The last grain may be partial.
	if last := (b.size - 1) / BitmapGrain; b.bits[last/64]&(1<<(last%64)) != 0 {
		bytes -= (last+1)*BitmapGrain - b.size
	}
	return bytes
}
