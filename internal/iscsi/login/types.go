package login

import "github.com/halun/halun/internal/iscsi/pdu"

type kv = pdu.KV

// SessionType is the SessionType key's value (RFC 7143 §13.21).
type SessionType uint8

// Session types.
const (
	SessionNormal SessionType = iota
	SessionDiscovery
)

func (t SessionType) String() string {
	if t == SessionDiscovery {
		return "Discovery"
	}
	return "Normal"
}

// Login stages, the CSG and NSG codes of RFC 7143 §11.12.3.
const (
	StageSecurity    uint8 = 0
	StageOperational uint8 = 1
	StageFullFeature uint8 = 3
)

// MaxLoginSegment is the largest data segment of a Login PDU: both sides'
// MaxRecvDataSegmentLength is 8192 until the login completes (RFC 7143
// §13.12). Longer responses are split with the C bit.
const MaxLoginSegment = 8192

// maxLoginText bounds the text an initiator may accumulate with the C bit.
const maxLoginText = 64 << 10

// maxNameLen is the longest iSCSI name (RFC 7143 §4.2.7.1).
const maxNameLen = 223

// TargetInfo describes a target node as configured.
type TargetInfo struct {
	Name  string // IQN
	Alias string // sent as TargetAlias when not empty
	// PortalGroups are the portal group tags the target is reachable
	// through. A Normal login arriving on a portal of another group is
	// refused with StatusNotFound. Empty means every group.
	PortalGroups []uint16
	// Params are the target's values of the operational keys. A zero
	// MaxRecvDataSegmentLength means DefaultSettings().
	Params Settings
}

// Env is what the Negotiator asks of the rest of the target.
type Env interface {
	// LookupTarget resolves TargetName for a Normal session arriving on a
	// portal of group tpgt.
	LookupTarget(name string, tpgt uint16) (TargetInfo, bool)
	// Admit is called once, just before the final (transit to full feature)
	// response, with the negotiation outcome. It creates the session or adds
	// the connection (r.TSIH != 0), performs session reinstatement, checks
	// access by r.InitiatorName, and returns the TSIH to send, or a non-zero
	// status class/detail to refuse the login (e.g. StatusAuthorizationFailure,
	// StatusSessionDoesNotExist, StatusTooManyConnections,
	// StatusCantIncludeInSession, StatusTargetRemoved, StatusOutOfResources).
	Admit(r *Result) (tsih uint16, class, detail uint8)
}

// Config configures a Negotiator for one connection.
type Config struct {
	PortalGroupTag uint16 // of the portal the connection arrived on
	Env            Env
	// Auth runs authentication; nil means only AuthMethod=None exists.
	Auth Authenticator
	// DiscoverySettings are the target's values for Discovery sessions. A
	// zero MaxRecvDataSegmentLength means DefaultSettings().
	DiscoverySettings Settings
}

// Result is the outcome of a login.
type Result struct {
	SessionType    SessionType
	InitiatorName  string
	InitiatorAlias string
	TargetName     string // empty for Discovery sessions
	ISID           pdu.ISID
	// TSIH is the initiator's TSIH when Admit sees it (0 for a new session,
	// else the session the connection joins); after Done, Negotiator.Result
	// reports the TSIH Admit returned.
	TSIH           uint16
	CID            uint16
	CmdSN          uint32 // the CmdSN of the Login Requests: the next expected CmdSN
	PortalGroupTag uint16
	// Params are the negotiated values. On a connection joining an existing
	// session (TSIH != 0) only the connection-scoped keys (digests,
	// MaxRecvDataSegmentLength) are negotiated: session-wide fields hold RFC
	// defaults and the session's own values apply.
	Params       Negotiated
	Target       TargetInfo // zero for Discovery sessions
	AuthMethod   string     // "None", or the method that authenticated the initiator
	AuthIdentity string     // the authenticated name (CHAP_N), if any
}

// Leading reports whether the login creates a session rather than adding a
// connection to one.
func (r *Result) Leading() bool { return r.TSIH == 0 }

// Response is one Login Response to send.
type Response struct {
	// Header has everything but StatSN, ExpCmdSN and MaxCmdSN, which the
	// caller fills.
	Header pdu.LoginResp
	Data   []byte
	// Done: full feature phase is reached; switch to it after sending.
	Done bool
	// Failed: the login is refused; send the response, then close.
	Failed bool
	// Reason says why a login failed, for logs. It holds no secrets.
	Reason string
}

// Status returns the response's status.
func (r *Response) Status() Status {
	return StatusOf(r.Header.StatusClass, r.Header.StatusDetail)
}
