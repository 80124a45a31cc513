package iscsi

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounded data buffers. A write's data-out buffer (the whole expected
// transfer length, immediate and unsolicited data included) and a read's
// data-in buffer are charged against two limits before they are allocated:
// the session's (MaxSessionBufferedData; a session has one connection, so
// the connection's account is the session's) and the server's
// (MaxBufferedData). A charge is given back when its buffer is: a write's
// once the SCSI layer has executed it (or the task failed or was aborted),
// a read's once its Data-In is written to the socket, and whatever a
// connection still holds when it ends.
//
// Without them, one session may hold QueueDepth × MaxTransferLength
// bytes (128 × 64 MiB = 8 GiB) and every session as much.
//
// When the limits are reached, commands wait, and the wait must not
// deadlock. Two rules see to it. First, charges are taken on the reader
// goroutine in delivery (CmdSN) order, and a command waits for room only
// while no earlier command of its connection waits: a task that waits for
// an earlier one (task attributes, overlapping writes) never holds room
// that the earlier one needs. Second, a task holding a write buffer while
// it gathers data-out needs the reader to read that data, so the reader
// blocks for room (stops reading: TCP backpressure) only while no task of
// its connection is gathering; every gathering task's reader is then free,
// and every charge held elsewhere is given back without help (executing
// tasks finish, Data-In is written or the write times out).
//
// While tasks are gathering, a command that sends nothing before an R2T (a
// read, or a write with the F bit set and no immediate data) waits in the
// connection's deferred queue and starts when room frees; a write that
// brings unsolicited data is answered TASK SET FULL (SAM-5 §5.3.1: the
// nexus has commands in the task set and the logical unit lacks
// resources), which initiators retry.

// Defaults of the buffered-data limits.
const (
	defaultMaxBufferedData        = 1 << 30
	defaultMaxSessionBufferedData = 128 << 20
)

// budget is the server-wide limit on buffered data bytes.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	peak  int64
	// wake, when someone waits, is closed at the next give.
	wake chan struct{}
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

func (b *budget) tryTake(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	b.mu.Unlock()
}

// setLimit changes the limit and wakes the waiters to look again.
func (b *budget) setLimit(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

// waiter returns a channel closed at the next give.
func (b *budget) waiter() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}

// bufAccount is one connection's (so one session's) share of the budget.
// Once closed it gives back everything it held and refuses new charges,
// and gives of charges it swept are ignored.
type bufAccount struct {
	mu     sync.Mutex
	b      *budget
	limit  int64
	held   int64
	closed bool
}

// tryTake charges n bytes if both limits allow it now. No request exceeds
// a limit: both are at least MaxTransferLength (setLimitDefaults).
func (a *bufAccount) tryTake(n int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.held+n > a.limit || !a.b.tryTake(n) {
		return false
	}
	a.held += n
	return true
}

// give returns a charge taken with tryTake (n as requested).
func (a *bufAccount) give(n int64) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.held -= n
	a.b.give(n)
}

// close gives back everything the account holds.
func (a *bufAccount) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.closed = true
	if a.held > 0 {
		a.b.give(a.held)
	}
	a.held = 0
}

// budgetPoll is how often a wait for buffer space wakes to show the
// connection alive (the reader is waiting for the target, not the
// initiator) and look again.
const budgetPoll = time.Second

// takeBuf charges n bytes to the connection, waiting for space; false if
// the connection ended first. The reader calls it only when no task of the
// connection is gathering data (see above).
func (c *conn) takeBuf(n int64) bool {
	if c.acct.tryTake(n) {
		return true
	}
	t := time.NewTimer(budgetPoll)
	defer t.Stop()
	for {
		w := c.srv.budget.waiter()
		if c.acct.tryTake(n) {
			return true
		}
		select {
		case <-w:
		case <-t.C:
			c.lastRecv.Store(time.Now().UnixNano())
			t.Reset(budgetPoll)
		case <-c.done:
			return false
		}
	}
}

// giveBuf returns the charge held in ch, once whoever calls it.
func (c *conn) giveBuf(ch *atomic.Int64) { c.acct.give(ch.Swap(0)) }
