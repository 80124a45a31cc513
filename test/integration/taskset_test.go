package integration

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// Task management by logical unit (SAM-5 4.6.2: the task set belongs to
// the logical unit): per-initiator LUN maps give different volumes the
// same LUN number and one volume several numbers, through several targets.

const (
	tsTarget = "iqn.2026-11.io.halun.test:tasks"
	tsOther  = "iqn.2026-11.io.halun.test:tasks-other"
	tsA      = "iqn.2026-11.io.halun.test:tasks-a"
	tsB      = "iqn.2026-11.io.halun.test:tasks-b"
	tsC      = "iqn.2026-11.io.halun.test:tasks-c"
)

// taskSetConfig: on target tasks, A calls v1 LUN 0; B calls v2 LUN 0 and
// v1 LUN 5. Target tasks-other serves v1 as LUN 3 to everyone.
func taskSetConfig(addr string) string {
	return fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: tasks-v1-0001, sanitize_rate: 1MiB}
  - {name: v2, backend: memory, size: 4MiB, serial: tasks-v2-0002}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    access:
      initiators:
        - iqn: %s
          luns: [{lun: 0, volume: v1}]
        - iqn: %s
          luns: [{lun: 0, volume: v2}, {lun: 5, volume: v1}]
  - iqn: %s
    luns: [{lun: 3, volume: v1}]
    access: {all: true}
`, addr, tsTarget, tsA, tsB, tsOther)
}

// rawAs logs in a raw connection as initiator name to target, soliciting
// all write data with R2T.
func rawAs(t *testing.T, addr, name, target string) *initiator.RawConn {
	t.Helper()
	return rawLogin(t, &testTarget{Addr: addr}, initiator.Options{InitiatorName: name, TargetName: target,
		InitialR2T: true, ImmediateData: true})
}

// sendLUN sends a SCSI command to lun with the next CmdSN and returns its
// ITT.
func sendLUN(t *testing.T, rc *initiator.RawConn, lun uint64, cdb []byte, edtl uint32, write bool, data []byte) uint32 {
	t.Helper()
	itt := rc.NextITT
	rc.NextITT++
	m := pdu.SCSICommand{Final: true, Write: write, Attr: pdu.AttrSimple, LUN: initiator.EncodeLUN(lun), ITT: itt,
		ExpectedDataTransferLength: edtl, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
	copy(m.CDB[:], cdb)
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, data); err != nil {
		t.Fatal(err)
	}
	rc.CmdSN++
	return itt
}

// senseOf waits for the SCSI Response of itt and returns its status and
// sense key, ASC and ASCQ.
func senseOf(t *testing.T, rc *initiator.RawConn, itt uint32) (st, key, asc, ascq uint8) {
	t.Helper()
	p := next(t, rc, pdu.OpSCSIResponse, 10*time.Second)
	var r pdu.SCSIResponse
	r.Decode(&p.Header)
	if r.ITT != itt {
		t.Fatalf("SCSI Response for ITT %#x, want %#x", r.ITT, itt)
	}
	if len(p.Data) > 2 {
		key, asc, ascq, _ = initiator.ParseSense(p.Data[2:])
	}
	return r.Status, key, asc, ascq
}

// readyLUN consumes the unit attentions of a new nexus on lun.
func readyLUN(t *testing.T, rc *initiator.RawConn, lun uint64) {
	t.Helper()
	for i := 0; i < 4; i++ {
		st, key, _, _ := senseOf(t, rc, sendLUN(t, rc, lun, tur(), 0, false, nil))
		if st == 0 {
			return
		}
		if key != 6 {
			t.Fatalf("TEST UNIT READY on LUN %d: status %#x sense key %#x", lun, st, key)
		}
	}
	t.Fatalf("TEST UNIT READY on LUN %d never GOOD", lun)
}

// heldWrite starts a one-block WRITE to lun that waits for the data its
// R2T solicits, and returns its ITT and the R2T's transfer tag.
func heldWrite(t *testing.T, rc *initiator.RawConn, lun uint64) (itt, ttt uint32) {
	t.Helper()
	itt = sendLUN(t, rc, lun, write10(8, 1), blockSize, true, nil)
	p := next(t, rc, pdu.OpR2T, 5*time.Second)
	var r pdu.R2T
	r.Decode(&p.Header)
	if r.ITT != itt {
		t.Fatalf("R2T for ITT %#x, want %#x", r.ITT, itt)
	}
	return itt, r.TTT
}

// TestSAM5_LogicalUnitReset_SparesAnotherVolumeOfTheSameNumber: A's
// LOGICAL UNIT RESET of its LUN 0 (v1) does not touch B's command on its
// own LUN 0, which is v2: the command completes when its data arrives, and
// B gets no unit attention there.
func TestSAM5_LogicalUnitReset_SparesAnotherVolumeOfTheSameNumber(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, taskSetConfig(addr))
	b := rawAs(t, addr, tsB, tsTarget)
	readyLUN(t, b, 0)
	w, ttt := heldWrite(t, b, 0)

	a := dial(t, &testTarget{Addr: addr}, initiator.Options{InitiatorName: tsA, TargetName: tsTarget})
	if resp, err := a.LUNReset(ctxT(t), 0); err != nil || resp != pdu.TMFRespComplete {
		t.Fatalf("A's LOGICAL UNIT RESET: response %d, %v", resp, err)
	}
	silent(t, b, 300*time.Millisecond)
	payload := bytes.Repeat([]byte{0x5a}, blockSize)
	d := pdu.DataOut{Final: true, ITT: w, TTT: ttt, ExpStatSN: b.ExpStatSN}
	var h pdu.Header
	d.Encode(&h)
	if err := b.SendPDU(&h, nil, payload); err != nil {
		t.Fatal(err)
	}
	if st, key, asc, _ := senseOf(t, b, w); st != 0 {
		t.Fatalf("B's WRITE on its LUN 0 ended with status %#x (key %#x asc %#x) after A reset its own LUN 0", st, key, asc)
	}
	if st, key, asc, ascq := senseOf(t, b, sendLUN(t, b, 0, tur(), 0, false, nil)); st != 0 {
		t.Fatalf("B's LUN 0 reports status %#x sense %x/%02x/%02x after A reset another volume", st, key, asc, ascq)
	}
}

// TestSAM5_LogicalUnitReset_ReachesTheVolumeUnderEveryNumber: A's LOGICAL
// UNIT RESET of v1 aborts the commands on v1 of every other nexus — B's
// through its LUN 5, C's through another target's LUN 3 — with TASK
// ABORTED status (TAS), and each gets BUS DEVICE RESET FUNCTION OCCURRED.
func TestSAM5_LogicalUnitReset_ReachesTheVolumeUnderEveryNumber(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, taskSetConfig(addr))
	victims := []struct {
		name string
		rc   *initiator.RawConn
		lun  uint64
	}{
		{"B through LUN 5", rawAs(t, addr, tsB, tsTarget), 5},
		{"C through target tasks-other, LUN 3", rawAs(t, addr, tsC, tsOther), 3},
	}
	held := make([]uint32, len(victims))
	for i, v := range victims {
		readyLUN(t, v.rc, v.lun)
		held[i], _ = heldWrite(t, v.rc, v.lun)
	}

	a := dial(t, &testTarget{Addr: addr}, initiator.Options{InitiatorName: tsA, TargetName: tsTarget})
	if resp, err := a.LUNReset(ctxT(t), 0); err != nil || resp != pdu.TMFRespComplete {
		t.Fatalf("A's LOGICAL UNIT RESET: response %d, %v", resp, err)
	}
	for i, v := range victims {
		if st, _, _, _ := senseOf(t, v.rc, held[i]); st != initiator.StatusTaskAborted {
			t.Fatalf("%s: the held WRITE ended with status %#x, want TASK ABORTED", v.name, st)
		}
		st, key, asc, ascq := senseOf(t, v.rc, sendLUN(t, v.rc, v.lun, tur(), 0, false, nil))
		if st != 2 || key != 6 || asc != 0x29 || ascq != 0x03 {
			t.Fatalf("%s: after the reset status %#x sense %x/%02x/%02x, want BUS DEVICE RESET FUNCTION OCCURRED", v.name, st, key, asc, ascq)
		}
	}
}

// TestSAM5_LogicalUnitReset_AbortsACommandRunningInTheLU: B's SANITIZE
// without IMMED is executing in the logical unit (a paced overwrite of
// v1 that lasts about 4 s) when A resets v1 under its own LUN number: B's
// command ends with TASK ABORTED rather than GOOD when the overwrite ends,
// and the overwrite itself goes on (SBC-4 4.11: a sanitize survives
// resets).
func TestSAM5_LogicalUnitReset_AbortsACommandRunningInTheLU(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, taskSetConfig(addr))
	b := rawAs(t, addr, tsB, tsTarget)
	readyLUN(t, b, 5)
	param := []byte{0x01, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef} // one pass, 4-byte pattern
	cdb := []byte{0x48, 0x01, 0, 0, 0, 0, 0, 0, byte(len(param)), 0}
	san := sendLUN(t, b, 5, cdb, uint32(len(param)), true, param)

	ctx := ctxT(t)
	a, err := initiator.Dial(ctx, addr, initiator.Options{InitiatorName: tsA, TargetName: tsTarget})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for {
		var se *initiator.SCSIError
		err := a.TestUnitReady(ctx, 0)
		if errors.As(err, &se) && se.SenseKey == 2 && se.ASC == 0x04 && se.ASCQ == 0x1b {
			break // SANITIZE IN PROGRESS: B's command is in the LU
		}
		if err == nil {
			t.Fatal("TEST UNIT READY is GOOD: the sanitize never started or already ended")
		}
		if !errors.As(err, &se) || se.SenseKey != 6 {
			t.Fatalf("TEST UNIT READY: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := a.LUNReset(ctx, 0); err != nil || resp != pdu.TMFRespComplete {
		t.Fatalf("A's LOGICAL UNIT RESET: response %d, %v", resp, err)
	}
	if st, key, asc, _ := senseOf(t, b, san); st != initiator.StatusTaskAborted {
		t.Fatalf("B's SANITIZE ended with status %#x (sense %x/%02x), want TASK ABORTED", st, key, asc)
	}
	var se *initiator.SCSIError
	err = a.TestUnitReady(ctx, 0)
	for i := 0; i < 4 && errors.As(err, &se) && se.SenseKey == 6; i++ {
		err = a.TestUnitReady(ctx, 0)
	}
	if !errors.As(err, &se) || se.SenseKey != 2 || se.ASC != 0x04 || se.ASCQ != 0x1b {
		t.Fatalf("after the reset TEST UNIT READY says %v, want the sanitize still in progress", err)
	}
}

// prOutCDB is PERSISTENT RESERVE OUT with service action sa and type typ,
// and its 24-byte parameter list with the reservation key and service
// action reservation key.
func prOutCDB(sa, typ byte, key, saKey uint64) (cdb, param []byte) {
	cdb = make([]byte, 10)
	cdb[0], cdb[1], cdb[2] = 0x5f, sa, typ
	binary.BigEndian.PutUint32(cdb[5:], 24)
	param = make([]byte, 24)
	binary.BigEndian.PutUint64(param, key)
	binary.BigEndian.PutUint64(param[8:], saKey)
	return cdb, param
}

// TestSPC4_PreemptAndAbort_AbortsPreemptedCommands: PREEMPT AND ABORT
// (SPC-4 5.12.11.2.6) aborts the in-flight commands of the preempted
// holder with TASK ABORTED status (TAS), and its next command reports
// REGISTRATIONS PREEMPTED.
func TestSPC4_PreemptAndAbort_AbortsPreemptedCommands(t *testing.T) {
	const (
		register, reserve, preemptAbort = 0, 1, 5
		writeExclusive                  = 1
	)
	tt := startTarget(t, targetOpts{})
	b := rawLogin(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:holder", InitialR2T: true, ImmediateData: true})
	goodTUR(t, b)
	for _, c := range []struct {
		sa, typ    byte
		key, saKey uint64
	}{{register, 0, 0, 0xb}, {reserve, writeExclusive, 0xb, 0}} {
		cdb, p := prOutCDB(c.sa, c.typ, c.key, c.saKey)
		if st, key, asc, _ := senseOf(t, b, sendLUN(t, b, 0, cdb, 24, true, p)); st != 0 {
			t.Fatalf("holder's PERSISTENT RESERVE OUT %d: status %#x key %#x asc %#x", c.sa, st, key, asc)
		}
	}
	w, _ := heldWrite(t, b, 0)

	a := dial(t, tt, initiator.Options{})
	for _, c := range []struct {
		sa, typ    byte
		key, saKey uint64
	}{{register, 0, 0, 0xa}, {preemptAbort, writeExclusive, 0xa, 0xb}} {
		cdb, p := prOutCDB(c.sa, c.typ, c.key, c.saKey)
		if st, key, asc := scsiStatus(t, a, 0, cdb, p, 0); st != 0 {
			t.Fatalf("PERSISTENT RESERVE OUT %d: status %#x key %#x asc %#x", c.sa, st, key, asc)
		}
	}
	if st, _, _, _ := senseOf(t, b, w); st != initiator.StatusTaskAborted {
		t.Fatalf("the preempted holder's WRITE ended with status %#x, want TASK ABORTED", st)
	}
	if st, key, asc, ascq := senseOf(t, b, sendLUN(t, b, 0, tur(), 0, false, nil)); st != 2 || key != 6 || asc != 0x2a || ascq != 0x05 {
		t.Fatalf("preempted nexus: status %#x sense %x/%02x/%02x, want REGISTRATIONS PREEMPTED", st, key, asc, ascq)
	}
}
