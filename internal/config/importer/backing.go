package importer

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// backing fills v's backend, path and size from a source path the way the
// source target used it: a block device is a block volume (its size is
// the device's), anything else a file volume whose size is known (size >
// 0, from the source config) or asked of Options.Stat.
func backing(v *volume, path string, size int64, o Options, fs_ *findings, line int, who string) {
	v.path = path
	if !filepath.IsAbs(path) {
		fs_.warn(line, "%s: relative path %q; halun would resolve it under data_dir, so it is written as given — make it absolute", who, path)
	}
	fi, err := o.Stat(path)
	isDev := err == nil && fi.Mode()&fs.ModeDevice != 0
	if err != nil && strings.HasPrefix(filepath.Clean(path), "/dev/") {
		isDev = true
	}
	if isDev {
		v.backend = "block"
		if !filepath.IsAbs(path) {
			v.path = filepath.Join("/", path)
		}
		return
	}
	v.backend = "file"
	switch {
	case size > 0:
		v.size = size
	case err == nil && fi.Mode().IsRegular() && fi.Size() > 0:
		v.size = fi.Size()
		fs_.info(line, "%s: size %d bytes taken from the file %s on this host", who, fi.Size(), path)
	default:
		v.size = -1
		if err != nil {
			fs_.review(line, "%s: the source config does not record the size of %s and it cannot be read here (%v); set size in the output", who, path, err)
		} else {
			fs_.review(line, "%s: the source config does not record the size of %s and it is not a regular file here; set size in the output", who, path)
		}
	}
	if v.size > 0 && v.size%int64(v.blockSize) != 0 {
		whole := v.size / int64(v.blockSize) * int64(v.blockSize)
		fs_.info(line, "%s: %d bytes is not a whole number of %d-byte blocks; size %d used, as the source target ignored the partial block too", who, v.size, v.blockSize, whole)
		v.size = whole
	}
}

func boolPtr(b bool) *bool { return &b }
