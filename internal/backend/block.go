package backend

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Block device ioctls (linux/fs.h).
const (
	ioctlBLKGETSIZE64 = 0x80081272 // _IOR(0x12, 114, size_t)
	ioctlBLKZEROOUT   = 0x127f     // _IO(0x12, 127)
)

// Block is a Store on a block device. Its size comes from BLKGETSIZE64.
//
// Unmap must leave the range reading as zeros (the Store contract, and what
// LBPRZ promises the initiator), which BLKDISCARD does not guarantee on every
// device. So Unmap uses fallocate(PUNCH_HOLE|KEEP_SIZE), which on a block
// device zeroes the range and deallocates it where the device supports
// unmapping write-zeroes; else BLKZEROOUT; else it writes zeros.
type Block struct {
	fdStore
	noPunch   atomic.Bool
	noZeroout atomic.Bool
}

var _ Store = (*Block)(nil)

// OpenBlock opens the block device at path read-write.
func OpenBlock(path string) (*Block, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("backend: open block device: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backend: open block device %s: %w", path, err)
	}
	if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		f.Close()
		return nil, fmt.Errorf("backend: open block device %s: not a block device (%s)", path, st.Mode().Type())
	}
	b := &Block{fdStore: fdStore{f: f, path: path}}
	var size uint64
	if err := b.control(func(fd int) error {
		return ioctl(fd, ioctlBLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
	}); err != nil {
		f.Close()
		return nil, fmt.Errorf("backend: open block device %s: BLKGETSIZE64: %w", path, err)
	}
	if size == 0 || size > 1<<62 {
		f.Close()
		return nil, fmt.Errorf("backend: open block device %s: unusable size %d", path, size)
	}
	b.size.Store(int64(size))
	return b, nil
}

// Unmap deallocates [off, off+n) where the device can, and always leaves it
// reading as zeros (see Block).
func (b *Block) Unmap(_ context.Context, off, n int64) error {
	if err := checkRange("unmap", off, n, b.size.Load()); err != nil {
		return fmt.Errorf("backend %s: %w", b.path, err)
	}
	if n == 0 {
		return nil
	}
	return unmapChain(b.path, off, n, []unmapStep{
		{&b.noPunch, "punch hole", func() error {
			return b.control(func(fd int) error {
				return ignoreEINTR(func() error {
					return syscall.Fallocate(fd, fallocPunchHole|fallocKeepSize, off, n)
				})
			})
		}},
		{&b.noZeroout, "BLKZEROOUT", func() error {
			r := [2]uint64{uint64(off), uint64(n)}
			return b.control(func(fd int) error {
				return ioctl(fd, ioctlBLKZEROOUT, uintptr(unsafe.Pointer(&r)))
			})
		}},
	}, func() error { return b.writeZeros(off, n) })
}

// unmapStep is one way of deallocating/zeroing, remembered as unsupported
// after it first fails with "not supported".
type unmapStep struct {
	unsupported *atomic.Bool
	name        string
	run         func() error
}

// unmapChain tries each step in order, skipping those known unsupported,
// and ends with last.
func unmapChain(path string, off, n int64, steps []unmapStep, last func() error) error {
	for _, st := range steps {
		if st.unsupported.Load() {
			continue
		}
		err := st.run()
		if err == nil {
			return nil
		}
		if !notSupported(err) {
			return fmt.Errorf("backend %s: %s [%d,+%d): %w", path, st.name, off, n, ioError(err))
		}
		st.unsupported.Store(true)
	}
	return last()
}

func ioctl(fd int, req, arg uintptr) error {
	return ignoreEINTR(func() error {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, arg)
		if e != 0 {
			return e
		}
		return nil
	})
}
