package scsi

import (
	"sync"
	"sync/atomic"
)

// The task set of a logical unit (SAM-5 4.6.2): every command that entered
// the logical unit, from every I_T nexus, whatever target or LUN number it
// came through. Task management is scoped by it — the task set belongs to
// the logical unit, not to a LUN number, which per-initiator views give
// different logical units under one number and one logical unit under
// several.

// Aborter aborts one command of a task set. AbortCommand returns once the
// command has left the logical unit, reporting false if the command had
// already ended (its status was on its way). With taskAborted the
// transport completes the command with TASK ABORTED status; without it the
// command ends with no status at all.
type Aborter interface {
	AbortCommand(taskAborted bool) bool
}

// AbortFunc is an Aborter made of a function.
type AbortFunc func(taskAborted bool) bool

// AbortCommand calls f.
func (f AbortFunc) AbortCommand(taskAborted bool) bool { return f(taskAborted) }

// TaskSet is a logical unit's task set. The transport adds each command
// when it arrives for the logical unit — before its data-out is gathered —
// with a way to abort it, and removes it when the command ends. It is safe
// for concurrent use; its zero value is an empty task set.
type TaskSet struct {
	mu    sync.Mutex
	tasks map[*TaskEntry]struct{}
}

// TaskEntry is one command in a task set. The transport keeps it in its
// own task, so entering a task set allocates nothing; the zero value is in
// no task set.
type TaskEntry struct {
	set   *TaskSet
	nexus Nexus
	tag   uint64
	abort Aborter
}

// Add enters e, the command with tag (the transport's task tag, unique per
// I_T nexus) from nexus n, into the task set; a aborts it. e must not be
// in a task set.
func (s *TaskSet) Add(e *TaskEntry, n Nexus, tag uint64, a Aborter) {
	*e = TaskEntry{set: s, nexus: n, tag: tag, abort: a}
	s.mu.Lock()
	if s.tasks == nil {
		s.tasks = make(map[*TaskEntry]struct{})
	}
	s.tasks[e] = struct{}{}
	s.mu.Unlock()
}

// Remove takes the command out of its task set when it ends; an entry in
// no task set stays so.
func (e *TaskEntry) Remove() {
	if e.set == nil {
		return
	}
	e.set.mu.Lock()
	delete(e.set.tasks, e)
	e.set.mu.Unlock()
}

// AbortTask is ABORT TASK (SAM-5 7.2): it aborts the command with tag
// from nexus n, without status, and reports whether there was one to
// abort.
func (s *TaskSet) AbortTask(n Nexus, tag uint64) bool {
	return s.abortWhere(n, func(e *TaskEntry) bool { return e.nexus == n && e.tag == tag }) > 0
}

// AbortNexus is ABORT TASK SET (SAM-5 7.3): it aborts every command from
// nexus n, without status, and returns how many it aborted.
func (s *TaskSet) AbortNexus(n Nexus) int {
	return s.abortWhere(n, func(e *TaskEntry) bool { return e.nexus == n })
}

// Clear is CLEAR TASK SET (SAM-5 7.4), and the abort a LOGICAL UNIT RESET
// performs (SAM-5 6.3.3): every command of every I_T nexus is aborted, by
// nexus from. It returns how many it aborted.
func (s *TaskSet) Clear(from Nexus) int {
	return s.abortWhere(from, func(*TaskEntry) bool { return true })
}

// abortNexuses aborts every command from an I_T nexus preempted reports
// true for, on behalf of from (PREEMPT AND ABORT, SPC-4 5.12.11.2.6).
func (s *TaskSet) abortNexuses(from Nexus, preempted func(Nexus) bool) int {
	return s.abortWhere(from, func(e *TaskEntry) bool { return preempted(e.nexus) })
}

// abortWhere aborts the commands match selects on behalf of nexus from and
// waits until they have left the logical unit. It returns how many it
// aborted (those that had not already ended). Commands of another I_T
// nexus than from complete with TASK ABORTED status, those of from with
// none (SAM-5 5.6): halun sets TAS in the control mode page (mode.go), so
// an initiator learns of commands another one aborted from their status
// rather than from a COMMANDS CLEARED BY ANOTHER INITIATOR unit attention.
func (s *TaskSet) abortWhere(from Nexus, match func(*TaskEntry) bool) int {
	s.mu.Lock()
	var hit []*TaskEntry
	for e := range s.tasks {
		if match(e) {
			hit = append(hit, e)
		}
	}
	s.mu.Unlock()
	// Abort them all at once: each abort waits for its command to leave
	// the logical unit.
	var wg sync.WaitGroup
	var aborted atomic.Int64
	for _, e := range hit {
		wg.Go(func() {
			if e.abort.AbortCommand(e.nexus != from) {
				aborted.Add(1)
			}
		})
	}
	wg.Wait()
	return int(aborted.Load())
}
