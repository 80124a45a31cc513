package iscsi

import "github.com/halun/halun/internal/scsi"

// The reader's side of the buffered-data budget (budget.go): where a
// write's buffer is charged, and what the reader does when there is no
// room. All of it runs on the connection's reader goroutine.

// waitBuf charges n bytes to the connection, stopping the reader until
// there is room; false if the connection ended first. Only while no task
// of the connection gathers data-out: those need the reader. Responses the
// reader deferred go out first, since they may hold charges themselves.
func (c *conn) waitBuf(n int64) bool {
	if c.acct.tryTake(n) {
		return true
	}
	c.flushIfIdle()
	return c.takeBuf(n)
}

// reserve charges a task's buffers (bufBytes) before it starts;
// unsolicited says write data for it follows without an R2T. It reports
// false when the task does not start now: it waits in the deferred queue
// (in delivery order: a later task is never charged before an earlier
// one, so a task that waits for an earlier one never holds the room that
// one needs), it was answered TASK SET FULL, or the connection ended.
func (c *conn) reserve(t *task, unsolicited bool) bool {
	n := t.bufBytes()
	if n == 0 {
		return true
	}
	c.resumeDeferred()
	if len(c.deferred) == 0 && c.acct.tryTake(n) {
		t.setCharge()
		return true
	}
	switch {
	case !unsolicited:
		// Nothing arrives for it before its R2T (a read, or a write
		// without unsolicited data): it waits holding nothing, and the
		// reader waits for room once no task gathers data.
		c.deferred = append(c.deferred, t)
		return false
	case c.gathering.Load() == 0 && len(c.deferred) == 0:
		if !c.waitBuf(n) {
			return false
		}
		t.setCharge()
		return true
	}
	c.taskSetFull(t)
	return false
}

// resumeDeferred charges and starts the deferred tasks, in order, as far
// as there is room; while no task of the connection gathers data, it waits
// for room.
func (c *conn) resumeDeferred() {
	for len(c.deferred) > 0 {
		t := c.deferred[0]
		if t.isGathering() {
			n := t.bufBytes()
			if !c.acct.tryTake(n) && (c.gathering.Load() > 0 || !c.waitBuf(n)) {
				return
			}
			t.setCharge()
			c.deferred[0] = nil
			c.deferred = c.deferred[1:]
			c.proceed(t)
			continue
		}
		c.deferred[0] = nil
		c.deferred = c.deferred[1:]
	}
}

func (t *task) isGathering() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == taskGathering
}

// taskSetFull answers a write that brings unsolicited data the connection
// has no room for with TASK SET FULL (SAM-5 §5.3.1): commands of the
// nexus are in the task set and the logical unit lacks resources. Its
// data is read and dropped like that of any task that ended early.
func (c *conn) taskSetFull(t *task) {
	t.mu.Lock()
	if t.state != taskGathering {
		t.mu.Unlock()
		return
	}
	t.state = taskExecuting
	t.mu.Unlock()
	c.srv.taskSetFull.Add(1)
	c.log.Debug("no room for a write's unsolicited data: TASK SET FULL", "itt", t.itt, "edtl", t.edtl)
	t.respond(scsi.Result{Status: scsi.StatusTaskSetFull})
}

// dropImmBuf gives back the charge of an immediate-data buffer that no
// task adopted (the command was rejected or failed); the buffer is left to
// the garbage collector.
func (c *conn) dropImmBuf() {
	if c.immBuf == nil {
		return
	}
	c.acct.give(c.immCharge)
	c.immBuf, c.immCharge = nil, 0
}

// immDest returns a charged buffer of the whole write for a SCSI command
// whose immediate data (n bytes of an edtl-byte write, read for a
// bidirectional command) the reader is about to read, so the data lands in place; nil when the command is not
// delivered at once (CmdSN order), other writes wait before it, or there is
// no room while tasks gather (the data is then read into a buffer of its
// own and the command most likely answered TASK SET FULL).
func (c *conn) immDest(n, edtl, cmdSN uint32, immediate, read bool) []byte {
	if len(c.deferred) > 0 || !c.sess.inOrder(cmdSN, immediate) {
		return nil
	}
	charge := int64(edtl)
	if read {
		// Bidirectional: the data-in buffer too (bufBytes).
		charge *= 2
	}
	if !c.acct.tryTake(charge) && (c.gathering.Load() > 0 || !c.waitBuf(charge)) {
		return nil
	}
	c.immBuf, c.immCharge = getBuf(int(edtl)), charge
	return c.immBuf[:n]
}

// BufferStats describes the buffered-data budget (budget.go).
type BufferStats struct {
	// Limit is MaxBufferedData; Used the bytes charged now; Peak the
	// most charged at once since the server started.
	Limit, Used, Peak int64
	// TaskSetFull counts writes answered TASK SET FULL for lack of room.
	TaskSetFull uint64
}

// BufferStats returns the state of the buffered-data budget.
func (s *Server) BufferStats() BufferStats {
	s.budget.mu.Lock()
	defer s.budget.mu.Unlock()
	return BufferStats{Limit: s.budget.limit, Used: s.budget.used, Peak: s.budget.peak,
		TaskSetFull: s.taskSetFull.Load()}
}
