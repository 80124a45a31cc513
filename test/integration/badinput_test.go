package integration

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// Bad input from one initiator gets a Reject or a closed connection, never a
// panic or a stall: every case ends by checking that a bystander session
// still does I/O.

func bystander(t *testing.T, tt *testTarget) func() {
	s := dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:bystander"})
	data := randomBytes(t, 8192)
	return func() {
		t.Helper()
		if err := s.Write(ctxT(t), 0, 4096, data, blockSize); err != nil {
			t.Fatalf("bystander write: %v", err)
		}
		if _, err := s.Read(ctxT(t), 0, 4096, 16, blockSize); err != nil {
			t.Fatalf("bystander read: %v", err)
		}
	}
}

func expectClosed(t *testing.T, rc *initiator.RawConn) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := rc.ReadPDUTimeout(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection not closed within 5s")
		}
		if err != nil {
			return
		}
	}
}

func expectReject(t *testing.T, rc *initiator.RawConn, reason uint8) {
	t.Helper()
	p := next(t, rc, pdu.OpReject, 5*time.Second)
	var r pdu.Reject
	r.Decode(&p.Header)
	if r.Reason != reason {
		t.Fatalf("Reject reason %#x, want %#x", r.Reason, reason)
	}
	if len(p.Data) != pdu.HeaderLen {
		t.Fatalf("Reject carries %d bytes, want the rejected 48-byte header", len(p.Data))
	}
}

func TestBadInputBeforeLogin(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	check := bystander(t, tt)
	cases := map[string]func(rc *initiator.RawConn){
		"garbage": func(rc *initiator.RawConn) {
			b := randomBytes(t, 48)
			b[0] = 0x3e // not a Login Request; lengths are random
			rc.SendBytes(b)
		},
		"NOP-Out before login": func(rc *initiator.RawConn) {
			m := pdu.NOPOut{Immediate: true, ITT: 1, TTT: pdu.ReservedTag}
			var h pdu.Header
			m.Encode(&h)
			rc.SendPDU(&h, nil, nil)
		},
		"SCSI command before login": func(rc *initiator.RawConn) {
			m := pdu.SCSICommand{Final: true, ITT: 1}
			var h pdu.Header
			m.Encode(&h)
			rc.SendPDU(&h, nil, nil)
		},
		"truncated header": func(rc *initiator.RawConn) {
			rc.SendBytes([]byte{0x43, 0x87, 0, 0})
			rc.Conn().(interface{ CloseWrite() error }).CloseWrite()
		},
		"login with malformed text": func(rc *initiator.RawConn) {
			m := pdu.LoginReq{Transit: true, CSG: 1, NSG: 3, ISID: pdu.ISID{0x80}, ITT: 1}
			var h pdu.Header
			m.Encode(&h)
			rc.SendPDU(&h, nil, []byte("no equals sign\x00\xff\xfe"))
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			send(rc)
			expectClosed(t, rc)
			check()
		})
	}
}

func TestBadInputFullFeature(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	check := bystander(t, tt)
	t.Run("unknown opcode is rejected", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{})
		var h pdu.Header
		h[0] = 0x1c
		h[1] = 0x80
		binary.BigEndian.PutUint32(h[16:], 0x42)
		rc.SendPDU(&h, nil, nil)
		expectReject(t, rc, pdu.RejectCommandNotSupported)
		goodTUR(t, rc)
		check()
	})
	t.Run("SNACK at ERL 0 is rejected", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{})
		m := pdu.SNACKReq{ITT: 5, TTT: pdu.ReservedTag}
		var h pdu.Header
		m.Encode(&h)
		rc.SendPDU(&h, nil, nil)
		expectReject(t, rc, pdu.RejectProtocolError)
		goodTUR(t, rc)
	})
	t.Run("data segment beyond MaxRecvDataSegmentLength", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{ImmediateData: true})
		goodTUR(t, rc)
		limit := 262144 // the target's declared MaxRecvDataSegmentLength
		sendCmd(t, rc, write10(0, uint16((limit+4096)/blockSize)), uint32(limit+4096), true, false, make([]byte, limit+4096))
		expectReject(t, rc, pdu.RejectProtocolError)
		expectClosed(t, rc)
		check()
	})
	t.Run("header digest error closes the connection", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{HeaderDigest: true, DataDigest: true})
		goodTUR(t, rc)
		var h pdu.Header
		m := pdu.SCSICommand{Final: true, ITT: 9, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
		m.Encode(&h)
		raw := append(h[:], 0xde, 0xad, 0xbe, 0xef) // wrong CRC32C
		rc.SendBytes(raw)
		expectClosed(t, rc)
		check()
	})
	t.Run("data digest error rejects the PDU, session lives", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{HeaderDigest: true, DataDigest: true, ImmediateData: true})
		goodTUR(t, rc)
		m := pdu.SCSICommand{Final: true, Write: true, ITT: 77, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN,
			ExpectedDataTransferLength: 512}
		copy(m.CDB[:], write10(0, 1))
		var h pdu.Header
		m.Encode(&h)
		h.SetDataSegmentLength(512)
		raw := append([]byte(nil), h[:]...)
		raw = binary.LittleEndian.AppendUint32(raw, pdu.CRC32C(h[:]))
		raw = append(raw, randomBytes(t, 512)...)
		raw = append(raw, 1, 2, 3, 4) // not the data's CRC32C
		rc.SendBytes(raw)
		rc.CmdSN++
		expectReject(t, rc, pdu.RejectDataDigestError)
		goodTUR(t, rc)
		check()
	})
	t.Run("immediate data when not negotiated", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{ImmediateData: false})
		goodTUR(t, rc)
		sendCmd(t, rc, write10(0, 1), 512, true, false, make([]byte, 512))
		expectReject(t, rc, pdu.RejectProtocolError)
		goodTUR(t, rc)
	})
	t.Run("reused task tag", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{InitialR2T: true})
		goodTUR(t, rc)
		itt := sendCmd(t, rc, write10(100, 8), 4096, true, false, nil)
		next(t, rc, pdu.OpR2T, 5*time.Second)
		rc.NextITT = itt
		sendCmd(t, rc, tur(), 0, false, false, nil)
		expectReject(t, rc, pdu.RejectTaskInProgress)
	})
	t.Run("transfer length beyond the target's limit", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{InitialR2T: true})
		goodTUR(t, rc)
		itt := sendCmd(t, rc, write10(0, 0xffff), 0xffffffff, true, false, nil)
		st, key := status(t, rc, itt)
		if st != 0x02 || key != 0x05 {
			t.Fatalf("status %#x key %#x, want CHECK CONDITION / ILLEGAL REQUEST", st, key)
		}
		goodTUR(t, rc)
	})
	t.Run("Data-Out with a wrong DataSN fails the task", func(t *testing.T) {
		rc := rawLogin(t, tt, initiator.Options{InitialR2T: true})
		goodTUR(t, rc)
		itt := sendCmd(t, rc, write10(0, 2), 1024, true, false, nil)
		r2t := next(t, rc, pdu.OpR2T, 5*time.Second)
		var r pdu.R2T
		r.Decode(&r2t.Header)
		d := pdu.DataOut{Final: true, ITT: itt, TTT: r.TTT, DataSN: 5, ExpStatSN: rc.ExpStatSN}
		var h pdu.Header
		d.Encode(&h)
		rc.SendPDU(&h, nil, make([]byte, 1024))
		st, key := status(t, rc, itt)
		if st != 0x02 || key != 0x0b {
			t.Fatalf("status %#x key %#x, want CHECK CONDITION / ABORTED COMMAND", st, key)
		}
		goodTUR(t, rc)
	})
	t.Run("SCSI command in a discovery session", func(t *testing.T) {
		rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.Login(ctxT(t), initiator.Options{InitiatorName: initiatorIQN}); err != nil {
			t.Fatal(err)
		}
		sendCmd(t, rc, tur(), 0, false, false, nil)
		expectReject(t, rc, pdu.RejectProtocolError)
	})
}
