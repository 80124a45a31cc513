package pdu

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// Batch gathers PDUs for one vectored write (writev on a *net.TCPConn):
// headers, padding and digests are encoded into a fixed arena, data segments
// are referenced, not copied. A connection writer adds every PDU that is
// ready and flushes once, so a burst of responses costs one system call and
// read data goes from its buffer to the socket without an extra copy. The
// referenced data must stay unchanged until Flush returns.
type Batch struct {
	Opts  Options
	arena []byte
	segs  [][]byte
	nb    net.Buffers
	size  int
	// arenaSize is the arena's capacity; held says the arena is borrowed.
	arenaSize int
	held      *[]byte
	// lastStart/lastEnd locate the last segment when it lies in the arena
	// (lastEnd < 0 otherwise), so adjacent arena bytes merge into one iovec.
	lastStart, lastEnd int
}

// NewBatch returns a batch whose arena holds arenaSize bytes of headers.
// The arena is taken when the first PDU is added and given back by Flush,
// so an idle connection holds none.
func NewBatch(arenaSize int) *Batch {
	return &Batch{arenaSize: max(arenaSize, headroom), lastEnd: -1}
}

var arenas sync.Map // arena size -> *sync.Pool of *[]byte

func arenaPool(size int) *sync.Pool {
	if p, ok := arenas.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := arenas.LoadOrStore(size, &sync.Pool{New: func() any {
		b := make([]byte, 0, size)
		return &b
	}})
	return p.(*sync.Pool)
}

// headroom is the most arena one PDU can need: BHS, AHS, header digest,
// padding and data digest.
const headroom = HeaderLen + 255*4 + 4 + 3 + 4

// Add appends one PDU. It reports false, adding nothing, when the arena has
// no room left: the caller flushes and adds again.
func (b *Batch) Add(h *Header, ahs, data []byte) (bool, error) {
	if len(data) > MaxDataSegment {
		return false, fmt.Errorf("pdu: data segment of %d bytes too long", len(data))
	}
	if len(ahs)%4 != 0 || len(ahs) > 255*4 {
		return false, fmt.Errorf("pdu: AHS of %d bytes is not a valid length", len(ahs))
	}
	if b.held == nil {
		b.held = arenaPool(b.arenaSize).Get().(*[]byte)
		b.arena = (*b.held)[:0]
	}
	if cap(b.arena)-len(b.arena) < headroom {
		return false, nil
	}
	h.SetTotalAHSLength(len(ahs))
	h.SetDataSegmentLength(len(data))
	start := len(b.arena)
	b.arena = append(b.arena, h[:]...)
	b.arena = append(b.arena, ahs...)
	if b.Opts.HeaderDigest {
		b.arena = appendDigest(b.arena, CRC32C(b.arena[start:]))
	}
	b.pushArena(start)
	if len(data) > 0 {
		b.segs = append(b.segs, data)
		b.size += len(data)
		b.lastEnd = -1
		p := pad(len(data))
		ts := len(b.arena)
		b.arena = append(b.arena, zeroPad[:p]...)
		if b.Opts.DataDigest {
			b.arena = appendDigest(b.arena, CRC32C(data, zeroPad[:p]))
		}
		if len(b.arena) > ts {
			b.pushArena(ts)
		}
	}
	return true, nil
}

// pushArena adds arena[start:] as a segment, merged with the previous one
// when that ends exactly at start.
func (b *Batch) pushArena(start int) {
	end := len(b.arena)
	b.size += end - start
	if b.lastEnd == start && len(b.segs) > 0 {
		b.segs[len(b.segs)-1] = b.arena[b.lastStart:end:end]
	} else {
		b.segs = append(b.segs, b.arena[start:end:end])
		b.lastStart = start
	}
	b.lastEnd = end
}

func appendDigest(dst []byte, c uint32) []byte {
	var d [4]byte
	putDigest(d[:], c)
	return append(dst, d[:]...)
}

// Size is the number of bytes gathered.
func (b *Batch) Size() int { return b.size }

// Segments is the number of iovecs gathered.
func (b *Batch) Segments() int { return len(b.segs) }

// Flush writes everything gathered in one vectored write and empties the
// batch, dropping its references to the data.
func (b *Batch) Flush(w io.Writer) error {
	if len(b.segs) == 0 {
		return nil
	}
	b.nb = b.segs
	_, err := b.nb.WriteTo(w)
	clear(b.segs)
	b.segs = b.segs[:0]
	b.nb = nil
	b.arena = nil
	if b.held != nil {
		arenaPool(b.arenaSize).Put(b.held)
		b.held = nil
	}
	b.size = 0
	b.lastEnd = -1
	return err
}
