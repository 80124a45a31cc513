package replication

import (
	"bufio"
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// countingWriter counts the writes that reach the connection.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// Frames written by goroutines that are ready together leave in one
// flush, each whole; alone, a frame is flushed at once.
func TestFrameWriterBatches(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var conn countingWriter
	fw := &frameWriter{w: bufio.NewWriterSize(&conn, 64<<10)}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f := &frame{typ: msgWrite, seq: uint64(i), payload: bytes.Repeat([]byte{byte(i)}, 4096)}
			if err := fw.write(appendHeader(nil, f), f.payload); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if conn.writes > 2 {
		t.Errorf("8 frames ready together took %d writes, want them batched (at most 2)", conn.writes)
	}
	seen := map[uint64]bool{}
	r := bufio.NewReader(bytes.NewReader(conn.Bytes()))
	for range 8 {
		var f frame
		if _, err := readFrame(r, &f, nil); err != nil {
			t.Fatalf("frame %d: %v", len(seen), err)
		}
		if !bytes.Equal(f.payload, bytes.Repeat([]byte{byte(f.seq)}, 4096)) {
			t.Errorf("frame %d: payload mixed with another's", f.seq)
		}
		seen[f.seq] = true
	}
	if len(seen) != 8 || r.Buffered() != 0 {
		t.Errorf("got frames %v and %d bytes more, want 8 frames exactly", seen, r.Buffered())
	}

	before := conn.writes
	if err := fw.write(appendHeader(nil, &frame{typ: msgPing}), nil); err != nil {
		t.Fatal(err)
	}
	if conn.writes != before+1 {
		t.Errorf("a lone frame was not flushed at once (%d writes)", conn.writes-before)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

// The flush's error reaches the writer that owns it.
func TestFrameWriterError(t *testing.T) {
	fw := &frameWriter{w: bufio.NewWriterSize(failingWriter{}, 64<<10)}
	if err := fw.write(appendHeader(nil, &frame{typ: msgPing}), nil); err == nil {
		t.Error("a failed flush reported no error")
	}
}
