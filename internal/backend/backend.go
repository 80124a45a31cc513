// Package backend owns the block stores behind logical units: regular files
// (sparse, pread/pwrite, fdatasync, hole punching), block devices and memory.
// It knows nothing of SCSI: offsets and lengths are in bytes.
package backend

import "context"

// Store is a byte-addressed block store. Implementations are safe for
// concurrent use. Every transfer takes the context of the command it
// serves: a store that waits on something else (a replica, a peer) gives
// up when the command is aborted or its deadline passes. A failed
// transfer's error wraps the kind it is of — ErrNoSpace, ErrIO,
// ErrUnavailable, ErrFenced (errors.go) — so the SCSI layer answers each
// with its own sense data.
//
// This is the seam a cluster plugs into: a replicated volume is a Store
// that forwards each write to its replicas, and the rest of halun does
// not change.
type Store interface {
	// ReadAt reads len(p) bytes at off; all of them, or an error.
	ReadAt(ctx context.Context, p []byte, off int64) error
	// WriteAt writes p at off; all of it, or an error. With durable set,
	// the data is on stable storage when WriteAt returns (a file store
	// writes and syncs; a replicated store makes the write durable on
	// every replica in the same round trip), so a write-through command
	// costs one call, not a write and a sync.
	WriteAt(ctx context.Context, p []byte, off int64, durable bool) error
	// Size is the store's capacity in bytes.
	Size() int64
	// Sync makes every completed write durable (fdatasync for files).
	Sync(ctx context.Context) error
	// Unmap deallocates a byte range; afterwards it reads as zeros. Stores
	// that cannot deallocate write zeros.
	Unmap(ctx context.Context, off, n int64) error
	Close() error
}

// Mapper is implemented by stores that can tell allocated ranges from
// deallocated ones (GET LBA STATUS).
type Mapper interface {
	// MapStatus reports whether the byte at off is allocated and how many
	// bytes from off, at most n, share that state.
	MapStatus(off, n int64) (mapped bool, run int64, err error)
}
