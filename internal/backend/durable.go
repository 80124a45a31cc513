package backend

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// DurableWriter is implemented by stores that can make one write durable on
// its own: the write-through path of a logical unit without a write cache,
// and FUA writes. Only p needs to be durable when it returns; earlier
// writes still need Sync.
type DurableWriter interface {
	WriteAtDurable(p []byte, off int64) (int, error)
}

// WriteAtDurable writes p at off with pwritev2(RWF_DSYNC), the per-call
// form of O_DSYNC that LIO's fileio uses for write-through: one system
// call instead of pwrite and fdatasync, and only this write's data (and
// the metadata to find it) to flush. Kernels or file systems without
// RWF_DSYNC get pwrite and fdatasync, decided once per store.
func (s *fdStore) WriteAtDurable(p []byte, off int64) (int, error) {
	if err := checkRange("write", off, int64(len(p)), s.size.Load()); err != nil {
		return 0, fmt.Errorf("backend %s: %w", s.path, err)
	}
	if s.noDSync.Load() {
		return s.writeThenSync(p, off)
	}
	done := 0
	err := s.control(func(fd int) error {
		iov := [][]byte{nil}
		for done < len(p) {
			iov[0] = p[done:]
			n, err := unix.Pwritev2(fd, iov, off+int64(done), unix.RWF_DSYNC)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				return err
			case n == 0:
				return io.ErrShortWrite
			}
			done += n
		}
		return nil
	})
	if done == 0 && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
		// Before Linux 4.7, or a file system that refuses the flag.
		s.noDSync.Store(true)
		return s.writeThenSync(p, off)
	}
	if err != nil {
		return done, fmt.Errorf("backend %s: durable write at %d: %w", s.path, off, err)
	}
	return done, nil
}

// writeThenSync is WriteAtDurable without RWF_DSYNC.
func (s *fdStore) writeThenSync(p []byte, off int64) (int, error) {
	n, err := s.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	return n, s.Sync()
}
