package iscsi

import (
	"github.com/halun/halun/internal/iscsi/pdu"
)

// handleTMF runs a Task Management Function Request (RFC 7143 §11.5) in
// CmdSN order. Aborts wait for the affected tasks to leave the SCSI layer,
// so they run on their own goroutine and the reader keeps reading.
func (c *conn) handleTMF(p *pdu.PDU) {
	var m pdu.TaskMgmtReq
	m.Decode(&p.Header)
	c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
		c.sess.running.Add(1)
		go func() {
			defer c.sess.running.Done()
			resp := c.runTMF(&m)
			r := pdu.TaskMgmtResp{Response: resp, ITT: m.ITT}
			it := &outItem{fillSN: true, advance: true}
			r.Encode(&it.hdr)
			if m.Function == pdu.TMFTargetColdReset && resp == pdu.TMFRespComplete {
				// RFC 7143 §11.5.1: after a cold reset the target drops
				// every connection of the target, this one after the
				// response.
				it.after = func() { go c.srv.dropTargetSessions(c.sess.targetName, c.sess) }
				it.closeAfter = true
			}
			c.enqueue(it)
			if !m.Immediate {
				c.sess.release()
			}
		}()
	}))
}

func (c *conn) runTMF(m *pdu.TaskMgmtReq) uint8 {
	ss := c.sess
	luns := ss.target.LUNs
	lunScoped := m.Function >= pdu.TMFAbortTask && m.Function <= pdu.TMFLogicalUnitReset
	if lunScoped && !luns.HasLUN(ss.nexus, m.LUN) {
		return pdu.TMFRespNoLUN
	}
	switch m.Function {
	case pdu.TMFAbortTask:
		t := ss.findTask(m.RTT)
		if t == nil || t.lun != m.LUN {
			return pdu.TMFRespNoTask
		}
		if !t.abort() {
			return pdu.TMFRespNoTask
		}
		c.log.Info("task aborted", "itt", m.RTT)
		return pdu.TMFRespComplete
	case pdu.TMFAbortTaskSet:
		abortAll(ss.tasksMatching(func(t *task) bool { return t.lun == m.LUN }))
		return pdu.TMFRespComplete
	case pdu.TMFClearTaskSet:
		c.abortTargetTasks(func(t *task) bool { return t.lun == m.LUN })
		return pdu.TMFRespComplete
	case pdu.TMFLogicalUnitReset:
		c.abortTargetTasks(func(t *task) bool { return t.lun == m.LUN })
		luns.LogicalUnitReset(ss.nexus, m.LUN)
		c.log.Info("logical unit reset", "lun", m.LUN)
		return pdu.TMFRespComplete
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		c.abortTargetTasks(func(*task) bool { return true })
		luns.TargetReset(ss.nexus)
		c.log.Info("target reset", "cold", m.Function == pdu.TMFTargetColdReset)
		return pdu.TMFRespComplete
	case pdu.TMFTaskReassign:
		// Task reassignment needs ERL 2 (RFC 7143 §11.5.1).
		return pdu.TMFRespReassignNoSupport
	default:
		return pdu.TMFRespNotSupported
	}
}

func abortAll(ts []*task) {
	for _, t := range ts {
		t.abort()
	}
}

// abortTargetTasks aborts matching tasks of every session of this target:
// a logical unit or target reset affects all I_T nexuses.
func (c *conn) abortTargetTasks(match func(*task) bool) {
	for _, ss := range c.srv.sessionsOf(c.sess.targetName) {
		abortAll(ss.tasksMatching(match))
	}
}

// dropTargetSessions ends every session of target except keep (which ends
// on its own when its connection closes).
func (s *Server) dropTargetSessions(target string, keep *session) {
	for _, ss := range s.sessionsOf(target) {
		if ss != keep {
			ss.end(errTargetReset)
		}
	}
}
