package integration

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

func read10(lba uint32, blocks uint16) []byte {
	c := make([]byte, 10)
	c[0] = 0x28
	binary.BigEndian.PutUint32(c[2:], lba)
	binary.BigEndian.PutUint16(c[7:], blocks)
	return c
}

func sendAttr(t *testing.T, rc *initiator.RawConn, cdb []byte, edtl uint32, write, read bool, attr uint8) uint32 {
	t.Helper()
	itt := rc.NextITT
	rc.NextITT++
	m := pdu.SCSICommand{Final: true, Read: read, Write: write, Attr: attr, ITT: itt,
		ExpectedDataTransferLength: edtl, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
	copy(m.CDB[:], cdb)
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, nil); err != nil {
		t.Fatal(err)
	}
	rc.CmdSN++
	return itt
}

// finished collects the ITTs of completed commands (SCSI Response, or
// Data-In with status) until d passes without one.
func finished(t *testing.T, rc *initiator.RawConn, d time.Duration) (order []uint32, data map[uint32][]byte) {
	t.Helper()
	data = map[uint32][]byte{}
	for {
		p, err := rc.ReadPDUTimeout(d)
		if err != nil {
			return order, data
		}
		switch p.Header.Opcode() {
		case pdu.OpSCSIResponse:
			order = append(order, p.Header.ITT())
		case pdu.OpDataIn:
			var m pdu.DataIn
			m.Decode(&p.Header)
			data[m.ITT] = append(data[m.ITT], p.Data...)
			if m.HasStatus {
				order = append(order, m.ITT)
			}
		case pdu.OpR2T:
			t.Fatalf("unexpected R2T for ITT %#x", p.Header.ITT())
		}
	}
}

// TestSPC4_7_5_8_OverlappingTasksKeepOrder: with the restricted queue
// algorithm, a READ issued after a WRITE to the same blocks sees the
// written data even when the WRITE waits for its data, while a READ of
// other blocks does not wait.
func TestSPC4_7_5_8_OverlappingTasksKeepOrder(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, initiator.Options{InitialR2T: true})
	goodTUR(t, rc)
	w := sendAttr(t, rc, write10(0, 1), 512, true, false, pdu.AttrSimple)
	r2t := next(t, rc, pdu.OpR2T, 5*time.Second)
	var r pdu.R2T
	r.Decode(&r2t.Header)
	overlapping := sendAttr(t, rc, read10(0, 1), 512, false, true, pdu.AttrSimple)
	elsewhere := sendAttr(t, rc, read10(5000, 1), 512, false, true, pdu.AttrSimple)
	order, _ := finished(t, rc, 300*time.Millisecond)
	if len(order) != 1 || order[0] != elsewhere {
		t.Fatalf("while the WRITE waits for data, finished %v; want only the unrelated READ %#x", order, elsewhere)
	}
	payload := bytes.Repeat([]byte{0xa5}, 512)
	d := pdu.DataOut{Final: true, ITT: w, TTT: r.TTT, ExpStatSN: rc.ExpStatSN}
	var h pdu.Header
	d.Encode(&h)
	if err := rc.SendPDU(&h, nil, payload); err != nil {
		t.Fatal(err)
	}
	order, data := finished(t, rc, 500*time.Millisecond)
	if len(order) != 2 || order[0] != w || order[1] != overlapping {
		t.Fatalf("finished %v, want the WRITE %#x then the READ %#x", order, w, overlapping)
	}
	if !bytes.Equal(data[overlapping], payload) {
		t.Fatal("the READ issued after the WRITE did not see its data")
	}
}

// TestSAM5_8_6_TaskAttributes: an ORDERED task waits for every earlier
// task; a HEAD OF QUEUE task waits for none.
func TestSAM5_8_6_TaskAttributes(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, initiator.Options{InitialR2T: true})
	goodTUR(t, rc)
	w := sendAttr(t, rc, write10(100, 1), 512, true, false, pdu.AttrSimple)
	next(t, rc, pdu.OpR2T, 5*time.Second)
	ordered := sendAttr(t, rc, tur(), 0, false, false, pdu.AttrOrdered)
	after := sendAttr(t, rc, tur(), 0, false, false, pdu.AttrSimple)
	hoq := sendAttr(t, rc, tur(), 0, false, false, pdu.AttrHeadOfQueue)
	order, _ := finished(t, rc, 300*time.Millisecond)
	if len(order) != 1 || order[0] != hoq {
		t.Fatalf("while a WRITE waits, finished %v; want only HEAD OF QUEUE %#x", order, hoq)
	}
	tmf := sendTMF(t, rc, pdu.TMFAbortTask, 0, w)
	order = nil
	tmfDone := false
	for {
		p, err := rc.ReadPDUTimeout(500 * time.Millisecond)
		if err != nil {
			break
		}
		switch p.Header.Opcode() {
		case pdu.OpTaskMgmtResp:
			var m pdu.TaskMgmtResp
			m.Decode(&p.Header)
			if m.ITT != tmf || m.Response != pdu.TMFRespComplete {
				t.Fatalf("ABORT TASK: %+v", m)
			}
			tmfDone = true
		case pdu.OpSCSIResponse:
			order = append(order, p.Header.ITT())
		}
	}
	if !tmfDone {
		t.Fatal("no ABORT TASK response")
	}
	if len(order) != 2 || order[0] != ordered || order[1] != after {
		t.Fatalf("after the abort finished %v, want ORDERED %#x then SIMPLE %#x", order, ordered, after)
	}
}
