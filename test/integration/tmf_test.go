package integration

import (
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// pendingWrite starts a WRITE that waits for R2T-solicited data the test
// never sends, so the task stays in the target's task set.
func pendingWrite(t *testing.T, rc *initiator.RawConn) uint32 {
	t.Helper()
	itt := sendCmd(t, rc, write10(100, 8), 4096, true, false, nil)
	r2t := next(t, rc, pdu.OpR2T, 5*time.Second)
	if r2t.Header.ITT() != itt {
		t.Fatalf("R2T for ITT %#x, want %#x", r2t.Header.ITT(), itt)
	}
	return itt
}

func tmfResponse(t *testing.T, rc *initiator.RawConn, itt uint32) uint8 {
	t.Helper()
	p := next(t, rc, pdu.OpTaskMgmtResp, 10*time.Second)
	var r pdu.TaskMgmtResp
	r.Decode(&p.Header)
	if r.ITT != itt {
		t.Fatalf("TMF response for ITT %#x, want %#x", r.ITT, itt)
	}
	return r.Response
}

// wantTaskAborted waits for the SCSI Response of itt and fails unless it
// is TASK ABORTED.
func wantTaskAborted(t *testing.T, rc *initiator.RawConn, itt uint32) {
	t.Helper()
	if st, _ := status(t, rc, itt); st != initiator.StatusTaskAborted {
		t.Fatalf("task %#x ended with status %#x, want TASK ABORTED", itt, st)
	}
}

var r2tOnly = initiator.Options{InitialR2T: true, ImmediateData: false}

// TestRFC7143_11_5_AbortTask: ABORT TASK of a task waiting for data
// completes, the aborted task never gets a response, and the session's
// CmdSN window is not left with a hole.
func TestRFC7143_11_5_AbortTask(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, r2tOnly)
	goodTUR(t, rc)
	itt := pendingWrite(t, rc)
	tmf := sendTMF(t, rc, pdu.TMFAbortTask, 0, itt)
	if got := tmfResponse(t, rc, tmf); got != pdu.TMFRespComplete {
		t.Fatalf("ABORT TASK response %d, want %d (function complete)", got, pdu.TMFRespComplete)
	}
	for i := 0; i < 3; i++ {
		goodTUR(t, rc)
	}
	// Aborting it again: the task no longer exists.
	tmf = sendTMF(t, rc, pdu.TMFAbortTask, 0, itt)
	if got := tmfResponse(t, rc, tmf); got != pdu.TMFRespNoTask {
		t.Fatalf("second ABORT TASK response %d, want %d (task does not exist)", got, pdu.TMFRespNoTask)
	}
}

// TestRFC7143_11_5_AbortTaskSet aborts every task of the nexus on the LUN.
func TestRFC7143_11_5_AbortTaskSet(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, r2tOnly)
	goodTUR(t, rc)
	pendingWrite(t, rc)
	pendingWrite(t, rc)
	tmf := sendTMF(t, rc, pdu.TMFAbortTaskSet, 0, pdu.ReservedTag)
	if got := tmfResponse(t, rc, tmf); got != pdu.TMFRespComplete {
		t.Fatalf("ABORT TASK SET response %d", got)
	}
	silent(t, rc, 300*time.Millisecond)
	goodTUR(t, rc)
}

// TestSAM5_LogicalUnitReset: a LOGICAL UNIT RESET from one nexus aborts the
// tasks of every nexus on the LU — those of another nexus end with TASK
// ABORTED status, as the control mode page's TAS bit says (SAM-5 5.6) —
// and gives every nexus a unit attention.
func TestSAM5_LogicalUnitReset(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	victim := rawLogin(t, tt, initiator.Options{InitialR2T: true, InitiatorName: "iqn.2026-11.io.halun.test:victim"})
	goodTUR(t, victim)
	w := pendingWrite(t, victim)
	s := dial(t, tt, initiator.Options{})
	resp, err := s.LUNReset(ctxT(t), 0)
	if err != nil || resp != pdu.TMFRespComplete {
		t.Fatalf("LOGICAL UNIT RESET: response %d, %v", resp, err)
	}
	wantTaskAborted(t, victim, w)
	itt := sendCmd(t, victim, tur(), 0, false, false, nil)
	st, key := status(t, victim, itt)
	if st != 0x02 || key != 0x06 {
		t.Fatalf("after reset the other nexus got status %#x key %#x, want CHECK CONDITION / UNIT ATTENTION", st, key)
	}
	goodTUR(t, victim)
	// SAM-5 §6.3.3: the reset establishes the unit attention for every
	// I_T nexus, the resetting one included.
	clearUnitAttention(t, s)
}

// TestRFC7143_11_5_TMFResponses covers the answers that need no task.
func TestRFC7143_11_5_TMFResponses(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{})
	cases := []struct {
		name string
		fn   uint8
		lun  uint64
		want uint8
	}{
		{"abort unknown task", pdu.TMFAbortTask, 0, pdu.TMFRespNoTask},
		{"LU reset of a missing LUN", pdu.TMFLogicalUnitReset, 7, pdu.TMFRespNoLUN},
		{"abort task set", pdu.TMFAbortTaskSet, 0, pdu.TMFRespComplete},
		{"clear task set", pdu.TMFClearTaskSet, 0, pdu.TMFRespComplete},
		{"clear ACA", pdu.TMFClearACA, 0, pdu.TMFRespNotSupported},
		{"task reassign at ERL 0", pdu.TMFTaskReassign, 0, pdu.TMFRespReassignNoSupport},
		{"target warm reset", pdu.TMFTargetWarmReset, 0, pdu.TMFRespComplete},
		{"undefined function", 20, 0, pdu.TMFRespNotSupported},
	}
	for _, c := range cases {
		got, err := s.TMF(ctxT(t), c.fn, c.lun, 0x7777)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: response %d, want %d", c.name, got, c.want)
		}
	}
}

// TestRFC7143_11_5_TargetColdReset answers, then drops the connection.
func TestRFC7143_11_5_TargetColdReset(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	other := dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:other"})
	rc := rawLogin(t, tt, initiator.Options{})
	tmf := sendTMF(t, rc, pdu.TMFTargetColdReset, 0, pdu.ReservedTag)
	if got := tmfResponse(t, rc, tmf); got != pdu.TMFRespComplete {
		t.Fatalf("TARGET COLD RESET response %d", got)
	}
	if _, err := rc.ReadPDUTimeout(5 * time.Second); err == nil {
		t.Fatal("connection still open after cold reset")
	}
	select {
	case <-other.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("other session of the target survived a cold reset")
	}
	// The target itself keeps serving.
	dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:after"})
}

// TestRFC7143_11_5_TargetColdResetSparesLaterLogins: the sessions a cold
// reset drops are those of the target when it happens. One that logs in as
// soon as the response is out is a new session and keeps working (the
// drop used to run on its own goroutine after the response and could take
// such a session with it).
func TestRFC7143_11_5_TargetColdResetSparesLaterLogins(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	for i := range 10 {
		rc := rawLogin(t, tt, initiator.Options{})
		tmf := sendTMF(t, rc, pdu.TMFTargetColdReset, 0, pdu.ReservedTag)
		if got := tmfResponse(t, rc, tmf); got != pdu.TMFRespComplete {
			t.Fatalf("TARGET COLD RESET response %d", got)
		}
		later := dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:later"})
		time.Sleep(50 * time.Millisecond)
		if err := later.Nop(ctxT(t)); err != nil {
			t.Fatalf("round %d: a session logged in after the reset's response was dropped: %v", i, err)
		}
		later.Close()
		rc.Close()
	}
}
