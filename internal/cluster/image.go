package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/replication"
)

// imageFresh says whether a volume's local copy will hold nothing once
// opened: a memory volume always, a file volume when its file does not
// exist yet (halun creates it empty). It is asked before the store is
// opened. A generation record does not survive a fresh image
// (replication.OpenGenFile).
func imageFresh(v *config.Volume) (bool, error) {
	switch v.Backend {
	case config.BackendMemory:
		return true, nil
	case config.BackendFile:
		_, err := os.Stat(v.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return false, nil
}

// imageOf identifies a volume's image: a file by its device, inode
// number and birth time (where the file system records one), a block
// device by its device number; a memory volume has no identity. See
// replication.Image.
func imageOf(v *config.Volume) (replication.Image, error) {
	if v.Backend == config.BackendMemory {
		return replication.Image{}, nil
	}
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, v.Path, 0, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st); err != nil {
		return replication.Image{}, fmt.Errorf("volume %s: identifying its image %s: %w", v.Name, v.Path, err)
	}
	if v.Backend == config.BackendBlock {
		return replication.Image{Dev: unix.Mkdev(st.Rdev_major, st.Rdev_minor)}, nil
	}
	img := replication.Image{Dev: unix.Mkdev(st.Dev_major, st.Dev_minor), Ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		img.Btime = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	return img, nil
}
