package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// fdStore is the part of File and Block that is the same for both: bounds
// checked positional I/O on an open descriptor and fdatasync.
type fdStore struct {
	f    *os.File
	size atomicSize
	path string
}

// checkRange reports an error if [off, off+n) is not inside the store.
func checkRange(what string, off, n, size int64) error {
	if off < 0 || n < 0 || off > size || n > size-off {
		return fmt.Errorf("%s [%d,+%d): %w (size %d)", what, off, n, ErrOutOfRange, size)
	}
	return nil
}

// ErrOutOfRange is returned for accesses outside the store.
var ErrOutOfRange = errors.New("range outside store")

// ReadAt reads with pread. A local read does not wait on anything the
// context could cut short.
func (s *fdStore) ReadAt(_ context.Context, p []byte, off int64) error {
	if err := checkRange("read", off, int64(len(p)), s.size.Load()); err != nil {
		return fmt.Errorf("backend %s: %w", s.path, err)
	}
	n, err := s.f.ReadAt(p, off)
	if err == io.EOF && n < len(p) {
		// A file shorter than its configured size (truncated behind our
		// back) reads as zeros past its end, like a hole.
		clear(p[n:])
		return nil
	}
	if err != nil {
		return fmt.Errorf("backend %s: read at %d: %w", s.path, off, ioError(err))
	}
	return nil
}

// WriteAt writes with pwrite, then fdatasync when durable.
func (s *fdStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	if err := checkRange("write", off, int64(len(p)), s.size.Load()); err != nil {
		return fmt.Errorf("backend %s: %w", s.path, err)
	}
	if _, err := s.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("backend %s: write at %d: %w", s.path, off, ioError(err))
	}
	if durable {
		return s.Sync(ctx)
	}
	return nil
}

func (s *fdStore) Size() int64 { return s.size.Load() }

// Sync flushes completed writes to stable storage with fdatasync.
func (s *fdStore) Sync(context.Context) error {
	if err := s.control(func(fd int) error { return ignoreEINTR(func() error { return syscall.Fdatasync(fd) }) }); err != nil {
		return fmt.Errorf("backend %s: fdatasync: %w", s.path, ioError(err))
	}
	return nil
}

func (s *fdStore) Close() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("backend %s: close: %w", s.path, err)
	}
	return nil
}

// control runs fn with the raw descriptor without switching the file to
// blocking mode (as os.File.Fd would).
func (s *fdStore) control(fn func(fd int) error) error {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// writeZeros writes zeros over [off, off+n) in bounded chunks.
func (s *fdStore) writeZeros(off, n int64) error {
	const chunk = 1 << 20
	buf := make([]byte, min(n, chunk))
	for n > 0 {
		m := min(n, int64(len(buf)))
		if _, err := s.f.WriteAt(buf[:m], off); err != nil {
			return fmt.Errorf("backend %s: write zeros at %d: %w", s.path, off, ioError(err))
		}
		off += m
		n -= m
	}
	return nil
}

func ignoreEINTR(fn func() error) error {
	for {
		err := fn()
		if err != syscall.EINTR {
			return err
		}
	}
}

// notSupported reports whether err says the operation is not available on
// this file system or device, so a fallback applies.
func notSupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENODEV)
}
