package iscsi

import (
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/scsi"
)

// handleTMF runs a Task Management Function Request (RFC 7143 §11.5) in
// CmdSN order. Aborts wait for the affected tasks to leave the SCSI layer,
// so they run on their own goroutine and the reader keeps reading.
func (c *conn) handleTMF(p *pdu.PDU) {
	var m pdu.TaskMgmtReq
	m.Decode(&p.Header)
	c.srv.events.taskManagement(m.Function)
	c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
		c.sess.startWork()
		go func() {
			defer c.sess.endWork()
			resp := c.runTMF(&m)
			r := pdu.TaskMgmtResp{Response: resp, ITT: m.ITT}
			it := &outItem{fillSN: true, advance: true}
			r.Encode(&it.hdr)
			if m.Function == pdu.TMFTargetColdReset && resp == pdu.TMFRespComplete {
				// RFC 7143 §11.5.1: a cold reset drops every connection of
				// the target. The other sessions end now, with the reset,
				// so that one logging in once the response is out is a
				// new session and stays; this one ends after its response.
				c.srv.dropTargetSessions(c.sess.targetName, c.sess)
				it.closeAfter = true
			}
			c.enqueue(it)
			if !m.Immediate {
				c.sess.release()
			}
		}()
	}))
}

// runTMF performs one task management function. The LUN-scoped ones act
// on the logical unit the LUN addresses in the session's view, not on the
// LUN number: the task set belongs to the logical unit (SAM-5 4.6.2), so
// ABORT TASK and ABORT TASK SET reach this nexus' tasks on it, and CLEAR
// TASK SET and LOGICAL UNIT RESET the tasks of every nexus on it, whichever
// target and LUN number they came through.
func (c *conn) runTMF(m *pdu.TaskMgmtReq) uint8 {
	ss := c.sess
	luns := ss.target.LUNs
	lunScoped := m.Function >= pdu.TMFAbortTask && m.Function <= pdu.TMFLogicalUnitReset
	var lu *scsi.LU
	if lunScoped {
		if lu = luns.LogicalUnit(ss.nexus, m.LUN); lu == nil {
			return pdu.TMFRespNoLUN
		}
	}
	switch m.Function {
	case pdu.TMFAbortTask:
		if !lu.Tasks().AbortTask(ss.nexus, uint64(m.RTT)) {
			return pdu.TMFRespNoTask
		}
		c.log.Info("task aborted", "itt", m.RTT)
		return pdu.TMFRespComplete
	case pdu.TMFAbortTaskSet:
		lu.Tasks().AbortNexus(ss.nexus)
		return pdu.TMFRespComplete
	case pdu.TMFClearTaskSet:
		lu.Tasks().Clear(ss.nexus)
		return pdu.TMFRespComplete
	case pdu.TMFLogicalUnitReset:
		luns.LogicalUnitReset(ss.nexus, m.LUN)
		c.log.Info("logical unit reset", "lun", m.LUN)
		return pdu.TMFRespComplete
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
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

// dropTargetSessions ends every session of target except keep (which ends
// on its own when its connection closes).
func (s *Server) dropTargetSessions(target string, keep *session) {
	for _, ss := range s.sessionsOf(target) {
		if ss != keep {
			ss.end(errTargetReset)
		}
	}
}
