package iscsi

import "time"

// workers runs tasks on goroutines that outlive one task. A task that
// does not run on its connection's reader goroutine runs on an idle
// worker if one waits, else on a new one. A fresh goroutine starts with
// a small stack and grows it, by copying, on every task that goes deep —
// a replicated write through the SCSI layer, the replication store and
// TLS copied its stack several times, an eighth of a primary's CPU. A
// worker keeps the stack it grew. A worker with nothing to do for
// workerIdle ends, so an idle target holds none.
type workers struct {
	ch   chan func() // unbuffered: a send succeeds only to a waiting worker
	idle time.Duration
}

// workerIdle is how long a worker waits for its next task.
const workerIdle = time.Second

func newWorkers() *workers { return &workers{ch: make(chan func()), idle: workerIdle} }

// run runs fn on a worker.
func (w *workers) run(fn func()) {
	select {
	case w.ch <- fn:
	default:
		go w.loop(fn)
	}
}

func (w *workers) loop(fn func()) {
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
