package iscsi

import (
	"io"
	"sync"
)

// connReader buffers a connection's input like bufio.Reader, but sizes its
// buffer to the traffic: an idle or lightly used connection reads through a
// small buffer (so a thousand idle sessions stay small), and once reads fill
// that buffer — commands are arriving back to back — it borrows a 64 KiB
// buffer from a pool, so a burst of small commands costs one read system
// call per 64 KiB. The big buffer goes back to the pool when the input
// runs dry.
type connReader struct {
	r     io.Reader
	small [4096]byte
	big   *[]byte
	buf   []byte // the current buffer: small[:] or *big
	start int
	end   int
	busy  bool // the last fill filled the buffer
}

const bigReadBuf = 64 << 10

var bigReadBufs = sync.Pool{New: func() any { b := make([]byte, bigReadBuf); return &b }}

func newConnReader(r io.Reader) *connReader {
	c := &connReader{r: r}
	c.buf = c.small[:]
	return c
}

// Buffered is the number of bytes read ahead and not yet consumed.
func (c *connReader) Buffered() int { return c.end - c.start }

func (c *connReader) Read(p []byte) (int, error) {
	if c.start == c.end {
		c.choose()
		if len(p) >= len(c.buf) {
			// Large reads (data segments) go straight to their
			// destination.
			return c.r.Read(p)
		}
		n, err := c.r.Read(c.buf)
		c.start, c.end = 0, n
		c.busy = n == len(c.buf)
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.start:c.end])
	c.start += n
	return n, nil
}

// choose picks the buffer for the next fill; the buffer is empty.
func (c *connReader) choose() {
	switch {
	case c.busy && c.big == nil:
		c.big = bigReadBufs.Get().(*[]byte)
		c.buf = *c.big
	case !c.busy && c.big != nil:
		bigReadBufs.Put(c.big)
		c.big = nil
		c.buf = c.small[:]
	}
}
