package login

import "github.com/halun/halun/internal/iscsi/pdu"

// Authentication methods (RFC 7143 §12.1).
const (
	AuthNone = "None"
	AuthCHAP = "CHAP"
)

// AuthRequest says who is logging in to what; it is all an Authenticator
// learns of a login before the exchange starts.
type AuthRequest struct {
	InitiatorName string
	TargetName    string // empty for a Discovery session
	SessionType   SessionType
	ISID          pdu.ISID
}

// Authenticator runs the security stage (RFC 7143 §6.3.1, §12) for methods
// other than None. Implementations own their secrets and randomness (CHAP
// challenges), which keeps the Negotiator pure. They must never put secrets
// in errors or reasons.
type Authenticator interface {
	// Methods lists the AuthMethod values acceptable for this login in the
	// target's order of preference. Including AuthNone lets the initiator
	// log in without authenticating; an empty list refuses the login with
	// StatusAuthorizationFailure.
	Methods(r AuthRequest) []string
	// Begin starts an exchange of method (never AuthNone), chosen from
	// Methods' list by the initiator's preference.
	Begin(method string, r AuthRequest) (AuthExchange, error)
}

// AuthExchange is one authentication in progress, e.g. CHAP with CHAP_A 5
// (MD5), 6 (SHA-1), 7 (SHA-256) or 8 (SHA3-256), one-way or mutual.
type AuthExchange interface {
	// Step consumes the method's keys (those not defined by RFC 7143 §13,
	// such as CHAP_A, CHAP_N, CHAP_R, CHAP_I, CHAP_C) from one complete
	// security-stage Login Request and says what to send back.
	Step(keys []pdu.KV) AuthStep
}

// AuthStep is an AuthExchange's answer to one request.
type AuthStep struct {
	Reply []pdu.KV // keys to send, e.g. CHAP_A/CHAP_I/CHAP_C, or mutual CHAP_N/CHAP_R
	// Done reports that the initiator is authenticated (and, for mutual
	// authentication, that the target's response is in Reply): the security
	// stage may end.
	Done bool
	// Status, if not StatusSuccess, refuses the login: normally
	// StatusAuthenticationFailure, StatusMissingParameter for an absent
	// CHAP_N/CHAP_R, or StatusInitiatorError for malformed values.
	Status Status
	// Identity names the authenticated peer (the CHAP user name) for
	// Result.AuthIdentity; never a secret.
	Identity string
}
