package iscsi

import (
	"errors"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

var errTargetReset = errors.New("target cold reset")

// handleLogout answers a Logout Request (RFC 7143 §11.14) after the
// session's outstanding commands have finished, then closes the connection;
// the session ends with it.
func (c *conn) handleLogout(p *pdu.PDU) {
	var m pdu.LogoutReq
	m.Decode(&p.Header)
	c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
		resp := pdu.LogoutRespOK
		closeAfter := true
		switch m.Reason {
		case pdu.LogoutCloseSession:
		case pdu.LogoutCloseConnection:
			if m.CID != c.cid {
				resp, closeAfter = pdu.LogoutRespCIDNotFound, false
			}
		case pdu.LogoutRemoveForRecovery:
			resp, closeAfter = pdu.LogoutRespNoRecovery, false
		default:
			c.reject(&p.Header, pdu.RejectInvalidPDUField, false)
			if !m.Immediate {
				c.sess.release()
			}
			return
		}
		go func() {
			if closeAfter {
				c.sess.drain(10 * time.Second)
				// The I_T nexus ends with the logout (SAM-5 6.3.4): drop
				// its state (RESERVE(6) reservations, unit attentions) before
				// the response, so that another initiator acting on the
				// response finds it gone. The connection closes after.
				if c.sess.target != nil {
					c.sess.target.LUNs.NexusLost(c.sess.nexus)
				}
			}
			r := pdu.LogoutResp{Response: resp, ITT: m.ITT}
			it := &outItem{fillSN: true, advance: true, closeAfter: closeAfter}
			r.Encode(&it.hdr)
			if !m.Immediate {
				c.sess.release()
			}
			c.enqueue(it)
			if closeAfter {
				c.log.Info("logout", "reason", m.Reason)
			}
		}()
	}))
}
