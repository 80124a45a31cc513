// Package pdu owns the iSCSI wire format of RFC 7143: the 48-byte basic header
// segment (BHS) of every PDU type, additional header segments (AHS), text
// key=value data segments, CRC32C header and data digests, and framing of whole
// PDUs on a byte stream. It knows nothing of sessions or SCSI semantics.
package pdu

import "fmt"

// Opcode is the 6-bit iSCSI opcode in byte 0 of the BHS (RFC 7143 §11.2.1.2).
type Opcode uint8

// Initiator opcodes.
const (
	OpNOPOut       Opcode = 0x00
	OpSCSICommand  Opcode = 0x01
	OpTaskMgmtReq  Opcode = 0x02
	OpLoginReq     Opcode = 0x03
	OpTextReq      Opcode = 0x04
	OpDataOut      Opcode = 0x05
	OpLogoutReq    Opcode = 0x06
	OpSNACKReq     Opcode = 0x10
	OpNOPIn        Opcode = 0x20
	OpSCSIResponse Opcode = 0x21
	OpTaskMgmtResp Opcode = 0x22
	OpLoginResp    Opcode = 0x23
	OpTextResp     Opcode = 0x24
	OpDataIn       Opcode = 0x25
	OpLogoutResp   Opcode = 0x26
	OpR2T          Opcode = 0x31
	OpAsyncMessage Opcode = 0x32
	OpReject       Opcode = 0x3f
)

var opcodeNames = map[Opcode]string{
	OpNOPOut: "NOP-Out", OpSCSICommand: "SCSI Command", OpTaskMgmtReq: "Task Management Request",
	OpLoginReq: "Login Request", OpTextReq: "Text Request", OpDataOut: "SCSI Data-Out",
	OpLogoutReq: "Logout Request", OpSNACKReq: "SNACK Request", OpNOPIn: "NOP-In",
	OpSCSIResponse: "SCSI Response", OpTaskMgmtResp: "Task Management Response",
	OpLoginResp: "Login Response", OpTextResp: "Text Response", OpDataIn: "SCSI Data-In",
	OpLogoutResp: "Logout Response", OpR2T: "R2T", OpAsyncMessage: "Async Message",
	OpReject: "Reject",
}

func (o Opcode) String() string {
	if n, ok := opcodeNames[o]; ok {
		return n
	}
	return fmt.Sprintf("opcode 0x%02x", uint8(o))
}

// Known reports whether o is an opcode defined by RFC 7143.
func (o Opcode) Known() bool { _, ok := opcodeNames[o]; return ok }

// FromInitiator reports whether o is sent by initiators.
func (o Opcode) FromInitiator() bool { return o < 0x20 }

// Reject reasons (RFC 7143 §11.17.1).
const (
	RejectDataDigestError     uint8 = 0x02
	RejectSNACKReject         uint8 = 0x03
	RejectProtocolError       uint8 = 0x04
	RejectCommandNotSupported uint8 = 0x05
	RejectImmediateRejected   uint8 = 0x06
	RejectTaskInProgress      uint8 = 0x07
	RejectInvalidDataAck      uint8 = 0x08
	RejectInvalidPDUField     uint8 = 0x09
	RejectOutOfResources      uint8 = 0x0a
	RejectNegotiationReset    uint8 = 0x0b
	RejectWaitingForLogout    uint8 = 0x0c
)

// Task attributes in the SCSI Command PDU (RFC 7143 §11.3.1).
const (
	AttrUntagged    uint8 = 0
	AttrSimple      uint8 = 1
	AttrOrdered     uint8 = 2
	AttrHeadOfQueue uint8 = 3
	AttrACA         uint8 = 4
)

// Task management functions (RFC 7143 §11.5.1).
const (
	TMFAbortTask        uint8 = 1
	TMFAbortTaskSet     uint8 = 2
	TMFClearACA         uint8 = 3
	TMFClearTaskSet     uint8 = 4
	TMFLogicalUnitReset uint8 = 5
	TMFTargetWarmReset  uint8 = 6
	TMFTargetColdReset  uint8 = 7
	TMFTaskReassign     uint8 = 8
)

// Task management responses (RFC 7143 §11.6.1).
const (
	TMFRespComplete          uint8 = 0
	TMFRespNoTask            uint8 = 1
	TMFRespNoLUN             uint8 = 2
	TMFRespTaskAllegiant     uint8 = 3
	TMFRespReassignNoSupport uint8 = 4
	TMFRespNotSupported      uint8 = 5
	TMFRespAuthFailed        uint8 = 6
	TMFRespRejected          uint8 = 255
)

// Logout reasons and responses (RFC 7143 §11.14.1, §11.15.1).
const (
	LogoutCloseSession      uint8 = 0
	LogoutCloseConnection   uint8 = 1
	LogoutRemoveForRecovery uint8 = 2

	LogoutRespOK            uint8 = 0
	LogoutRespCIDNotFound   uint8 = 1
	LogoutRespNoRecovery    uint8 = 2
	LogoutRespCleanupFailed uint8 = 3
)

// SCSI Response "Response" field values (RFC 7143 §11.4.3).
const (
	ResponseCompleted     uint8 = 0x00
	ResponseTargetFailure uint8 = 0x01
)

// Async events (RFC 7143 §11.9.1).
const (
	AsyncSCSIEvent          uint8 = 0
	AsyncLogoutRequest      uint8 = 1
	AsyncDropConnection     uint8 = 2
	AsyncDropAllConnections uint8 = 3
	AsyncRenegotiate        uint8 = 4
)

// ReservedTag is the all-ones Initiator/Target Task Tag value.
const ReservedTag uint32 = 0xffffffff
