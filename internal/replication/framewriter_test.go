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
	fw := &frameWriter{w: &conn}
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

// The send's error reaches the writer that sent, and every later write:
// the connection has failed.
func TestFrameWriterError(t *testing.T) {
	fw := &frameWriter{w: failingWriter{}}
	if err := fw.write(appendHeader(nil, &frame{typ: msgPing}), nil); err == nil {
		t.Error("a failed send reported no error")
	}
	if err := fw.write(appendHeader(nil, &frame{typ: msgPing}), nil); err == nil {
		t.Error("a write after a failed send reported no error")
	}
}

// blockingWriter holds its first write until release is closed.
type blockingWriter struct {
	countingWriter
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
	sizes   []int
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	first := b.writes == 0
	b.sizes = append(b.sizes, len(p))
	n, err := b.countingWriter.Write(p)
	b.mu.Unlock()
	if first {
		close(b.entered)
		<-b.release
	}
	return n, err
}

// A frame written while another goroutine's send is blocked in the
// connection is added to the next batch and its writer returns at once:
// writers never wait for a system call. The sender sends it after its
// own batch, in order.
func TestFrameWriterDoesNotWaitForASend(t *testing.T) {
	conn := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	fw := &frameWriter{w: conn}
	sent := make(chan error, 1)
	go func() {
		f := &frame{typ: msgWrite, seq: 1, payload: []byte("first")}
		sent <- fw.write(appendHeader(nil, f), f.payload)
	}()
	<-conn.entered
	for seq := uint64(2); seq <= 4; seq++ {
		f := &frame{typ: msgWrite, seq: seq, payload: []byte("later")}
		if err := fw.write(appendHeader(nil, f), f.payload); err != nil {
			t.Fatal(err)
		}
	}
	close(conn.release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if conn.writes != 2 {
		t.Errorf("%d writes, want 2: the blocked one and one batch of the 3 frames written meanwhile", conn.writes)
	}
	wantSeqs(t, conn.Bytes(), 4)
}

// A large payload is written from the caller's buffer, after the frames
// before it and its header; frames written meanwhile follow it.
func TestFrameWriterLargePayloadWrittenDirectly(t *testing.T) {
	conn := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	fw := &frameWriter{w: conn}
	big := bytes.Repeat([]byte{7}, directMin)
	sent := make(chan error, 1)
	go func() {
		f := &frame{typ: msgWrite, seq: 1, payload: big}
		sent <- fw.write(appendHeader(nil, f), f.payload)
	}()
	<-conn.entered
	small := &frame{typ: msgPing, seq: 2}
	if err := fw.write(appendHeader(nil, small), nil); err != nil {
		t.Fatal(err)
	}
	close(conn.release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(conn.sizes) != 3 || conn.sizes[0] != headerLen || conn.sizes[1] != directMin || conn.sizes[2] != headerLen {
		t.Errorf("writes of %v bytes, want the header, the payload whole, then the frame written meanwhile", conn.sizes)
	}
	wantSeqs(t, conn.Bytes(), 2)
}

// wantSeqs checks that b holds frames 1 to n, in order, and nothing more.
func wantSeqs(t *testing.T, b []byte, n uint64) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	for seq := uint64(1); seq <= n; seq++ {
		var f frame
		if _, err := readFrame(r, &f, nil); err != nil || f.seq != seq {
			t.Fatalf("frame %d: seq %d, %v", seq, f.seq, err)
		}
	}
	if r.Buffered() != 0 {
		t.Fatalf("%d bytes after frame %d", r.Buffered(), n)
	}
}

// Queued frames wait for flush and leave in one write; a queue that
// reaches half of batchLimit is sent without waiting for it.
func TestFrameWriterQueue(t *testing.T) {
	var conn countingWriter
	fw := &frameWriter{w: &conn}
	for i := range 4 {
		f := &frame{typ: msgReply, seq: uint64(i), payload: []byte("ok")}
		if err := fw.queue(appendHeader(nil, f), f.payload); err != nil {
			t.Fatal(err)
		}
	}
	if conn.writes != 0 {
		t.Fatalf("queued frames were written before the flush (%d writes)", conn.writes)
	}
	if err := fw.flush(); err != nil {
		t.Fatal(err)
	}
	if conn.writes != 1 {
		t.Fatalf("4 queued frames left in %d writes, want 1", conn.writes)
	}
	r := bufio.NewReader(bytes.NewReader(conn.Bytes()))
	for i := range 4 {
		var f frame
		if _, err := readFrame(r, &f, nil); err != nil || f.seq != uint64(i) || string(f.payload) != "ok" {
			t.Fatalf("frame %d: seq %d payload %q: %v", i, f.seq, f.payload, err)
		}
	}
	if err := fw.flush(); err != nil || conn.writes != 1 {
		t.Fatalf("a flush with nothing queued wrote (%d writes): %v", conn.writes, err)
	}

	big := make([]byte, batchLimit/2)
	if err := fw.queue(appendHeader(nil, &frame{typ: msgReply, payload: big}), big); err != nil {
		t.Fatal(err)
	}
	if conn.writes != 2 {
		t.Errorf("a queue of half the batch limit waited for a flush (%d writes)", conn.writes)
	}
}
