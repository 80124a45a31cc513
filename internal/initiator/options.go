package initiator

import (
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// RFC 7143 defaults (§13) for the keys the initiator negotiates.
const (
	DefaultMaxRecvDataSegmentLength = 8192
	DefaultMaxBurstLength           = 262144
	DefaultFirstBurstLength         = 65536
	DefaultMaxOutstandingR2T        = 1
)

// Options configure a session's login.
type Options struct {
	// InitiatorName is the initiator's iSCSI name (iqn. or eui.). Required.
	InitiatorName string
	// ISID is the initiator part of the session ID. The zero value picks a
	// random ISID of type 0x80 (random qualifier, RFC 7143 §11.12.5).
	ISID pdu.ISID
	// TargetName is the target to log in to (normal sessions).
	TargetName string

	// HeaderDigest and DataDigest offer CRC32C only, and the login fails if
	// the target does not accept it; when false only None is offered.
	HeaderDigest, DataDigest bool

	// InitialR2T and ImmediateData are offered as given.
	InitialR2T, ImmediateData bool

	// MaxRecvDataSegmentLength is declared to the target (the most the
	// target may send in one PDU). The others are offered for negotiation.
	// Zero selects the RFC 7143 default.
	MaxRecvDataSegmentLength, MaxBurstLength, FirstBurstLength, MaxOutstandingR2T int

	// ExtraKeys are sent verbatim in the first operational-stage request,
	// after the standard keys; a standard key named here is not sent.
	ExtraKeys []pdu.KV

	// SkipSecurityStage starts the login in the operational stage (CSG=1),
	// as libiscsi does, instead of the security stage.
	SkipSecurityStage bool

	// CHAPUsername and CHAPSecret, when the secret is set, make the
	// initiator offer AuthMethod=CHAP and answer the target's challenge.
	// TargetCHAPUsername and TargetCHAPSecret, when the secret is set,
	// additionally challenge the target (mutual CHAP).
	CHAPUsername, CHAPSecret             string
	TargetCHAPUsername, TargetCHAPSecret string
	// CHAPAlgorithms are the CHAP_A values offered, in order of
	// preference: 5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256. Empty offers 5.
	CHAPAlgorithms []int

	// TSIH is sent in the Login Request: 0 (the default) asks for a new
	// session; another value asks to add the connection to that session,
	// as a test of how a target treats a reused session handle.
	TSIH uint16

	// Timeout bounds TCP connect plus login (and discovery); 0 means 10s.
	// Commands are bounded only by their contexts.
	Timeout time.Duration

	// OnAsyncEvent, if set, is called from the reader goroutine for each
	// Asynchronous Message; it must not block or call the Session.
	OnAsyncEvent func(AsyncEvent)
}

// AsyncEvent is a decoded Asynchronous Message (RFC 7143 §11.9).
type AsyncEvent struct {
	Event, VCode           uint8
	LUN                    uint64
	Param1, Param2, Param3 uint16
	// Sense is the sense data of a SCSI asynchronous event (event 0).
	Sense []byte
}

// Params are the operational parameters in force after login.
type Params struct {
	HeaderDigest, DataDigest  bool
	InitialR2T, ImmediateData bool
	// MaxRecvDataSegmentLength is the initiator's declared value: the
	// largest data segment the target may send.
	MaxRecvDataSegmentLength int
	// TargetMaxRecvDataSegmentLength is the target's declared value (8192
	// if it declared none): the largest data segment the initiator sends.
	TargetMaxRecvDataSegmentLength       int
	MaxBurstLength, FirstBurstLength     int
	MaxOutstandingR2T                    int
	MaxConnections, ErrorRecoveryLevel   int
	DataPDUInOrder, DataSequenceInOrder  bool
	DefaultTime2Wait, DefaultTime2Retain int
	TargetAlias                          string
	TargetPortalGroupTag                 uint16
	TSIH                                 uint16
	ISID                                 pdu.ISID
	// Keys holds every key=value the target sent during login, in order.
	Keys []pdu.KV
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 10 * time.Second
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}
