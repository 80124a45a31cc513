package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// FuzzFullFeatureStream logs in and then sends the fuzzer's bytes as a
// stream of PDUs in full feature phase: any opcode, flags, AHS, CDB, task
// management or sequence numbers. Whatever arrives, the target must neither
// panic nor stop serving: after each input a fresh session writes and reads
// back a block.
//
// Framing is kept honest so inputs reach the PDU handlers rather than die
// in the reader: each PDU is a 48-byte header, the AHS it declares and a
// data segment of at most the length it declares, with the length field
// rewritten to what was sent. CmdSN and ExpStatSN (bytes 24–31) are taken
// as offsets from the session's current values so that seeds stay in the
// command window.
func FuzzFullFeatureStream(f *testing.F) {
	tt := startTarget(f, targetOpts{nopInterval: time.Hour, nopTimeout: time.Hour})
	for _, seed := range fullFeatureSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rc, err := initiator.DialRaw(ctx, tt.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.Login(ctx, initiator.Options{InitiatorName: initiatorIQN, TargetName: targetIQN}); err != nil {
			t.Fatalf("login: %v", err)
		}
		sendStream(rc, stream)
		// Drain what the target answers until it goes quiet or closes.
		for range 256 {
			if _, err := rc.ReadPDUTimeout(20 * time.Millisecond); err != nil {
				break
			}
		}
		rc.Close()
		healthy(t, ctx, tt)
	})
}

// sendStream frames stream into PDUs as FuzzFullFeatureStream describes.
func sendStream(rc *initiator.RawConn, stream []byte) {
	baseCmdSN, baseStatSN := rc.CmdSN, rc.ExpStatSN
	for len(stream) >= pdu.HeaderLen {
		var h pdu.Header
		copy(h[:], stream[:pdu.HeaderLen])
		stream = stream[pdu.HeaderLen:]
		ahsLen := min(int(h[4])*4, len(stream)/4*4)
		ahs := stream[:ahsLen]
		stream = stream[ahsLen:]
		dsl := int(h[5])<<16 | int(h[6])<<8 | int(h[7])
		n := min(dsl, len(stream))
		data := stream[:n]
		stream = stream[n:]
		if h.Opcode() != pdu.OpDataOut {
			binary.BigEndian.PutUint32(h[24:], baseCmdSN+binary.BigEndian.Uint32(h[24:]))
		}
		binary.BigEndian.PutUint32(h[28:], baseStatSN+binary.BigEndian.Uint32(h[28:]))
		if rc.SendPDU(&h, ahs, data) != nil {
			return
		}
	}
}

// healthy checks that a new session still gets answers: INQUIRY, which
// SPC-4 allows in every state, is GOOD, and a write and read of a block
// either succeed and match or end with a SCSI status. The input may
// legitimately have stopped the unit, reserved it, started a sanitize or
// set a port group to standby; it must not have broken the target.
func healthy(t *testing.T, ctx context.Context, tt *testTarget) {
	t.Helper()
	s, err := initiator.Dial(ctx, tt.Addr, initiator.Options{InitiatorName: initiatorIQN + ":health", TargetName: targetIQN})
	if err != nil {
		t.Fatalf("target stopped accepting logins: %v", err)
	}
	defer s.Close()
	try := func(f func() error) error {
		var err error
		for range 4 { // unit attentions from what the input did
			var se *initiator.SCSIError
			if err = f(); !errors.As(err, &se) || se.SenseKey != 0x06 {
				return err
			}
		}
		return err
	}
	if err := try(func() error { _, err := s.Inquiry(ctx, 0, false, 0, 96); return err }); err != nil {
		t.Fatalf("INQUIRY after the input: %v", err)
	}
	block := make([]byte, blockSize)
	copy(block, "halun health check")
	const lba = volumeSize/blockSize - 1
	var se *initiator.SCSIError
	err = try(func() error { return s.Write(ctx, 0, lba, block, blockSize) })
	if errors.As(err, &se) {
		return // refused with a status the input's commands can explain
	}
	if err != nil {
		t.Fatalf("write after the input: %v", err)
	}
	var got []byte
	err = try(func() (err error) { got, err = s.Read(ctx, 0, lba, 1, blockSize); return err })
	if errors.As(err, &se) {
		return
	}
	if err != nil {
		t.Fatalf("read after the input: %v", err)
	}
	if string(got[:18]) != "halun health check" {
		t.Fatalf("read back % x", got[:18])
	}
}

// fullFeatureSeeds are well-formed full-feature exchanges: NOP-Out, TEST
// UNIT READY, a write with immediate data and its Data-Out, a read, task
// management, a SendTargets text request, a SNACK and a logout.
func fullFeatureSeeds() [][]byte {
	var seeds [][]byte
	enc := func(parts ...func(*pdu.Header) []byte) []byte {
		var out []byte
		for _, p := range parts {
			var h pdu.Header
			data := p(&h)
			h.SetDataSegmentLength(len(data))
			out = append(out, h[:]...)
			out = append(out, data...)
			for len(out)%4 != 0 {
				out = append(out, 0)
			}
		}
		return out
	}
	cmd := func(cmdSN uint32, cdb []byte, edtl uint32, w, r bool, data []byte) func(*pdu.Header) []byte {
		return func(h *pdu.Header) []byte {
			m := pdu.SCSICommand{Final: len(data) == int(edtl), Read: r, Write: w, Attr: pdu.AttrSimple, ITT: cmdSN + 1,
				ExpectedDataTransferLength: edtl, CmdSN: cmdSN}
			copy(m.CDB[:], cdb)
			m.Encode(h)
			return data
		}
	}
	nop := func(h *pdu.Header) []byte {
		m := pdu.NOPOut{Immediate: true, ITT: 0x77, TTT: pdu.ReservedTag}
		m.Encode(h)
		return []byte("ping")
	}
	write := make([]byte, 10)
	write[0], write[8] = 0x2a, 2
	read := make([]byte, 10)
	read[0], read[8] = 0x28, 2
	dataOut := func(h *pdu.Header) []byte {
		m := pdu.DataOut{Final: true, ITT: 1, TTT: pdu.ReservedTag, BufferOffset: 512}
		m.Encode(h)
		return make([]byte, 512)
	}
	tmf := func(fn uint8) func(*pdu.Header) []byte {
		return func(h *pdu.Header) []byte {
			m := pdu.TaskMgmtReq{Immediate: true, Function: fn, ITT: 0x99, RTT: 1, CmdSN: 1}
			m.Encode(h)
			return nil
		}
	}
	text := func(h *pdu.Header) []byte {
		m := pdu.TextReq{Final: true, ITT: 0x55, TTT: pdu.ReservedTag, CmdSN: 0}
		m.Encode(h)
		return []byte("SendTargets=All\x00")
	}
	logout := func(h *pdu.Header) []byte {
		m := pdu.LogoutReq{Reason: 0, ITT: 0x66, CmdSN: 1}
		m.Encode(h)
		return nil
	}
	seeds = append(seeds,
		enc(nop),
		enc(cmd(0, make([]byte, 6), 0, false, false, nil)),
		enc(cmd(0, write, 1024, true, false, make([]byte, 512)), dataOut),
		enc(cmd(0, read, 1024, false, true, nil)),
		enc(cmd(0, write, 1024, true, false, make([]byte, 512)), tmf(pdu.TMFAbortTask)),
		enc(cmd(0, read, 1024, false, true, nil), tmf(pdu.TMFLogicalUnitReset)),
		enc(tmf(pdu.TMFTargetColdReset)),
		enc(text),
		enc(cmd(0, make([]byte, 6), 0, false, false, nil), logout),
	)
	return seeds
}
