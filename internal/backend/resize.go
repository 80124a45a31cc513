package backend

import (
	"errors"
	"fmt"
	"sync/atomic"

	"unsafe"
)

// atomicSize is a store's capacity, changed by Resize while I/O runs.
type atomicSize = atomic.Int64

// Resizer is implemented by stores whose capacity can change while they
// are open. Resize never loses data: growing adds zeroed (unallocated)
// space; shrinking is refused.
type Resizer interface {
	Resize(size int64) error
}

// ErrShrink is returned by Resize for a size below the current one.
var ErrShrink = errors.New("shrinking a volume is not supported")

// Resize grows the file, sparse, to size bytes.
func (s *File) Resize(size int64) error {
	cur := s.size.Load()
	switch {
	case size < cur:
		return fmt.Errorf("backend %s: resize to %d: %w", s.path, size, ErrShrink)
	case size == cur:
		return nil
	}
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("backend %s: resize to %d: %w", s.path, size, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("backend %s: resize to %d: %w", s.path, size, err)
	}
	s.size.Store(size)
	return nil
}

// Resize adopts the device's new size after it was grown underneath
// (lvextend, a grown LUN): size must be what the device now reports.
func (b *Block) Resize(size int64) error {
	var dev uint64
	err := b.control(func(fd int) error {
		return ioctl(fd, ioctlBLKGETSIZE64, uintptr(unsafe.Pointer(&dev)))
	})
	if err != nil {
		return fmt.Errorf("backend %s: size: %w", b.path, err)
	}
	switch {
	case int64(dev) < b.size.Load() || size < b.size.Load():
		return fmt.Errorf("backend %s: resize to %d: %w", b.path, size, ErrShrink)
	case int64(dev) != size:
		return fmt.Errorf("backend %s: resize to %d: the device has %d bytes", b.path, size, dev)
	}
	b.size.Store(size)
	return nil
}
