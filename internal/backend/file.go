package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// fallocate mode bits (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// File is a Store on a regular file. Reads and writes are positional
// (pread/pwrite), Sync is fdatasync and Unmap punches holes, falling back
// to writing zeros on file systems that cannot.
type File struct {
	fdStore
	noPunch atomic.Bool // hole punching failed as unsupported once
}

var _ Store = (*File)(nil)

// OpenFile opens the regular file at path as a store of size bytes. A
// missing file is created sparse (ftruncate) when create is set. An existing
// file is grown sparse to size if it is smaller; size 0 means the file's
// current size. A file larger than size is refused rather than silently
// exposing only part of it.
func OpenFile(path string, size int64, create bool) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("backend: open file %s: negative size %d", path, size)
	}
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backend: open file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("backend: open file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("backend: open file %s: not a regular file (%s)", path, st.Mode().Type())
	}
	cur := st.Size()
	switch {
	case size == 0 && cur == 0:
		f.Close()
		return nil, fmt.Errorf("backend: open file %s: size is zero", path)
	case size == 0:
		size = cur
	case cur > size:
		f.Close()
		return nil, fmt.Errorf("backend: open file %s: file has %d bytes, more than the configured %d", path, cur, size)
	case cur < size:
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("backend: open file %s: extend to %d: %w", path, size, err)
		}
	}
	fs := &File{fdStore: fdStore{f: f, path: path}}
	fs.size.Store(size)
	return fs, nil
}

// Unmap deallocates [off, off+n) with fallocate(PUNCH_HOLE|KEEP_SIZE); the
// range reads as zeros afterwards. Where the file system cannot punch holes
// it writes zeros instead.
func (s *File) Unmap(_ context.Context, off, n int64) error {
	if err := checkRange("unmap", off, n, s.size.Load()); err != nil {
		return fmt.Errorf("backend %s: %w", s.path, err)
	}
	if n == 0 {
		return nil
	}
	return unmapChain(s.path, off, n, []unmapStep{
		{&s.noPunch, "punch hole", func() error {
			return s.control(func(fd int) error {
				return ignoreEINTR(func() error {
					return syscall.Fallocate(fd, fallocPunchHole|fallocKeepSize, off, n)
				})
			})
		}},
	}, func() error { return s.writeZeros(off, n) })
}

// MapStatus reports whether the byte at off is backed by allocated storage
// and how many bytes from off (at most n) share that state, using
// lseek(SEEK_DATA/SEEK_HOLE). File systems without hole reporting report
// everything as mapped.
func (s *File) MapStatus(off, n int64) (mapped bool, run int64, err error) {
	if err := checkRange("map status", off, n, s.size.Load()); err != nil {
		return false, 0, fmt.Errorf("backend %s: %w", s.path, err)
	}
	const seekData, seekHole = 3, 4
	var data int64
	err = s.control(func(fd int) error {
		var e error
		data, e = syscall.Seek(fd, off, seekData)
		return e
	})
	switch {
	case errors.Is(err, syscall.ENXIO):
		// No data at or after off: a hole to the end of the file.
		return false, n, nil
	case err != nil && notSupported(err):
		return true, n, nil
	case err != nil:
		return false, 0, fmt.Errorf("backend %s: seek data at %d: %w", s.path, off, err)
	}
	if data > off {
		return false, min(data-off, n), nil
	}
	var hole int64
	err = s.control(func(fd int) error {
		var e error
		hole, e = syscall.Seek(fd, off, seekHole)
		return e
	})
	if err != nil {
		return false, 0, fmt.Errorf("backend %s: seek hole at %d: %w", s.path, off, err)
	}
	return true, min(hole-off, n), nil
}
