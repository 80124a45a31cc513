package iscsi

import (
	"errors"
	"fmt"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// readLoop reads and dispatches PDUs in full feature phase until the
// connection ends; the returned error says why.
func (c *conn) readLoop(rd *pdu.Reader, in *connReader) error {
	for {
		if in.Buffered() < pdu.HeaderLen {
			c.flushIfIdle()
		}
		var p pdu.PDU
		err := rd.ReadHeader(&p)
		if err == nil {
			err = rd.ReadData(&p, c.dataDest(&p.Header))
		}
		if err == nil {
			c.lastRecv.Store(time.Now().UnixNano())
			err := c.dispatch(&p)
			c.dropImmBuf()
			if err != nil {
				return err
			}
			if len(c.deferred) > 0 {
				c.resumeDeferred()
			}
			continue
		}
		// A command whose data failed its digest adopts no buffer.
		c.dropImmBuf()
		select {
		case <-c.done:
			return c.closeErr
		default:
		}
		switch {
		case errors.Is(err, pdu.ErrDataDigest):
			c.lastRecv.Store(time.Now().UnixNano())
			c.dataDigestError(&p)
		case errors.Is(err, pdu.ErrDataTooLong):
			// RFC 7143 §7.2: a protocol error; reject and end the connection.
			c.badInput("data segment longer than negotiated", "len", p.Header.DataSegmentLength())
			c.reject(&p.Header, pdu.RejectProtocolError, true)
			// The writer closes the connection once the Reject is out.
			select {
			case <-c.done:
			case <-time.After(5 * time.Second):
			}
			return fmt.Errorf("protocol error: %w", err)
		case errors.Is(err, pdu.ErrHeaderDigest):
			// The header cannot be trusted, not even its lengths: at ERL 0
			// the connection ends (RFC 7143 §7.8).
			c.badInput("header digest error")
			return err
		default:
			return err
		}
	}
}

// dataDest returns where a Data-Out PDU's data belongs in its task's
// buffer, so the reader places it there without a copy; nil means "read
// into a fresh buffer" (any other PDU, or one the checks will refuse).
func (c *conn) dataDest(h *pdu.Header) []byte {
	c.dropImmBuf()
	if h.Opcode() == pdu.OpSCSICommand && c.sess != nil {
		// Immediate data lands at the start of a buffer for the whole
		// write; startTask adopts it.
		n := uint32(h.DataSegmentLength())
		edtl := h.Field32(20)
		if n > 0 && h[1]&0x20 != 0 && n <= edtl && edtl <= c.srv.cfg.MaxTransferLength && !c.sess.discovery {
			return c.immDest(n, edtl, h.Field32(24), h[0]&0x40 != 0, h[1]&0x40 != 0)
		}
		return nil
	}
	if h.Opcode() != pdu.OpDataOut || c.sess == nil {
		return nil
	}
	n := uint64(h.DataSegmentLength())
	t := c.sess.findTask(h.ITT())
	if t == nil || t.c != c || t.buf == nil || n == 0 {
		return nil
	}
	off := uint64(h.Field32(40))
	if off+n > uint64(len(t.buf)) {
		return nil
	}
	t.mu.Lock()
	gathering := t.state == taskGathering
	t.mu.Unlock()
	if !gathering {
		return nil
	}
	return t.buf[off : off+n]
}

// badInput logs one bad-input event per connection at warn level, the rest
// at debug, so a misbehaving initiator cannot flood the log.
func (c *conn) badInput(msg string, args ...any) {
	if c.rejectLogged {
		c.log.Debug(msg, args...)
		return
	}
	c.rejectLogged = true
	c.log.Warn(msg, args...)
}

// reject sends a Reject PDU carrying the offending header (RFC 7143 §11.17).
func (c *conn) reject(h *pdu.Header, reason uint8, closeAfter bool) {
	m := pdu.Reject{Reason: reason, DataSN: 0}
	it := &outItem{fillSN: true, advance: true, closeAfter: closeAfter}
	m.Encode(&it.hdr)
	bad := *h
	it.data = bad[:]
	c.enqueue(it)
}

// dispatch handles one PDU received in full feature phase.
func (c *conn) dispatch(p *pdu.PDU) error {
	h := &p.Header
	op := h.Opcode()
	ss := c.sess
	switch op {
	case pdu.OpNOPOut:
		c.handleNOPOut(p)
	case pdu.OpSCSICommand:
		if ss.discovery {
			c.badInput("SCSI command in a discovery session")
			c.reject(h, pdu.RejectProtocolError, false)
			return nil
		}
		c.handleSCSICommand(p)
	case pdu.OpDataOut:
		c.handleDataOut(p)
	case pdu.OpTaskMgmtReq:
		if ss.discovery {
			c.reject(h, pdu.RejectProtocolError, false)
			return nil
		}
		c.handleTMF(p)
	case pdu.OpTextReq:
		c.handleText(p)
	case pdu.OpLogoutReq:
		c.handleLogout(p)
	case pdu.OpSNACKReq:
		// ERL 0: no retransmission (RFC 7143 §7.1).
		c.badInput("SNACK at ErrorRecoveryLevel 0")
		c.reject(h, pdu.RejectProtocolError, false)
	case pdu.OpLoginReq:
		c.badInput("Login Request in full feature phase")
		c.reject(h, pdu.RejectProtocolError, false)
	default:
		c.badInput("unsupported opcode", "opcode", op.String())
		c.reject(h, pdu.RejectCommandNotSupported, false)
	}
	return nil
}

// dataDigestError handles a PDU whose data digest failed: RFC 7143 §7.8
// says reject it; a SCSI command or Data-Out whose data is lost fails its
// task at ERL 0.
func (c *conn) dataDigestError(p *pdu.PDU) {
	c.badInput("data digest error", "opcode", p.Header.Opcode().String())
	c.reject(&p.Header, pdu.RejectDataDigestError, false)
	switch p.Header.Opcode() {
	case pdu.OpDataOut:
		if t := c.sess.findTask(p.Header.ITT()); t != nil && t.c == c {
			c.failTask(t, senseProtocolCRC)
		}
	case pdu.OpSCSICommand:
		// The command was not delivered; its CmdSN slot must still be
		// consumed so later commands are not stuck behind it.
		var m pdu.SCSICommand
		m.Decode(&p.Header)
		c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
			if !m.Immediate {
				c.sess.release()
			}
		}))
	}
}

// handleNOPOut answers pings (RFC 7143 §11.18) and notes answers to ours.
func (c *conn) handleNOPOut(p *pdu.PDU) {
	var m pdu.NOPOut
	m.Decode(&p.Header)
	if m.ITT == pdu.ReservedTag {
		// An answer to our NOP-In (TTT echoed) or a one-way ping; neither
		// gets a response. It carries no CmdSN slot (it must be immediate).
		c.pingSent.Store(0)
		return
	}
	data := p.Data
	if mrdsl := c.params.MaxRecvDataSegmentLength; mrdsl > 0 && len(data) > mrdsl {
		data = data[:mrdsl]
	}
	c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
		in := pdu.NOPIn{LUN: m.LUN, ITT: m.ITT, TTT: pdu.ReservedTag}
		it := &outItem{fillSN: true, advance: true, data: data}
		in.Encode(&it.hdr)
		c.enqueue(it)
		if !m.Immediate {
			c.sess.release()
		}
	}))
}
