package initiator

import (
	"context"
	"errors"
	"fmt"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// Response is the outcome of a SCSI command.
type Response struct {
	// Response is the iSCSI response code (0: command completed at target).
	Response uint8
	// Status is the SCSI status (0 GOOD, 2 CHECK CONDITION, ...).
	Status uint8
	// Sense is the sense data of a CHECK CONDITION, if any.
	Sense []byte
	// ResponseData is any data after the sense data in the SCSI Response.
	ResponseData []byte
	// Data is the read data received, reassembled from offset 0.
	Data []byte

	ResidualOverflow, ResidualUnderflow bool
	Residual                            uint32

	BidiResidualOverflow, BidiResidualUnderflow bool
	BidiResidual                                uint32

	// ExpDataSN is the target's count of Data-In and R2T PDUs, from a
	// SCSI Response PDU (0 when status came in the final Data-In).
	ExpDataSN uint32
}

// Command describes a SCSI command for Start.
type Command struct {
	// LUN is a LUN number or an 8-byte LUN field (see EncodeLUN).
	LUN uint64
	// CDB is the command descriptor block; bytes beyond 16 travel in an
	// extended CDB AHS.
	CDB []byte
	// DataOut is the data the command writes.
	DataOut []byte
	// ReadLen is the expected read data length; ReadBuf, if at least that
	// long, receives it.
	ReadLen int
	ReadBuf []byte
	// Attr is the task attribute sent verbatim (pdu.AttrSimple is usual;
	// the zero value is untagged).
	Attr uint8
	// DataOutGate, if not nil, holds back all Data-Out PDUs (unsolicited
	// and R2T-solicited; immediate data still goes with the command) until
	// it is closed, so a test can keep a write in flight, e.g. to abort it.
	DataOutGate <-chan struct{}
}

// maxCDB is the largest CDB: 16 bytes in the BHS plus an extended CDB AHS
// (AHSLength 16 bits, less the reserved byte).
const maxCDB = 16 + 1019

// Execute runs a SCSI command and waits for its response: readLen bytes of
// expected read data, dataOut as write data (both make a bidirectional
// command). It is safe for concurrent use.
func (s *Session) Execute(ctx context.Context, lun uint64, cdb []byte, dataOut []byte, readLen int) (*Response, error) {
	t, err := s.Start(ctx, Command{LUN: lun, CDB: cdb, DataOut: dataOut, ReadLen: readLen, Attr: pdu.AttrSimple})
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx)
}

// SendCommand issues a command with the SIMPLE attribute and returns once it
// is on the wire; t.ITT() names it for AbortTask, t.Wait collects the response.
func (s *Session) SendCommand(ctx context.Context, lun uint64, cdb []byte, dataOut []byte, readLen int) (*Task, error) {
	return s.Start(ctx, Command{LUN: lun, CDB: cdb, DataOut: dataOut, ReadLen: readLen, Attr: pdu.AttrSimple})
}

// Start issues a command: it waits for room in the CmdSN window, sends the
// SCSI Command PDU with any immediate data, and leaves unsolicited and
// R2T-solicited Data-Out to a goroutine of the task. It returns when the
// command PDU has been written.
func (s *Session) Start(ctx context.Context, c Command) (*Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(c.CDB) == 0 || len(c.CDB) > maxCDB {
		return nil, fmt.Errorf("initiator: CDB of %d bytes", len(c.CDB))
	}
	if c.ReadLen < 0 || uint64(c.ReadLen) > 1<<32-1 || uint64(len(c.DataOut)) > 1<<32-1 {
		return nil, errors.New("initiator: transfer length out of range")
	}
	t := newTask(kindSCSI)
	t.lun = EncodeLUN(c.LUN)
	t.dataOut = c.DataOut
	if c.ReadLen > 0 {
		buf := c.ReadBuf
		if len(buf) < c.ReadLen {
			buf = make([]byte, c.ReadLen)
		}
		t.asm = newAssembler(buf[:c.ReadLen], s.params.DataPDUInOrder)
	}
	imm, outs := planUnsolicited(s.xfer, len(c.DataOut))
	t.unsol = imm
	for _, d := range outs {
		t.unsol += d.Length
	}
	needSender := len(outs) > 0 || t.unsol < len(c.DataOut)
	if needSender {
		t.r2tSig = make(chan struct{}, 1)
	}

	cmd := pdu.SCSICommand{Final: len(outs) == 0, Read: c.ReadLen > 0, Write: len(c.DataOut) > 0,
		Attr: c.Attr, LUN: t.lun}
	if cmd.Write {
		cmd.ExpectedDataTransferLength = uint32(len(c.DataOut))
	} else {
		cmd.ExpectedDataTransferLength = uint32(c.ReadLen)
	}
	copy(cmd.CDB[:], c.CDB)
	var ahs []byte
	if len(c.CDB) > 16 {
		ahs = pdu.AppendAHS(ahs, pdu.ExtendedCDBAHS(c.CDB[16:]))
	}
	if cmd.Read && cmd.Write {
		ahs = pdu.AppendAHS(ahs, pdu.BidiReadLengthAHS(uint32(c.ReadLen)))
	}

	for {
		if err := s.waitWindow(ctx); err != nil {
			return nil, err
		}
		s.wmu.Lock()
		s.mu.Lock()
		if s.err != nil || s.logoutReq {
			err := s.err
			if err == nil {
				err = ErrLogoutRequested
			}
			s.mu.Unlock()
			s.wmu.Unlock()
			return nil, err
		}
		if !s.windowOpen() {
			s.mu.Unlock()
			s.wmu.Unlock()
			continue
		}
		t.itt = s.allocITT()
		t.cmdSN = s.cmdSN
		s.cmdSN++
		t.seq = s.nextSeq
		s.nextSeq++
		s.tasks[t.itt] = t
		cmd.ITT, cmd.CmdSN, cmd.ExpStatSN = t.itt, t.cmdSN, s.expStatSN
		if needSender {
			s.wg.Add(1)
		}
		s.mu.Unlock()
		var h pdu.Header
		cmd.Encode(&h)
		err := s.writeLocked(&h, ahs, c.DataOut[:imm])
		s.wmu.Unlock()
		if err != nil {
			if needSender {
				s.wg.Done()
			}
			return nil, err
		}
		break
	}
	if needSender {
		go s.sendData(t, outs, c.DataOutGate)
	}
	return t, nil
}

// sendData sends a write's unsolicited Data-Out sequence and then answers its
// R2Ts in order until the task ends.
func (s *Session) sendData(t *Task, outs []dataPDU, gate <-chan struct{}) {
	defer s.wg.Done()
	if gate != nil {
		select {
		case <-gate:
		case <-t.done:
			return
		case <-s.closed:
			return
		}
	}
	for _, d := range outs {
		if !s.sendDataOut(t, pdu.ReservedTag, d) {
			return
		}
	}
	for {
		select {
		case <-t.done:
			return
		case <-s.closed:
			return
		case <-t.r2tSig:
		}
		for {
			r, ok := t.popR2T()
			if !ok {
				break
			}
			for _, d := range planSequence(r.offset, r.length, s.xfer.MaxSend) {
				if !s.sendDataOut(t, r.ttt, d) {
					return
				}
			}
		}
	}
}

func (s *Session) sendDataOut(t *Task, ttt uint32, d dataPDU) bool {
	select {
	case <-t.done:
		return false
	default:
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	m := pdu.DataOut{Final: d.Final, LUN: t.lun, ITT: t.itt, TTT: ttt, ExpStatSN: s.expStatSN,
		DataSN: d.DataSN, BufferOffset: uint32(d.Offset)}
	s.mu.Unlock()
	var h pdu.Header
	m.Encode(&h)
	return s.writeLocked(&h, nil, t.dataOut[d.Offset:d.Offset+d.Length]) == nil
}
