package integration

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// rawLogin opens a raw connection in full feature phase.
func rawLogin(t *testing.T, tt *testTarget, o initiator.Options) *initiator.RawConn {
	t.Helper()
	rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	if o.InitiatorName == "" {
		o.InitiatorName = initiatorIQN
	}
	if o.TargetName == "" {
		o.TargetName = targetIQN
	}
	if _, err := rc.Login(ctxT(t), o); err != nil {
		t.Fatalf("raw login: %v", err)
	}
	return rc
}

// sendCmd sends a SCSI command with the next CmdSN and returns its ITT.
func sendCmd(t *testing.T, rc *initiator.RawConn, cdb []byte, edtl uint32, write, read bool, data []byte) uint32 {
	t.Helper()
	return sendCmdSN(t, rc, cdb, edtl, write, read, data, rc.CmdSN, true)
}

func sendCmdSN(t *testing.T, rc *initiator.RawConn, cdb []byte, edtl uint32, write, read bool, data []byte, cmdSN uint32, advance bool) uint32 {
	t.Helper()
	itt := rc.NextITT
	rc.NextITT++
	m := pdu.SCSICommand{Final: true, Read: read, Write: write, Attr: pdu.AttrSimple, ITT: itt,
		ExpectedDataTransferLength: edtl, CmdSN: cmdSN, ExpStatSN: rc.ExpStatSN}
	copy(m.CDB[:], cdb)
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, data); err != nil {
		t.Fatal(err)
	}
	if advance {
		rc.CmdSN++
	}
	return itt
}

func sendTMF(t *testing.T, rc *initiator.RawConn, fn uint8, lun uint64, rtt uint32) uint32 {
	t.Helper()
	itt := rc.NextITT
	rc.NextITT++
	m := pdu.TaskMgmtReq{Immediate: true, Function: fn, LUN: initiator.EncodeLUN(lun), ITT: itt, RTT: rtt,
		CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN, RefCmdSN: rc.CmdSN - 1}
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, nil); err != nil {
		t.Fatal(err)
	}
	return itt
}

func tur() []byte { return make([]byte, 6) }

func write10(lba uint32, blocks uint16) []byte {
	c := make([]byte, 10)
	c[0] = 0x2a
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], blocks)
	return c
}

// next reads PDUs until one with the given opcode arrives, skipping NOP-In
// pings; it fails after d.
func next(t *testing.T, rc *initiator.RawConn, op pdu.Opcode, d time.Duration) *pdu.PDU {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		p, err := rc.ReadPDUTimeout(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %v: %v", op, err)
		}
		if p.Header.Opcode() == op {
			return p
		}
		if p.Header.Opcode() == pdu.OpNOPIn {
			continue
		}
		t.Fatalf("waiting for %v, got %v", op, p.Header.Opcode())
	}
}

// silent asserts that no PDU other than NOP-In arrives for d.
func silent(t *testing.T, rc *initiator.RawConn, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p, err := rc.ReadPDUTimeout(time.Until(deadline))
		if err != nil {
			return
		}
		if p.Header.Opcode() != pdu.OpNOPIn {
			t.Fatalf("expected silence, got %v (ITT %#x)", p.Header.Opcode(), p.Header.ITT())
		}
	}
}

// status waits for the SCSI Response of itt and returns its status and sense key.
func status(t *testing.T, rc *initiator.RawConn, itt uint32) (uint8, uint8) {
	t.Helper()
	p := next(t, rc, pdu.OpSCSIResponse, 10*time.Second)
	var r pdu.SCSIResponse
	r.Decode(&p.Header)
	if r.ITT != itt {
		t.Fatalf("SCSI Response for ITT %#x, want %#x", r.ITT, itt)
	}
	key := uint8(0)
	if len(p.Data) > 4 {
		sense := p.Data[2:]
		if sense[0]&0x7f == 0x70 && len(sense) > 2 {
			key = sense[2] & 0x0f
		} else if len(sense) > 1 {
			key = sense[1] & 0x0f
		}
	}
	return r.Status, key
}

// goodTUR sends TEST UNIT READY until GOOD, consuming unit attentions.
func goodTUR(t *testing.T, rc *initiator.RawConn) {
	t.Helper()
	for i := 0; i < 4; i++ {
		itt := sendCmd(t, rc, tur(), 0, false, false, nil)
		st, key := status(t, rc, itt)
		if st == 0 {
			return
		}
		if key != 6 {
			t.Fatalf("TEST UNIT READY: status %#x sense key %#x", st, key)
		}
	}
	t.Fatal("TEST UNIT READY never GOOD")
}
