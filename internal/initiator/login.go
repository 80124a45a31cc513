package initiator

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// loginMaxData bounds login data segments in both directions before
// MaxRecvDataSegmentLength takes effect (RFC 7143 §13.12: 8192 during login).
const loginMaxData = 8192

// loginResult is what a successful login leaves for the full feature phase.
type loginResult struct {
	params              Params
	cmdSN               uint32 // the next CmdSN (the login's)
	expCmdSN, maxCmdSN  uint32
	expStatSN           uint32
	nextITT             uint32
	targetAddressOnMove string
}

// randomISID returns an ISID of type 0x80 (random) with random B and C.
func randomISID() pdu.ISID {
	var id pdu.ISID
	_, _ = rand.Read(id[1:4])
	id[0] = 0x80
	return id
}

// loginConn is the framing used during login: no digests.
type loginConn struct {
	conn net.Conn
	r    *pdu.Reader
	w    *pdu.Writer
}

func newLoginConn(c net.Conn) *loginConn {
	lc := &loginConn{conn: c, r: pdu.NewReader(c), w: pdu.NewWriter(c)}
	lc.r.Opts.MaxRecvDataSegmentLength = loginMaxData
	return lc
}

// deadline applies the earlier of ctx's deadline and timeout to conn and
// arranges for ctx cancellation to interrupt I/O. The returned func undoes it.
func deadline(ctx context.Context, conn net.Conn, timeout time.Duration) func() {
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = conn.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = conn.SetDeadline(time.Time{})
	}
}

// doLogin runs the login phase to full feature phase on a fresh connection.
func doLogin(lc *loginConn, o *Options, isid pdu.ISID, discovery bool) (*loginResult, error) {
	neg := newNegotiator(o)
	sec := &security{o: o, discovery: discovery}
	opKeys := operationalKeys(o, discovery)

	const itt = 0
	cmdSN := uint32(1)
	var expStatSN uint32
	statSNKnown := false

	stage := uint8(0)
	var pending []pdu.KV
	transit := true
	if o.SkipSecurityStage {
		stage = 1
		sec.step = 3 // no authentication
		pending = append(sec.initial(), opKeys...)
		neg.sent(opKeys)
	} else {
		var err error
		pending, transit, err = sec.next(nil)
		if err != nil {
			return nil, err
		}
	}

	for round := 0; ; round++ {
		if round > 32 {
			return nil, fmt.Errorf("login did not finish after %d exchanges", round)
		}
		nsg := uint8(1)
		if stage == 1 {
			nsg = 3
		}
		req := pdu.LoginReq{Transit: transit, CSG: stage, NSG: nsg, ISID: isid, TSIH: o.TSIH, ITT: itt,
			CmdSN: cmdSN, ExpStatSN: expStatSN}
		resp, data, err := lc.exchange(&req, pdu.AppendText(nil, pending))
		if err != nil {
			return nil, err
		}
		if resp.StatusClass != 0 {
			le := &LoginError{Class: resp.StatusClass, Detail: resp.StatusDetail}
			if kvs, err := pdu.ParseText(data); err == nil {
				for _, kv := range kvs {
					if kv.Key == "TargetAddress" {
						le.TargetAddress = kv.Value
					}
				}
			}
			return nil, le
		}
		if resp.VersionActive != 0 {
			return nil, fmt.Errorf("target chose iSCSI version %d, only 0 offered", resp.VersionActive)
		}
		if resp.ISID != isid {
			return nil, fmt.Errorf("login response ISID %x, sent %x", resp.ISID, isid)
		}
		if resp.ITT != itt {
			return nil, fmt.Errorf("login response ITT %#x, sent %#x", resp.ITT, itt)
		}
		if statSNKnown && resp.StatSN != expStatSN {
			return nil, fmt.Errorf("login response StatSN %d, expected %d", resp.StatSN, expStatSN)
		}
		expStatSN, statSNKnown = resp.StatSN+1, true
		if resp.CSG != stage {
			return nil, fmt.Errorf("login response CSG %d, request was in stage %d", resp.CSG, stage)
		}
		kvs, err := pdu.ParseText(data)
		if err != nil {
			return nil, fmt.Errorf("login response text: %w", err)
		}
		answers, err := neg.receive(kvs)
		if err != nil {
			return nil, fmt.Errorf("login negotiation: %w", err)
		}
		if stage == 0 {
			pending, transit, err = sec.next(kvs)
			if err != nil {
				return nil, err
			}
			pending = append(pending, answers...)
		} else {
			pending, transit = answers, true
		}
		if !resp.Transit {
			continue
		}
		if !transit && stage == 0 {
			return nil, fmt.Errorf("target left the security stage before authentication finished")
		}
		switch {
		case stage == 0 && resp.NSG == 1:
			if !sec.done() {
				return nil, fmt.Errorf("target left the security stage before authentication finished")
			}
			stage = 1
			pending = append(pending, opKeys...)
			neg.sent(opKeys)
			transit = true
		case resp.NSG == 3 && stage == 1:
			if len(answers) > 0 {
				return nil, fmt.Errorf("target offered %v in its final login response", answers)
			}
			p, err := neg.params(o)
			if err != nil {
				return nil, err
			}
			if resp.TSIH == 0 {
				return nil, fmt.Errorf("target completed login with TSIH 0")
			}
			p.TSIH, p.ISID = resp.TSIH, isid
			return &loginResult{params: p, cmdSN: cmdSN, expCmdSN: resp.ExpCmdSN,
				maxCmdSN: resp.MaxCmdSN, expStatSN: expStatSN, nextITT: itt + 1}, nil
		default:
			return nil, fmt.Errorf("target transited from stage %d to %d", stage, resp.NSG)
		}
	}
}

// exchange sends one login request (split into C-bit continuations when the
// data exceeds 8192 bytes) and reads the whole response (sending empty
// requests while the target sets the C bit).
func (lc *loginConn) exchange(req *pdu.LoginReq, data []byte) (*pdu.LoginResp, []byte, error) {
	for {
		chunk := data
		final := len(chunk) <= loginMaxData
		r := *req
		if !final {
			chunk = chunk[:loginMaxData]
			r.Continue, r.Transit = true, false
		}
		var h pdu.Header
		r.Encode(&h)
		if err := lc.w.Write(&h, nil, chunk); err != nil {
			return nil, nil, fmt.Errorf("sending login request: %w", err)
		}
		data = data[len(chunk):]
		resp, rdata, err := lc.read()
		if err != nil {
			return nil, nil, err
		}
		if final || resp.StatusClass != 0 {
			var all []byte
			all = append(all, rdata...)
			for resp.Continue && resp.StatusClass == 0 {
				if resp.Transit {
					return nil, nil, fmt.Errorf("login response with both T and C bits")
				}
				// Ask for the rest with an empty request (RFC 7143 §6.3).
				e := pdu.LoginReq{CSG: req.CSG, NSG: req.NSG, ISID: req.ISID, ITT: req.ITT,
					CmdSN: req.CmdSN, ExpStatSN: resp.StatSN + 1}
				e.Encode(&h)
				if err := lc.w.Write(&h, nil, nil); err != nil {
					return nil, nil, fmt.Errorf("sending login request: %w", err)
				}
				resp, rdata, err = lc.read()
				if err != nil {
					return nil, nil, err
				}
				all = append(all, rdata...)
			}
			return resp, all, nil
		}
		if len(rdata) != 0 || resp.Transit {
			return nil, nil, fmt.Errorf("target answered a partial (C bit) login request with data or transit")
		}
		req.ExpStatSN = resp.StatSN + 1
	}
}

func (lc *loginConn) read() (*pdu.LoginResp, []byte, error) {
	var p pdu.PDU
	if err := lc.r.Read(&p); err != nil {
		return nil, nil, fmt.Errorf("reading login response: %w", err)
	}
	if op := p.Header.Opcode(); op != pdu.OpLoginResp {
		if op == pdu.OpReject {
			var rj pdu.Reject
			rj.Decode(&p.Header)
			return nil, nil, fmt.Errorf("target rejected the login request, reason 0x%02x", rj.Reason)
		}
		return nil, nil, fmt.Errorf("expected a Login Response, got %v", op)
	}
	var resp pdu.LoginResp
	resp.Decode(&p.Header)
	return &resp, p.Data, nil
}
