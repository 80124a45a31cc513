package workers

import "time"

// Pool runs functions on goroutines that outlive one call: on an idle
// worker if one waits, else on a new one. A fresh goroutine starts with a
// small stack and grows it, by copying, whenever its work goes deep — a
// replicated write through the iSCSI and SCSI layers, the replication
// store and TLS copied its stack several times, an eighth of a primary's
// CPU. A worker keeps the stack it grew. A worker with nothing to do for
// the pool's idle time ends, so an idle pool holds no goroutine.
type Pool struct {
	ch   chan func() // unbuffered: a send succeeds only to a waiting worker
	idle time.Duration
}

// Idle is how long a worker of New's pools waits for its next call.
const Idle = time.Second

// New returns a pool whose workers end after Idle without work.
func New() *Pool { return &Pool{ch: make(chan func()), idle: Idle} }

// Run runs fn on a worker and returns at once.
func (w *Pool) Run(fn func()) {
	select {
	case w.ch <- fn:
	default:
		go w.loop(fn)
	}
}

func (w *Pool) loop(fn func()) {
	fn()
	idle := time.NewTimer(w.idle)
	defer idle.Stop()
	for {
		select {
		case fn = <-w.ch:
			fn()
			idle.Reset(w.idle)
		case <-idle.C:
			return
		}
	}
}
