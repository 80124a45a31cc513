package iscsi

import (
	"net"
	"strconv"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// textState carries a text exchange across PDUs: request continuation
// (C bit) and responses longer than the initiator's
// MaxRecvDataSegmentLength, sent in parts under a target transfer tag.
type textState struct {
	itt     uint32
	reqBuf  []byte
	resp    []byte
	ttt     uint32
	pending bool
}

// handleText serves Text Requests (RFC 7143 §11.10): SendTargets in
// discovery and normal sessions; other keys are answered NotUnderstood.
func (c *conn) handleText(p *pdu.PDU) {
	var m pdu.TextReq
	m.Decode(&p.Header)
	data := p.Data
	c.sess.order(m.CmdSN, m.Immediate, deliverFunc(func() {
		defer func() {
			if !m.Immediate {
				c.sess.release()
			}
		}()
		ts := &c.text
		if m.TTT != pdu.ReservedTag {
			// Continuation of our long response.
			if !ts.pending || m.TTT != ts.ttt || m.ITT != ts.itt {
				c.reject(&p.Header, pdu.RejectInvalidPDUField, false)
				return
			}
			c.sendTextPart(m.ITT)
			return
		}
		if ts.itt != m.ITT {
			*ts = textState{itt: m.ITT}
		}
		ts.reqBuf = append(ts.reqBuf, data...)
		if m.Continue {
			// More request text follows: acknowledge with an empty
			// response (RFC 7143 §11.10.2).
			c.sendText(m.ITT, nil, false, true, 0x7fffffff&(c.nextTTT+1))
			return
		}
		kvs, err := pdu.ParseText(ts.reqBuf)
		ts.reqBuf = nil
		if err != nil {
			c.badInput("malformed text request", "err", err)
			c.reject(&p.Header, pdu.RejectProtocolError, false)
			return
		}
		var out []pdu.KV
		for _, kv := range kvs {
			switch kv.Key {
			case "SendTargets":
				out = append(out, c.sendTargets(kv.Value)...)
			default:
				out = append(out, pdu.KV{Key: kv.Key, Value: "NotUnderstood"})
			}
		}
		ts.resp = pdu.AppendText(nil, out)
		ts.pending = true
		c.sendTextPart(m.ITT)
	}))
}

func (c *conn) sendTextPart(itt uint32) {
	ts := &c.text
	mrdsl := c.params.MaxRecvDataSegmentLength
	if mrdsl <= 0 {
		mrdsl = 8192
	}
	part := ts.resp
	more := len(part) > mrdsl
	if more {
		part = part[:mrdsl]
	}
	ts.resp = ts.resp[len(part):]
	if !more {
		ts.pending = false
		c.sendText(itt, part, true, false, pdu.ReservedTag)
		return
	}
	c.nextTTT++
	ts.ttt = c.nextTTT & 0x7fffffff
	c.sendText(itt, part, false, true, ts.ttt)
}

func (c *conn) sendText(itt uint32, data []byte, final, cont bool, ttt uint32) {
	r := pdu.TextResp{Final: final, Continue: cont, ITT: itt, TTT: ttt}
	it := &outItem{fillSN: true, advance: true, data: data}
	r.Encode(&it.hdr)
	c.enqueue(it)
}

// sendTargets answers SendTargets (RFC 7143 Appendix C): in a discovery
// session "All" lists every target, a target name lists that target; in a
// normal session only the session's own target is reported. Targets the
// initiator may not log in to are never listed.
func (c *conn) sendTargets(value string) []pdu.KV {
	var names []string
	switch {
	case !c.sess.discovery:
		if value == "" || value == "All" || value == c.sess.targetName {
			names = []string{c.sess.targetName}
		}
	case value == "All":
		names = c.srv.TargetNames()
	default:
		if c.srv.targetByName(value) != nil {
			names = []string{value}
		}
	}
	var out []pdu.KV
	for _, n := range names {
		t := c.srv.targetByName(n)
		if t == nil {
			continue // removed meanwhile
		}
		if !t.Access.Allows(c.sess.nexus.InitiatorName) {
			continue // an initiator does not discover targets it may not log in to
		}
		out = append(out, pdu.KV{Key: "TargetName", Value: t.Name})
		for _, addr := range c.srv.portalAddresses(t, c.nc.LocalAddr()) {
			out = append(out, pdu.KV{Key: "TargetAddress", Value: addr})
		}
	}
	return out
}

// portalAddresses returns "addr:port,tpgt" for every bound portal of the
// target's portal groups. A wildcard listener reports the address the
// initiator reached us on.
func (s *Server) portalAddresses(t *Target, local net.Addr) []string {
	groups := map[uint16]bool{}
	for _, g := range t.PortalGroups {
		groups[g] = true
	}
	localIP := ""
	if ta, ok := local.(*net.TCPAddr); ok {
		localIP = ta.IP.String()
	}
	var out []string
	for _, pa := range s.Addrs() {
		if !groups[pa.Tag] {
			continue
		}
		host, port, err := net.SplitHostPort(pa.Addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = localIP
		}
		out = append(out, net.JoinHostPort(host, port)+","+strconv.Itoa(int(pa.Tag)))
	}
	return out
}
