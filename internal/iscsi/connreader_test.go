package iscsi

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestConnReaderGrowsAndShrinks: bytes come out as they went in, whatever
// the read sizes; a full small buffer switches to the big one, and a
// partial fill goes back to the small one.
func TestConnReaderGrowsAndShrinks(t *testing.T) {
	src := make([]byte, 300<<10)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, chunk := range []int{1, 48, 4000, 5000, 70000} {
		r := newConnReader(bytes.NewReader(src))
		var out []byte
		p := make([]byte, chunk)
		for {
			n, err := r.Read(p)
			out = append(out, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, src) {
			t.Fatalf("chunk %d: bytes differ", chunk)
		}
	}
	r := newConnReader(bytes.NewReader(src))
	p := make([]byte, 100)
	r.Read(p) // fills the small buffer completely: busy
	for r.Buffered() > 0 {
		r.Read(p)
	}
	r.Read(p)
	if len(r.buf) != bigReadBuf {
		t.Fatalf("after a full small fill the buffer is %d bytes, want %d", len(r.buf), bigReadBuf)
	}
	r = newConnReader(iotest.OneByteReader(bytes.NewReader(src)))
	r.busy, r.big = false, nil
	r.Read(p)
	if len(r.buf) != len(r.small) {
		t.Fatalf("an idle reader uses %d bytes, want the small buffer", len(r.buf))
	}
}
