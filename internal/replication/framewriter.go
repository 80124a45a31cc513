package replication

import (
	"io"
	"runtime"
	"sync"
)

// Buffering of a frameWriter.
const (
	// batchLimit is how many bytes of frames may wait while a batch is
	// being sent; a writer that would add more waits for the send.
	batchLimit = 256 << 10
	// directMin is the payload size from which a frame is not copied
	// into the batch but written to the connection from the caller's
	// buffer, once the frames before it are sent.
	directMin = 64 << 10
)

// frameWriter sends frames on one connection from many goroutines and
// gathers the frames written close together into one send: one TLS
// write and one system call for a batch instead of one per frame, on the
// primary (requests) and on the replica (replies).
//
// A frame is appended to the batch under a short lock. The goroutine
// whose frame finds no send under way becomes the sender: it yields the
// processor once (runtime.Gosched), so the goroutines that are ready to
// run — the other commands of a burst that arrived together, the other
// requests a replica has applied — add their frames first, then sends
// the batch, and goes on sending whatever the others added meanwhile
// until nothing waits. Writers never wait for a system call (only when
// the batch is over batchLimit): while one batch is on its way, the
// next gathers. A frame therefore waits at most for the goroutines that
// were ready when it was written and for the send before it. A writer
// that knows its frame is alone (writeNow) skips the yield.
//
// A frame added to a batch another goroutine sends is reported sent; if
// the send fails, the sender's write returns the error (its caller fails
// the connection) and every later write returns it too.
type frameWriter struct {
	// w is the connection.
	w io.Writer
	// under, if set, is the connection beneath w, itself buffered
	// (ClientTLS): flushed after each send.
	under flusher
	// arm, if set, is called before each write to the connection may
	// block (it sets the connection's write deadline).
	arm func()

	mu      sync.Mutex
	cond    sync.Cond // on mu: a send ended
	batch   []byte    // frames waiting for the sender
	spare   []byte    // the buffer of the batch sent last, for reuse
	sending bool      // a goroutine is sending
	err     error     // the connection's first failure

	// gosched, if set, replaces runtime.Gosched (tests count yields).
	gosched func()
}

func (fw *frameWriter) yield() {
	if fw.gosched != nil {
		fw.gosched()
		return
	}
	runtime.Gosched()
}

// write sends one frame (its header, then payload). An error is the
// connection's: the frame may not have been sent.
func (fw *frameWriter) write(header, payload []byte) error {
	return fw.put(header, payload, true)
}

// writeNow is write for a writer that knows no other frame is on its
// way (a primary's request while none awaits an answer: nothing else is
// in flight). It sends without yielding first: a yield is not free where
// a processor is idle — the runtime wakes a thread to take the yielded
// goroutine, some 20 µs of a lone write's round trip on a virtual
// machine, for no frame to gather.
func (fw *frameWriter) writeNow(header, payload []byte) error {
	return fw.put(header, payload, false)
}

// put adds a frame to the batch and, unless a send is under way, sends
// it, yielding first if asked (see sendAll).
func (fw *frameWriter) put(header, payload []byte, yield bool) error {
	fw.mu.Lock()
	direct := len(payload) >= directMin
	if err := fw.room(len(header)+len(payload), direct); err != nil {
		fw.mu.Unlock()
		return err
	}
	fw.batch = append(fw.batch, header...)
	if !direct {
		fw.batch = append(fw.batch, payload...)
		payload = nil
	}
	if fw.sending {
		fw.mu.Unlock()
		return nil
	}
	return fw.sendAll(payload, yield && payload == nil)
}

// queue adds a frame to the batch without sending it: its writer has
// more to add and sends them all with flush (a replica's reader that
// applies the requests it has read, one after the other). A batch that
// grows to half of batchLimit is sent at once; a send under way sends
// the frame too. An error is the connection's.
func (fw *frameWriter) queue(header, payload []byte) error {
	fw.mu.Lock()
	if err := fw.room(len(header)+len(payload), false); err != nil {
		fw.mu.Unlock()
		return err
	}
	fw.batch = append(fw.batch, header...)
	fw.batch = append(fw.batch, payload...)
	if fw.sending || len(fw.batch) < batchLimit/2 {
		fw.mu.Unlock()
		return nil
	}
	return fw.sendAll(nil, false)
}

// flush sends the frames queued, unless a send under way does. It does
// not yield first: its caller queued all it had.
func (fw *frameWriter) flush() error {
	fw.mu.Lock()
	if fw.sending || len(fw.batch) == 0 || fw.err != nil {
		err := fw.err
		fw.mu.Unlock()
		return err
	}
	return fw.sendAll(nil, false)
}

// room waits, fw.mu held, until a frame of n bytes may join the batch
// (a direct one: until no send is under way), and returns the
// connection's failure if it has failed.
func (fw *frameWriter) room(n int, direct bool) error {
	if fw.cond.L == nil {
		fw.cond.L = &fw.mu
	}
	for fw.err == nil && fw.sending && (direct || len(fw.batch)+n > batchLimit) {
		fw.cond.Wait()
	}
	return fw.err
}

// sendAll, called with fw.mu held and no send under way, makes the
// caller the sender: it yields first if asked (so the goroutines ready
// to run add their frames), then sends the batch and payload, and goes
// on sending what others add meanwhile until nothing waits. It unlocks
// fw.mu.
func (fw *frameWriter) sendAll(payload []byte, yield bool) error {
	fw.sending = true
	fw.mu.Unlock()

	if yield {
		fw.yield()
	}
	fw.mu.Lock()
	for len(fw.batch) > 0 && fw.err == nil {
		out := fw.batch
		fw.batch = fw.spare[:0]
		fw.mu.Unlock()
		err := fw.send(out, payload)
		payload = nil
		fw.mu.Lock()
		fw.spare = out[:0]
		if err != nil {
			fw.err = err
		}
		fw.cond.Broadcast()
	}
	fw.sending = false
	fw.cond.Broadcast()
	err := fw.err
	fw.mu.Unlock()
	return err
}

// send writes a batch, then a payload written from its own buffer, and
// flushes the connection beneath.
func (fw *frameWriter) send(batch, payload []byte) error {
	if fw.arm != nil {
		fw.arm()
	}
	if _, err := fw.w.Write(batch); err != nil {
		return err
	}
	if len(payload) > 0 {
		if _, err := fw.w.Write(payload); err != nil {
			return err
		}
	}
	if fw.under != nil {
		return fw.under.Flush()
	}
	return nil
}
