package replication

import (
	"bufio"
	"runtime"
	"sync"
)

// frameWriter sends frames on one connection from many goroutines and
// gathers the frames written close together into one flush: one TLS
// write and one system call for a batch instead of one per frame, on the
// primary (requests) and on the replica (replies).
//
// The goroutine whose frame finds nothing waiting to be flushed owns the
// flush: it yields the processor once (runtime.Gosched), so the
// goroutines that are ready to run — the other commands of a burst that
// arrived together, the other requests a replica has applied — add their
// frames first, then it flushes them all. A frame therefore waits at most
// for the goroutines that were ready when it was written, never for one
// that is blocked; alone, it costs one yield.
type frameWriter struct {
	mu      sync.Mutex
	w       *bufio.Writer
	pending bool // frames are buffered and their owner will flush them
	// under, if set, is the connection beneath w, itself buffered
	// (ClientTLS): flushed after w.
	under flusher
	// arm, if set, is called before each write to the connection may
	// block (it sets the connection's write deadline).
	arm func()
}

// write appends one frame (its header, then payload) to the buffer and,
// if this goroutine owns the flush, flushes the batch. An error is the
// connection's: the frame may not have been sent.
func (fw *frameWriter) write(header, payload []byte) error {
	fw.mu.Lock()
	if fw.arm != nil {
		fw.arm()
	}
	_, err := fw.w.Write(header)
	if err == nil && len(payload) > 0 {
		_, err = fw.w.Write(payload)
	}
	owner := !fw.pending
	fw.pending = true
	fw.mu.Unlock()
	if err != nil || !owner {
		return err
	}
	runtime.Gosched()
	fw.mu.Lock()
	if fw.arm != nil {
		fw.arm()
	}
	fw.pending = false
	err = fw.w.Flush()
	if err == nil && fw.under != nil {
		err = fw.under.Flush()
	}
	fw.mu.Unlock()
	return err
}
