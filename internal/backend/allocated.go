package backend

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Allocator is a store that knows how many bytes of backing it holds: a
// thin volume's allocation, for the metrics endpoint.
type Allocator interface {
	AllocatedBytes() (int64, error)
}

// AllocatedBytes is the space the file or device holds (st_blocks): for a
// sparse file, what its writes allocated.
func (s *fdStore) AllocatedBytes() (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(s.f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", s.path, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		// A block device holds all of itself.
		return s.Size(), nil
	}
	return st.Blocks * 512, nil
}

// AllocatedBytes is the memory the store holds.
func (m *Memory) AllocatedBytes() (int64, error) { return m.Allocated(), nil }
