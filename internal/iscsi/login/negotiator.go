package login

import (
	"github.com/halun/halun/internal/iscsi/pdu"
	"strings"
)

type nstate uint8

const (
	stateLogin nstate = iota
	stateDone
	stateFailed
)

// Negotiator runs the target side of one connection's Login Phase. It is a
// plain state machine: Step consumes a Login Request and returns the Login
// Response to send. It is not safe for concurrent use.
type Negotiator struct {
	cfg   Config
	state nstate

	haveFirst bool
	first     pdu.LoginReq // header fields that must stay constant
	stage     uint8        // current stage: StageSecurity or StageOperational

	in  []byte // text continued with the C bit, not yet complete
	out []byte // response text not yet sent (split with the C bit)

	started bool              // the first complete request was processed
	decl    map[string]string // initiator declarations as first given
	res     Result
	eng     *engine

	methods    []string // acceptable AuthMethod values
	authChosen string
	authDone   bool
	exch       AuthExchange
}

// New returns a Negotiator for a connection that has just been accepted.
func New(cfg Config) *Negotiator {
	return &Negotiator{cfg: cfg, decl: map[string]string{}}
}

// Result returns the outcome once Step has returned a Done response, else nil.
func (n *Negotiator) Result() *Result {
	if n.state != stateDone {
		return nil
	}
	r := n.res
	return &r
}

// Names returns the initiator and target names the initiator has declared
// so far (empty until it has), whether or not the login goes on to
// succeed: for logging a refusal. The initiator name is lower case; both
// are at most an iSCSI name's length.
func (n *Negotiator) Names() (initiator, target string) {
	initiator, target = n.decl[keyInitiatorName], n.decl[keyTargetName]
	if len(initiator) > maxNameLen {
		initiator = initiator[:maxNameLen]
	}
	if len(target) > maxNameLen {
		target = target[:maxNameLen]
	}
	return strings.ToLower(initiator), target
}

// Stage returns the current login stage.
func (n *Negotiator) Stage() uint8 { return n.stage }

// Step consumes one Login Request (its header and data segment) and returns
// the response to send.
func (n *Negotiator) Step(req *pdu.LoginReq, data []byte) Response {
	if n.state != stateLogin {
		return n.refuse(req, fail(StatusInitiatorError, "Login Request after the login phase ended"))
	}
	if f := n.checkHeader(req); f != nil {
		return n.refuse(req, f)
	}
	if len(n.out) > 0 {
		// Our previous response had C=1: the initiator must answer each
		// part with an empty request (RFC 7143 §6.2).
		if len(data) > 0 || req.Continue {
			return n.refuse(req, fail(StatusInitiatorError, "Login Request with text while the target's response is continued"))
		}
		return n.send(req, false, 0)
	}
	if req.Continue {
		if len(n.in)+len(data) > maxLoginText {
			return n.refuse(req, fail(StatusInitiatorError, "continued login text exceeds %d bytes", maxLoginText))
		}
		n.in = append(n.in, data...)
		return n.send(req, false, 0)
	}
	text := data
	if len(n.in) > 0 {
		text = append(n.in, data...)
		n.in = nil
	}
	kvs, err := pdu.ParseText(text)
	if err != nil {
		return n.refuse(req, fail(StatusInitiatorError, "malformed login text: %v", err))
	}
	replies, transit, nsg, f := n.process(req, kvs)
	if f != nil {
		return n.refuse(req, f)
	}
	n.out = pdu.AppendText(n.out, replies)
	return n.send(req, transit, nsg)
}

// Refuse ends the login with status, for events the Negotiator does not see,
// such as a PDU other than a Login Request (StatusInvalidDuringLogin). The
// header echoes the login's first request.
func (n *Negotiator) Refuse(status Status, reason string) Response {
	req := n.first
	return n.refuse(&req, &failure{status: status, reason: reason})
}

// RefuseRequest ends the login with status in answer to req, for faults the
// transport finds in the framing of a request, which Step never sees: a
// Login Request with an AHS, for one (RFC 7143 §11.2.1.5). The response
// echoes req's ISID, TSIH and ITT, and the stage of the login (req's own on
// a first request).
func (n *Negotiator) RefuseRequest(req *pdu.LoginReq, status Status, reason string) Response {
	if !n.haveFirst && (req.CSG == StageSecurity || req.CSG == StageOperational) {
		n.stage = req.CSG
	}
	return n.refuse(req, &failure{status: status, reason: reason})
}

// checkHeader enforces the header rules of RFC 7143 §11.12: the version range,
// the fields that stay constant across a login, and the stage codes.
func (n *Negotiator) checkHeader(req *pdu.LoginReq) *failure {
	if !n.haveFirst {
		n.haveFirst = true
		n.first = *req
		if req.VersionMin != 0 {
			// halun speaks version 0x00 only (RFC 7143 §11.12.4).
			return fail(StatusUnsupportedVersion, "initiator requires iSCSI version %d..%d", req.VersionMin, req.VersionMax)
		}
		if req.CSG != StageSecurity && req.CSG != StageOperational {
			return fail(StatusInitiatorError, "login starts in stage %d", req.CSG)
		}
		n.stage = req.CSG
	} else {
		f := &n.first
		switch {
		case req.ISID != f.ISID:
			return fail(StatusInitiatorError, "ISID changed during login")
		case req.TSIH != f.TSIH:
			return fail(StatusInitiatorError, "TSIH changed during login")
		case req.ITT != f.ITT:
			return fail(StatusInitiatorError, "ITT changed during login")
		case req.CID != f.CID:
			return fail(StatusInitiatorError, "CID changed during login")
		case req.CmdSN != f.CmdSN:
			return fail(StatusInitiatorError, "CmdSN changed during login")
		case req.VersionMax != f.VersionMax || req.VersionMin != f.VersionMin:
			return fail(StatusInitiatorError, "version range changed during login")
		case req.CSG != n.stage:
			return fail(StatusInitiatorError, "request in stage %d while the login is in stage %d", req.CSG, n.stage)
		}
	}
	if req.Transit && req.Continue {
		return fail(StatusInitiatorError, "Login Request with both T and C bits")
	}
	if req.Transit && (req.NSG <= req.CSG || req.NSG == 2) {
		return fail(StatusInitiatorError, "invalid transition from stage %d to %d", req.CSG, req.NSG)
	}
	return nil
}

// send emits the next part of n.out. The T bit (and with it Admit) is only
// possible when the whole remaining text fits in this response.
func (n *Negotiator) send(req *pdu.LoginReq, transit bool, nsg uint8) Response {
	chunk, cont := n.out, false
	if len(chunk) > MaxLoginSegment {
		chunk, cont, transit = chunk[:MaxLoginSegment:MaxLoginSegment], true, false
	}
	n.out = n.out[len(chunk):]
	if len(n.out) == 0 {
		n.out = nil
	}
	resp := Response{
		Header: pdu.LoginResp{
			Transit: transit, Continue: cont, CSG: n.stage,
			ISID: req.ISID, TSIH: req.TSIH, ITT: req.ITT,
		},
		Data: chunk,
	}
	if !transit {
		return resp
	}
	resp.Header.NSG = nsg
	if nsg == StageFullFeature {
		tsih, f := n.admit()
		if f != nil {
			return n.refuse(req, f)
		}
		resp.Header.TSIH = tsih
		resp.Done = true
		n.state = stateDone
		return resp
	}
	n.stage = nsg
	return resp
}

// admit hands the outcome to the Env.
func (n *Negotiator) admit() (uint16, *failure) {
	n.res.Params = n.eng.result()
	r := n.res
	tsih, class, detail := n.cfg.Env.Admit(&r)
	if st := StatusOf(class, detail); st != StatusSuccess {
		return 0, fail(st, "login not admitted")
	}
	if tsih == 0 {
		return 0, fail(StatusTargetError, "admission returned TSIH 0")
	}
	if n.res.TSIH != 0 && tsih != n.res.TSIH {
		return 0, fail(StatusTargetError, "admission changed the TSIH of an existing session")
	}
	n.res.TSIH = tsih
	return tsih, nil
}

// refuse builds a final failure response.
func (n *Negotiator) refuse(req *pdu.LoginReq, f *failure) Response {
	n.state = stateFailed
	n.in, n.out = nil, nil
	return Response{
		Header: pdu.LoginResp{
			CSG: n.stage, ISID: req.ISID, TSIH: req.TSIH, ITT: req.ITT,
			StatusClass: f.status.Class(), StatusDetail: f.status.Detail(),
		},
		Failed: true,
		Reason: f.reason,
	}
}
