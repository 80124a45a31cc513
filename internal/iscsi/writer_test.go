package iscsi

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// memConn is a connection whose writes never block; it counts them.
type memConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (m *memConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	m.writes++
	m.mu.Unlock()
	return len(p), nil
}
func (m *memConn) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }
func (m *memConn) Close() error                     { return nil }

// Responses completed by goroutines that are ready together (a burst of
// replicated writes whose replica answered in one batch) leave in one or
// two flushes, not one each: the writer yields once before it flushes.
// Without the yield every try leaves in 8 flushes. A thread the host
// deschedules for 10 ms lets the runtime preempt a goroutine mid-burst, so
// the burst is tried a few times and one batched try suffices.
func TestWriterBatchesResponsesReadyTogether(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const tries = 5
	var got []int
	for range tries {
		n := flushesForBurst(t, 8)
		if n <= 2 {
			return
		}
		got = append(got, n)
	}
	t.Errorf("8 responses ready together left in %v flushes in %d tries, want them batched (at most 2)", got, tries)
}

// flushesForBurst has n goroutines, released together, send one response
// each through a fresh connection's writer, and returns how many flushes
// carried them.
func flushesForBurst(t *testing.T, n int) int {
	t.Helper()
	mc := &memConn{}
	c := &conn{srv: &Server{cfg: Config{NopInterval: time.Hour, WriteTimeout: time.Minute}}, nc: mc,
		out: make(chan *outItem, 256), done: make(chan struct{})}
	c.bw = &batchWriter{b: pdu.NewBatch(32 << 10), conn: c}
	c.wg.Add(1)
	go c.writeLoop()
	defer func() { c.close(nil); c.wg.Wait() }()

	flushedAt := make(chan int, n) // the write count each response saw once sent
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it := &outItem{data: make([]byte, 48), after: func() { flushedAt <- mc.count() }}
			it.hdr[0] = byte(pdu.OpSCSIResponse)
			it.hdr[19] = byte(i)
			<-start
			c.send(it)
		}()
	}
	close(start)
	wg.Wait()
	flushes := map[int]bool{}
	for range n {
		select {
		case w := <-flushedAt:
			flushes[w] = true
		case <-time.After(5 * time.Second):
			t.Fatal("a response was never written")
		}
	}
	return len(flushes)
}
