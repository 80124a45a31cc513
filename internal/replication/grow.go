package replication

import "fmt"

// Grow extends the bitmap to a volume of size bytes, as the volume grows
// (Store.Resize). The added bytes are dirty when the replica did not grow
// with the primary (out of sync, or it failed the resize), clean when it
// did: an in-sync replica that grew holds the same zeroes. The bitmap is
// flushed at its new size before Grow returns. A size at or below the
// current one changes nothing.
func (b *Bitmap) Grow(size int64, dirty bool) error {
	b.mu.Lock()
	old := b.size
	if size <= old {
		b.mu.Unlock()
		return nil
	}
	nbits := (size + BitmapGrain - 1) / BitmapGrain
	if words := (nbits + 63) / 64; words > int64(len(b.bits)) {
		b.bits = append(b.bits, make([]uint64, words-int64(len(b.bits)))...)
	}
	b.size = size
	if dirty {
		b.setLocked(old, size-old)
	}
	b.mu.Unlock()
	if err := b.Flush(); err != nil {
		return fmt.Errorf("replication: growing bitmap %s to %d bytes: %w", b.path, size, err)
	}
	return nil
}

// Grow records that the volume now has size bytes: leftover extents are
// reported up to it.
func (a *ActivityLog) Grow(size int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.size = max(a.size, size)
}
