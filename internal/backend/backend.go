// Package backend owns the block stores behind logical units: regular files
// (sparse, pread/pwrite, fdatasync, hole punching), block devices and memory.
// It knows nothing of SCSI: offsets and lengths are in bytes.
package backend

import "io"

// Store is a byte-addressed block store. Implementations are safe for
// concurrent use; ReadAt and WriteAt follow io.ReaderAt/io.WriterAt.
// A failed transfer's error wraps ErrNoSpace or ErrIO when it is of that
// kind (errors.go).
type Store interface {
	io.ReaderAt
	io.WriterAt
	// Size is the store's capacity in bytes.
	Size() int64
	// Sync makes every completed write durable (fdatasync for files).
	Sync() error
	// Unmap deallocates a byte range; afterwards it reads as zeros. Stores
	// that cannot deallocate write zeros.
	Unmap(off, n int64) error
	Close() error
}

// Mapper is implemented by stores that can tell allocated ranges from
// deallocated ones (GET LBA STATUS).
type Mapper interface {
	// MapStatus reports whether the byte at off is allocated and how many
	// bytes from off, at most n, share that state.
	MapStatus(off, n int64) (mapped bool, run int64, err error)
}
