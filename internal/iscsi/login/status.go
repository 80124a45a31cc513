package login

import "fmt"

// Status is a Login Response status: the class in the high byte, the detail in
// the low byte (RFC 7143 §11.13.5), so Status 0x0203 is class 2 detail 3.
type Status uint16

// Login Response statuses of RFC 7143 §11.13.5.
const (
	StatusSuccess Status = 0x0000

	// Class 1, redirection. The response must carry TargetAddress.
	StatusTargetMovedTemporarily Status = 0x0101
	StatusTargetMovedPermanently Status = 0x0102

	// Class 2, initiator error: the initiator must not retry the same login.
	StatusInitiatorError          Status = 0x0200 // protocol or other initiator error
	StatusAuthenticationFailure   Status = 0x0201
	StatusAuthorizationFailure    Status = 0x0202 // not allowed access to this target
	StatusNotFound                Status = 0x0203 // target name unknown on this portal
	StatusTargetRemoved           Status = 0x0204
	StatusUnsupportedVersion      Status = 0x0205
	StatusTooManyConnections      Status = 0x0206
	StatusMissingParameter        Status = 0x0207
	StatusCantIncludeInSession    Status = 0x0208
	StatusSessionTypeNotSupported Status = 0x0209
	StatusSessionDoesNotExist     Status = 0x020a
	StatusInvalidDuringLogin      Status = 0x020b // a PDU other than Login Request during login

	// Class 3, target error: the initiator may retry later.
	StatusTargetError        Status = 0x0300
	StatusServiceUnavailable Status = 0x0301
	StatusOutOfResources     Status = 0x0302
)

// StatusOf combines a class and a detail.
func StatusOf(class, detail uint8) Status { return Status(class)<<8 | Status(detail) }

// Class returns the status class.
func (s Status) Class() uint8 { return uint8(s >> 8) }

// Detail returns the status detail.
func (s Status) Detail() uint8 { return uint8(s) }

var statusNames = map[Status]string{
	StatusSuccess:                 "success",
	StatusTargetMovedTemporarily:  "target moved temporarily",
	StatusTargetMovedPermanently:  "target moved permanently",
	StatusInitiatorError:          "initiator error",
	StatusAuthenticationFailure:   "authentication failure",
	StatusAuthorizationFailure:    "authorization failure",
	StatusNotFound:                "not found",
	StatusTargetRemoved:           "target removed",
	StatusUnsupportedVersion:      "unsupported version",
	StatusTooManyConnections:      "too many connections",
	StatusMissingParameter:        "missing parameter",
	StatusCantIncludeInSession:    "can't include in session",
	StatusSessionTypeNotSupported: "session type not supported",
	StatusSessionDoesNotExist:     "session does not exist",
	StatusInvalidDuringLogin:      "invalid during login",
	StatusTargetError:             "target error",
	StatusServiceUnavailable:      "service unavailable",
	StatusOutOfResources:          "out of resources",
}

// String gives the RFC's name and the code, e.g. "not found (0203)".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return fmt.Sprintf("%s (%04x)", n, uint16(s))
	}
	return fmt.Sprintf("status %04x", uint16(s))
}

// Status classes and details as the separate bytes of the Login Response
// (Env.Admit returns them this way). Details are named after their status;
// class 2 and class 3 details share numbers.
const (
	ClassSuccess        uint8 = 0
	ClassRedirection    uint8 = 1
	ClassInitiatorError uint8 = 2
	ClassTargetError    uint8 = 3

	DetailTargetMovedTemporarily  = uint8(StatusTargetMovedTemporarily & 0xff)
	DetailTargetMovedPermanently  = uint8(StatusTargetMovedPermanently & 0xff)
	DetailInitiatorError          = uint8(StatusInitiatorError & 0xff)
	DetailAuthenticationFailure   = uint8(StatusAuthenticationFailure & 0xff)
	DetailAuthorizationFailure    = uint8(StatusAuthorizationFailure & 0xff)
	DetailNotFound                = uint8(StatusNotFound & 0xff)
	DetailTargetRemoved           = uint8(StatusTargetRemoved & 0xff)
	DetailUnsupportedVersion      = uint8(StatusUnsupportedVersion & 0xff)
	DetailTooManyConnections      = uint8(StatusTooManyConnections & 0xff)
	DetailMissingParameter        = uint8(StatusMissingParameter & 0xff)
	DetailCantIncludeInSession    = uint8(StatusCantIncludeInSession & 0xff)
	DetailSessionTypeNotSupported = uint8(StatusSessionTypeNotSupported & 0xff)
	DetailSessionDoesNotExist     = uint8(StatusSessionDoesNotExist & 0xff)
	DetailInvalidDuringLogin      = uint8(StatusInvalidDuringLogin & 0xff)
	DetailTargetError             = uint8(StatusTargetError & 0xff)
	DetailServiceUnavailable      = uint8(StatusServiceUnavailable & 0xff)
	DetailOutOfResources          = uint8(StatusOutOfResources & 0xff)
)
