package initiator

import (
	"bytes"
	"context"
	"fmt"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// sendImmediate registers t and sends the PDU build returns as an immediate
// request (RFC 7143 §3.2.2.1: it carries the current CmdSN, which it does not
// consume). build runs with s.mu held. If itt is not nil, t takes that tag.
func (s *Session) sendImmediate(t *Task, itt *uint32, build func(t *Task, cmdSN, expStatSN uint32) (pdu.Header, []byte)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if itt != nil {
		t.itt = *itt
	} else {
		t.itt = s.allocITT()
	}
	t.cmdSN = s.cmdSN
	t.seq = s.nextSeq
	s.nextSeq++
	s.tasks[t.itt] = t
	h, data := build(t, s.cmdSN, s.expStatSN)
	s.mu.Unlock()
	return s.writeLocked(&h, nil, data)
}

// await waits for a non-SCSI task's reply. On ctx's end the task is left
// registered so that its reply is consumed.
func (s *Session) await(ctx context.Context, t *Task) error {
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TMF sends a task management function request and returns the target's
// response code (pdu.TMFRespComplete etc.). rtt is the referenced task tag
// for ABORT TASK and is ignored otherwise. When the function completes, the
// tasks it aborted end with ErrTaskAborted.
func (s *Session) TMF(ctx context.Context, fn uint8, lun uint64, rtt uint32) (uint8, error) {
	t := newTask(kindTMF)
	t.tmfFn, t.lun, t.refITT = fn, EncodeLUN(lun), rtt
	if fn != pdu.TMFAbortTask && fn != pdu.TMFTaskReassign {
		t.refITT = pdu.ReservedTag
	}
	err := s.sendImmediate(t, nil, func(t *Task, cmdSN, expStatSN uint32) (pdu.Header, []byte) {
		m := pdu.TaskMgmtReq{Immediate: true, Function: fn, LUN: t.lun, ITT: t.itt, RTT: t.refITT,
			CmdSN: cmdSN, ExpStatSN: expStatSN, RefCmdSN: cmdSN}
		if ref := s.tasks[rtt]; ref != nil && ref.kind == kindSCSI && t.refITT != pdu.ReservedTag {
			m.RefCmdSN = ref.cmdSN
		}
		var h pdu.Header
		m.Encode(&h)
		return h, nil
	})
	if err != nil {
		return 0, err
	}
	if err := s.await(ctx, t); err != nil {
		return 0, err
	}
	var resp pdu.TaskMgmtResp
	resp.Decode(&t.hdr)
	return resp.Response, nil
}

// AbortTask aborts the task with tag itt on lun.
func (s *Session) AbortTask(ctx context.Context, lun uint64, itt uint32) (uint8, error) {
	return s.TMF(ctx, pdu.TMFAbortTask, lun, itt)
}

// AbortTaskSet aborts every task of this session on lun.
func (s *Session) AbortTaskSet(ctx context.Context, lun uint64) (uint8, error) {
	return s.TMF(ctx, pdu.TMFAbortTaskSet, lun, pdu.ReservedTag)
}

// ClearTaskSet aborts every task on lun.
func (s *Session) ClearTaskSet(ctx context.Context, lun uint64) (uint8, error) {
	return s.TMF(ctx, pdu.TMFClearTaskSet, lun, pdu.ReservedTag)
}

// LUNReset resets lun.
func (s *Session) LUNReset(ctx context.Context, lun uint64) (uint8, error) {
	return s.TMF(ctx, pdu.TMFLogicalUnitReset, lun, pdu.ReservedTag)
}

// TargetWarmReset resets the target; it may drop all sessions.
func (s *Session) TargetWarmReset(ctx context.Context) (uint8, error) {
	return s.TMF(ctx, pdu.TMFTargetWarmReset, 0, pdu.ReservedTag)
}

// TargetColdReset resets the target and drops all its connections.
func (s *Session) TargetColdReset(ctx context.Context) (uint8, error) {
	return s.TMF(ctx, pdu.TMFTargetColdReset, 0, pdu.ReservedTag)
}

// Nop pings the target with a NOP-Out and waits for its NOP-In.
func (s *Session) Nop(ctx context.Context) error {
	_, err := s.Ping(ctx, nil)
	return err
}

// Ping sends a NOP-Out carrying data (at most the target's
// MaxRecvDataSegmentLength) and returns the NOP-In's data, which must echo it.
func (s *Session) Ping(ctx context.Context, data []byte) ([]byte, error) {
	if len(data) > s.params.TargetMaxRecvDataSegmentLength {
		return nil, fmt.Errorf("initiator: ping data of %d bytes exceeds the target's MaxRecvDataSegmentLength %d",
			len(data), s.params.TargetMaxRecvDataSegmentLength)
	}
	t := newTask(kindNOP)
	err := s.sendImmediate(t, nil, func(t *Task, cmdSN, expStatSN uint32) (pdu.Header, []byte) {
		m := pdu.NOPOut{Immediate: true, ITT: t.itt, TTT: pdu.ReservedTag, CmdSN: cmdSN, ExpStatSN: expStatSN}
		var h pdu.Header
		m.Encode(&h)
		return h, data
	})
	if err != nil {
		return nil, err
	}
	if err := s.await(ctx, t); err != nil {
		return nil, err
	}
	if !bytes.Equal(t.data, data) {
		return t.data, protoErr("NOP-In echoed %d bytes that differ from the %d sent", len(t.data), len(data))
	}
	return t.data, nil
}

// Text runs one text negotiation (RFC 7143 §11.10): it sends kvs in a Text
// Request and gathers the whole answer, following C-bit continuations.
// The request must fit in one PDU.
func (s *Session) Text(ctx context.Context, kvs []pdu.KV) ([]pdu.KV, error) {
	req := pdu.AppendText(nil, kvs)
	if len(req) > s.params.TargetMaxRecvDataSegmentLength {
		return nil, fmt.Errorf("initiator: text request of %d bytes exceeds the target's MaxRecvDataSegmentLength", len(req))
	}
	var all []byte
	ttt := pdu.ReservedTag
	var itt *uint32
	for round := 0; ; round++ {
		if round > 1024 {
			return nil, fmt.Errorf("initiator: text response continues beyond %d PDUs", round)
		}
		t := newTask(kindText)
		err := s.sendImmediate(t, itt, func(t *Task, cmdSN, expStatSN uint32) (pdu.Header, []byte) {
			m := pdu.TextReq{Immediate: true, Final: true, ITT: t.itt, TTT: ttt, CmdSN: cmdSN, ExpStatSN: expStatSN}
			var h pdu.Header
			m.Encode(&h)
			return h, req
		})
		if err != nil {
			return nil, err
		}
		if err := s.await(ctx, t); err != nil {
			return nil, err
		}
		tag := t.itt
		itt = &tag
		var resp pdu.TextResp
		resp.Decode(&t.hdr)
		all = append(all, t.data...)
		if resp.Final {
			if resp.Continue {
				return nil, protoErr("Text Response with both F and C bits")
			}
			return pdu.ParseText(all)
		}
		if resp.TTT == pdu.ReservedTag {
			return nil, protoErr("non-final Text Response with the reserved TTT")
		}
		ttt, req = resp.TTT, nil
	}
}

// logoutEnd tells the reader that a logout completed and the session ends
// with reason.
type logoutEnd struct{ reason error }

func (l *logoutEnd) Error() string { return l.reason.Error() }

// Logout closes the session with a Logout Request (reason: close the
// session) and waits for the response; the connection is then closed and the
// session's goroutines have ended. Outstanding tasks end with ErrLoggedOut.
func (s *Session) Logout(ctx context.Context) error {
	return s.logout(ctx, ErrLoggedOut)
}

func (s *Session) logout(ctx context.Context, reason error) error {
	t := newTask(kindLogout)
	t.err = reason
	err := s.sendImmediate(t, nil, func(t *Task, cmdSN, expStatSN uint32) (pdu.Header, []byte) {
		m := pdu.LogoutReq{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: t.itt, CmdSN: cmdSN, ExpStatSN: expStatSN}
		var h pdu.Header
		m.Encode(&h)
		return h, nil
	})
	if err != nil {
		return err
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		s.fail(reason)
		return fmt.Errorf("initiator: waiting for the Logout Response: %w", ctx.Err())
	}
	var resp pdu.LogoutResp
	resp.Decode(&t.hdr)
	if t.hdr.Opcode() != pdu.OpLogoutResp {
		// Failed before the reply (for example a Reject).
		s.fail(reason)
		return fmt.Errorf("initiator: logout: %w", t.err)
	}
	if resp.Response != pdu.LogoutRespOK {
		s.fail(reason)
		<-s.readerDone
		return fmt.Errorf("initiator: logout response 0x%02x", resp.Response)
	}
	s.fail(reason)
	<-s.readerDone
	return nil
}
