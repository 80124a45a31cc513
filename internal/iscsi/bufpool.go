package iscsi

import (
	"math/bits"
	"sync"
)

// Data buffers for reads and writes come from size-class pools (powers of
// two from 4 KiB to 16 MiB), so a steady stream of commands allocates no
// data buffers. A buffer goes back to its pool only when nothing can still
// touch it: write buffers after the SCSI layer has executed the command,
// read buffers after the writer has sent the Data-In. Buffers of failed or
// aborted tasks are left to the garbage collector rather than risk reuse
// while a reader still fills them.
const (
	minPoolShift = 12
	maxPoolShift = 24
)

var bufPools [maxPoolShift - minPoolShift + 1]sync.Pool

func poolClass(n int) int {
	if n <= 1<<minPoolShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minPoolShift
}

// getBuf returns a buffer of length n, pooled when n is within the classes.
// Its contents are stale: callers overwrite every byte they expose.
func getBuf(n int) []byte {
	c := poolClass(n)
	if c >= len(bufPools) {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minPoolShift))
}

// putBuf returns a buffer from getBuf to its pool.
func putBuf(b []byte) {
	c := cap(b)
	if c < 1<<minPoolShift || c&(c-1) != 0 {
		return
	}
	i := poolClass(c)
	if i >= len(bufPools) {
		return
	}
	b = b[:0]
	bufPools[i].Put(&b)
}
