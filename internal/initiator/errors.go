package initiator

import (
	"errors"
	"fmt"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// Errors a session returns once it can no longer carry commands.
var (
	ErrClosed           = errors.New("initiator: session closed")
	ErrLoggedOut        = errors.New("initiator: session logged out")
	ErrDetached         = errors.New("initiator: session handed over to a RawConn")
	ErrTaskAborted      = errors.New("initiator: task aborted by a task management function")
	ErrLogoutRequested  = errors.New("initiator: target requested logout (Async Message)")
	ErrTargetDropped    = errors.New("initiator: target announced it drops the connection (Async Message)")
	ErrProtocol         = errors.New("initiator: target protocol violation")
	ErrNotFullFeature   = errors.New("initiator: login did not reach full feature phase")
	ErrSessionHasFailed = errors.New("initiator: session has failed")
)

// LoginError is returned when the target answers a login with a non-zero
// status class (RFC 7143 §11.13.5).
type LoginError struct {
	Class, Detail uint8
	// TargetAddress is the redirect address of class 1 (redirection).
	TargetAddress string
}

func (e *LoginError) Error() string {
	s := fmt.Sprintf("initiator: login refused: status class %d detail 0x%02x (%s)", e.Class, e.Detail, loginStatusText(e.Class, e.Detail))
	if e.TargetAddress != "" {
		s += " to " + e.TargetAddress
	}
	return s
}

func loginStatusText(class, detail uint8) string {
	switch uint16(class)<<8 | uint16(detail) {
	case 0x0101:
		return "target moved temporarily"
	case 0x0102:
		return "target moved permanently"
	case 0x0200:
		return "initiator error"
	case 0x0201:
		return "authentication failure"
	case 0x0202:
		return "authorization failure"
	case 0x0203:
		return "not found"
	case 0x0204:
		return "target removed"
	case 0x0205:
		return "unsupported version"
	case 0x0206:
		return "too many connections"
	case 0x0207:
		return "missing parameter"
	case 0x0208:
		return "can't include in session"
	case 0x0209:
		return "session type not supported"
	case 0x020a:
		return "session does not exist"
	case 0x020b:
		return "invalid during login"
	case 0x0300:
		return "target error"
	case 0x0301:
		return "service unavailable"
	case 0x0302:
		return "out of resources"
	}
	return "unknown"
}

// RejectError reports that the target rejected a PDU (RFC 7143 §11.17).
type RejectError struct {
	Reason uint8
	// Header is the rejected PDU's basic header segment.
	Header pdu.Header
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("initiator: target rejected %v PDU, reason 0x%02x", e.Header.Opcode(), e.Reason)
}

// ResponseError reports a SCSI Response whose iSCSI Response field is not
// "command completed at target".
type ResponseError struct{ Response uint8 }

func (e *ResponseError) Error() string {
	return fmt.Sprintf("initiator: iSCSI response 0x%02x (target failure)", e.Response)
}

func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, a...)...)
}
