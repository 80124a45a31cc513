package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// memChunk is the allocation unit of Memory: a thin memory volume takes
// memory only for chunks that were written.
const memChunk = 1 << 20

// memStripes is the number of locks chunks are striped over.
const memStripes = 64

// Memory is a Store in memory, allocated lazily in 1 MiB chunks; Unmap
// frees whole chunks and zeroes partial ones. Chunks are guarded by striped
// read-write locks so concurrent access to different chunks does not
// contend and overlapping writes never race.
type Memory struct {
	size atomicSize
	// chunks is replaced (grown) as a whole by Resize.
	chunks atomic.Pointer[[]*[memChunk]byte]
	locks  [memStripes]sync.RWMutex
	resize sync.Mutex
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty (all zero) memory store of size bytes.
func NewMemory(size int64) *Memory {
	if size < 0 {
		size = 0
	}
	m := &Memory{}
	m.size.Store(size)
	cs := make([]*[memChunk]byte, (size+memChunk-1)/memChunk)
	m.chunks.Store(&cs)
	return m
}

// Resize grows the store to size bytes; the new space reads as zeros.
func (m *Memory) Resize(size int64) error {
	m.resize.Lock()
	defer m.resize.Unlock()
	cur := m.size.Load()
	if size < cur {
		return fmt.Errorf("backend memory: resize to %d: %w", size, ErrShrink)
	}
	old := *m.chunks.Load()
	cs := make([]*[memChunk]byte, (size+memChunk-1)/memChunk)
	// Chunks are copied under their stripe locks so no write is lost.
	for i := range memStripes {
		m.locks[i].Lock()
	}
	copy(cs, old)
	m.chunks.Store(&cs)
	m.size.Store(size)
	for i := range memStripes {
		m.locks[i].Unlock()
	}
	return nil
}

// span calls fn for each chunk piece of [off, off+n): chunk index, offset in
// the chunk and the piece's position in the caller's range.
func span(off, n int64, fn func(ci int, co int, po int64, l int)) {
	po := int64(0)
	for n > 0 {
		ci := off / memChunk
		co := off % memChunk
		l := min(n, memChunk-co)
		fn(int(ci), int(co), po, int(l))
		off += l
		po += l
		n -= l
	}
}

func (m *Memory) ReadAt(_ context.Context, p []byte, off int64) error {
	if err := checkRange("read", off, int64(len(p)), m.size.Load()); err != nil {
		return fmt.Errorf("backend memory: %w", err)
	}
	span(off, int64(len(p)), func(ci, co int, po int64, l int) {
		mu := &m.locks[ci%memStripes]
		mu.RLock()
		if c := (*m.chunks.Load())[ci]; c != nil {
			copy(p[po:po+int64(l)], c[co:co+l])
		} else {
			clear(p[po : po+int64(l)])
		}
		mu.RUnlock()
	})
	return nil
}

// WriteAt copies p into RAM; durable changes nothing (RAM is all the
// durability a memory volume has).
func (m *Memory) WriteAt(_ context.Context, p []byte, off int64, _ bool) error {
	if err := checkRange("write", off, int64(len(p)), m.size.Load()); err != nil {
		return fmt.Errorf("backend memory: %w", err)
	}
	span(off, int64(len(p)), func(ci, co int, po int64, l int) {
		mu := &m.locks[ci%memStripes]
		mu.Lock()
		c := (*m.chunks.Load())[ci]
		if c == nil {
			c = new([memChunk]byte)
			(*m.chunks.Load())[ci] = c
		}
		copy(c[co:co+l], p[po:po+int64(l)])
		mu.Unlock()
	})
	return nil
}

// Unmap frees the chunks [off, off+n) covers entirely and zeroes the parts
// of chunks it covers partially.
func (m *Memory) Unmap(_ context.Context, off, n int64) error {
	if err := checkRange("unmap", off, n, m.size.Load()); err != nil {
		return fmt.Errorf("backend memory: %w", err)
	}
	span(off, n, func(ci, co int, _ int64, l int) {
		mu := &m.locks[ci%memStripes]
		mu.Lock()
		c := (*m.chunks.Load())[ci]
		switch {
		case c == nil:
		case co == 0 && (l == memChunk || int64(ci)*memChunk+int64(l) == m.size.Load()):
			(*m.chunks.Load())[ci] = nil
		default:
			clear(c[co : co+l])
		}
		mu.Unlock()
	})
	return nil
}

// MapStatus reports whether the chunk holding off is allocated and how many
// bytes from off (at most n) share that state.
func (m *Memory) MapStatus(off, n int64) (mapped bool, run int64, err error) {
	if err := checkRange("map status", off, n, m.size.Load()); err != nil {
		return false, 0, fmt.Errorf("backend memory: %w", err)
	}
	first := true
	stop := false
	span(off, n, func(ci, _ int, _ int64, l int) {
		if stop {
			return
		}
		mu := &m.locks[ci%memStripes]
		mu.RLock()
		a := (*m.chunks.Load())[ci] != nil
		mu.RUnlock()
		if first {
			mapped, first = a, false
		} else if a != mapped {
			stop = true
			return
		}
		run += int64(l)
	})
	return mapped, run, nil
}

// Allocated returns the number of bytes of memory the store holds.
func (m *Memory) Allocated() int64 {
	var n int64
	for ci := range *m.chunks.Load() {
		mu := &m.locks[ci%memStripes]
		mu.RLock()
		if (*m.chunks.Load())[ci] != nil {
			n += memChunk
		}
		mu.RUnlock()
	}
	return n
}

func (m *Memory) Size() int64                { return m.size.Load() }
func (m *Memory) Sync(context.Context) error { return nil }
func (m *Memory) Close() error               { return nil }
