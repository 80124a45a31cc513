package pdu

// The typed messages below each describe the opcode-specific fields of one PDU
// type. Encode writes a complete BHS (everything not named is zero, the data
// segment length is left for the framing code); Decode reads it back.

// NOPOut is an initiator NOP-Out (RFC 7143 §11.18).
type NOPOut struct {
	Immediate bool
	LUN       uint64
	ITT, TTT  uint32
	CmdSN     uint32
	ExpStatSN uint32
}

func (m *NOPOut) Encode(h *Header) {
	h.start(OpNOPOut, m.Immediate, 0x80)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

func (m *NOPOut) Decode(h *Header) {
	*m = NOPOut{Immediate: h.Immediate(), LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20),
		CmdSN: h.get32(24), ExpStatSN: h.get32(28)}
}

// NOPIn is a target NOP-In (RFC 7143 §11.19).
type NOPIn struct {
	LUN                        uint64
	ITT, TTT                   uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

func (m *NOPIn) Encode(h *Header) {
	h.start(OpNOPIn, false, 0x80)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
}

func (m *NOPIn) Decode(h *Header) {
	*m = NOPIn{LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20), StatSN: h.get32(24),
		ExpCmdSN: h.get32(28), MaxCmdSN: h.get32(32)}
}

// SCSICommand is a SCSI Command PDU (RFC 7143 §11.3). CDB is the 16-byte CDB
// field of the BHS; bytes of a longer CDB and the bidirectional expected read
// data length travel in AHS (see CommandAHS, ExtendedCDBAHS, BidiReadLengthAHS).
type SCSICommand struct {
	Immediate, Final, Read, Write bool
	Attr                          uint8
	LUN                           uint64
	ITT                           uint32
	ExpectedDataTransferLength    uint32
	CmdSN, ExpStatSN              uint32
	CDB                           [16]byte
}

func (m *SCSICommand) Encode(h *Header) {
	h.start(OpSCSICommand, m.Immediate, flag(m.Final, 0x80)|flag(m.Read, 0x40)|flag(m.Write, 0x20)|m.Attr&7)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.ExpectedDataTransferLength)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
	copy(h[32:48], m.CDB[:])
}

func (m *SCSICommand) Decode(h *Header) {
	*m = SCSICommand{Immediate: h.Immediate(), Final: h.Final(), Read: h[1]&0x40 != 0,
		Write: h[1]&0x20 != 0, Attr: h[1] & 7, LUN: h.get64(8), ITT: h.get32(16),
		ExpectedDataTransferLength: h.get32(20), CmdSN: h.get32(24), ExpStatSN: h.get32(28)}
	copy(m.CDB[:], h[32:48])
}

// SCSIResponse is a SCSI Response PDU (RFC 7143 §11.4).
type SCSIResponse struct {
	BidiOverflow, BidiUnderflow, Overflow, Underflow bool
	Response, Status                                 uint8
	ITT, SNACKTag                                    uint32
	StatSN, ExpCmdSN, MaxCmdSN, ExpDataSN            uint32
	BidiResidualCount, ResidualCount                 uint32
}

func (m *SCSIResponse) Encode(h *Header) {
	h.start(OpSCSIResponse, false, 0x80|flag(m.BidiOverflow, 0x10)|flag(m.BidiUnderflow, 0x08)|
		flag(m.Overflow, 0x04)|flag(m.Underflow, 0x02))
	h[2], h[3] = m.Response, m.Status
	h.put32(16, m.ITT)
	h.put32(20, m.SNACKTag)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h.put32(36, m.ExpDataSN)
	h.put32(40, m.BidiResidualCount)
	h.put32(44, m.ResidualCount)
}

func (m *SCSIResponse) Decode(h *Header) {
	*m = SCSIResponse{BidiOverflow: h[1]&0x10 != 0, BidiUnderflow: h[1]&0x08 != 0,
		Overflow: h[1]&0x04 != 0, Underflow: h[1]&0x02 != 0, Response: h[2], Status: h[3],
		ITT: h.get32(16), SNACKTag: h.get32(20), StatSN: h.get32(24), ExpCmdSN: h.get32(28),
		MaxCmdSN: h.get32(32), ExpDataSN: h.get32(36), BidiResidualCount: h.get32(40),
		ResidualCount: h.get32(44)}
}

// TaskMgmtReq is a Task Management Function Request (RFC 7143 §11.5).
type TaskMgmtReq struct {
	Immediate           bool
	Function            uint8
	LUN                 uint64
	ITT, RTT            uint32
	CmdSN, ExpStatSN    uint32
	RefCmdSN, ExpDataSN uint32
}

func (m *TaskMgmtReq) Encode(h *Header) {
	h.start(OpTaskMgmtReq, m.Immediate, 0x80|m.Function&0x7f)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.RTT)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
	h.put32(32, m.RefCmdSN)
	h.put32(36, m.ExpDataSN)
}

func (m *TaskMgmtReq) Decode(h *Header) {
	*m = TaskMgmtReq{Immediate: h.Immediate(), Function: h[1] & 0x7f, LUN: h.get64(8),
		ITT: h.get32(16), RTT: h.get32(20), CmdSN: h.get32(24), ExpStatSN: h.get32(28),
		RefCmdSN: h.get32(32), ExpDataSN: h.get32(36)}
}

// TaskMgmtResp is a Task Management Function Response (RFC 7143 §11.6).
type TaskMgmtResp struct {
	Response                   uint8
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

func (m *TaskMgmtResp) Encode(h *Header) {
	h.start(OpTaskMgmtResp, false, 0x80)
	h[2] = m.Response
	h.put32(16, m.ITT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
}

func (m *TaskMgmtResp) Decode(h *Header) {
	*m = TaskMgmtResp{Response: h[2], ITT: h.get32(16), StatSN: h.get32(24),
		ExpCmdSN: h.get32(28), MaxCmdSN: h.get32(32)}
}

// DataOut is a SCSI Data-Out PDU (RFC 7143 §11.7).
type DataOut struct {
	Final                bool
	LUN                  uint64
	ITT, TTT             uint32
	ExpStatSN            uint32
	DataSN, BufferOffset uint32
}

func (m *DataOut) Encode(h *Header) {
	h.start(OpDataOut, false, flag(m.Final, 0x80))
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(28, m.ExpStatSN)
	h.put32(36, m.DataSN)
	h.put32(40, m.BufferOffset)
}

func (m *DataOut) Decode(h *Header) {
	*m = DataOut{Final: h.Final(), LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20),
		ExpStatSN: h.get32(28), DataSN: h.get32(36), BufferOffset: h.get32(40)}
}

// DataIn is a SCSI Data-In PDU (RFC 7143 §11.7). When HasStatus is set the PDU
// carries the command's status and residuals (the S bit).
type DataIn struct {
	Final, Ack, Overflow, Underflow, HasStatus bool
	Status                                     uint8
	LUN                                        uint64
	ITT, TTT                                   uint32
	StatSN, ExpCmdSN, MaxCmdSN                 uint32
	DataSN, BufferOffset, ResidualCount        uint32
}

func (m *DataIn) Encode(h *Header) {
	h.start(OpDataIn, false, flag(m.Final, 0x80)|flag(m.Ack, 0x40)|flag(m.Overflow, 0x04)|
		flag(m.Underflow, 0x02)|flag(m.HasStatus, 0x01))
	h[3] = m.Status
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h.put32(36, m.DataSN)
	h.put32(40, m.BufferOffset)
	h.put32(44, m.ResidualCount)
}

func (m *DataIn) Decode(h *Header) {
	*m = DataIn{Final: h.Final(), Ack: h[1]&0x40 != 0, Overflow: h[1]&0x04 != 0,
		Underflow: h[1]&0x02 != 0, HasStatus: h[1]&0x01 != 0, Status: h[3], LUN: h.get64(8),
		ITT: h.get32(16), TTT: h.get32(20), StatSN: h.get32(24), ExpCmdSN: h.get32(28),
		MaxCmdSN: h.get32(32), DataSN: h.get32(36), BufferOffset: h.get32(40),
		ResidualCount: h.get32(44)}
}

// R2T is a Ready To Transfer PDU (RFC 7143 §11.8).
type R2T struct {
	LUN                                    uint64
	ITT, TTT                               uint32
	StatSN, ExpCmdSN, MaxCmdSN             uint32
	R2TSN, BufferOffset, DesiredDataLength uint32
}

func (m *R2T) Encode(h *Header) {
	h.start(OpR2T, false, 0x80)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h.put32(36, m.R2TSN)
	h.put32(40, m.BufferOffset)
	h.put32(44, m.DesiredDataLength)
}

func (m *R2T) Decode(h *Header) {
	*m = R2T{LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20), StatSN: h.get32(24),
		ExpCmdSN: h.get32(28), MaxCmdSN: h.get32(32), R2TSN: h.get32(36),
		BufferOffset: h.get32(40), DesiredDataLength: h.get32(44)}
}

// AsyncMessage is an Asynchronous Message PDU (RFC 7143 §11.9).
type AsyncMessage struct {
	LUN                        uint64
	StatSN, ExpCmdSN, MaxCmdSN uint32
	Event, VCode               uint8
	Param1, Param2, Param3     uint16
}

func (m *AsyncMessage) Encode(h *Header) {
	h.start(OpAsyncMessage, false, 0x80)
	h.put64(8, m.LUN)
	h.put32(16, ReservedTag)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h[36], h[37] = m.Event, m.VCode
	h.put16(38, m.Param1)
	h.put16(40, m.Param2)
	h.put16(42, m.Param3)
}

func (m *AsyncMessage) Decode(h *Header) {
	*m = AsyncMessage{LUN: h.get64(8), StatSN: h.get32(24), ExpCmdSN: h.get32(28),
		MaxCmdSN: h.get32(32), Event: h[36], VCode: h[37], Param1: h.get16(38),
		Param2: h.get16(40), Param3: h.get16(42)}
}

// TextReq is a Text Request (RFC 7143 §11.10).
type TextReq struct {
	Immediate, Final, Continue bool
	LUN                        uint64
	ITT, TTT                   uint32
	CmdSN, ExpStatSN           uint32
}

func (m *TextReq) Encode(h *Header) {
	h.start(OpTextReq, m.Immediate, flag(m.Final, 0x80)|flag(m.Continue, 0x40))
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

func (m *TextReq) Decode(h *Header) {
	*m = TextReq{Immediate: h.Immediate(), Final: h.Final(), Continue: h[1]&0x40 != 0,
		LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20), CmdSN: h.get32(24),
		ExpStatSN: h.get32(28)}
}

// TextResp is a Text Response (RFC 7143 §11.11).
type TextResp struct {
	Final, Continue            bool
	LUN                        uint64
	ITT, TTT                   uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

func (m *TextResp) Encode(h *Header) {
	h.start(OpTextResp, false, flag(m.Final, 0x80)|flag(m.Continue, 0x40))
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
}

func (m *TextResp) Decode(h *Header) {
	*m = TextResp{Final: h.Final(), Continue: h[1]&0x40 != 0, LUN: h.get64(8),
		ITT: h.get32(16), TTT: h.get32(20), StatSN: h.get32(24), ExpCmdSN: h.get32(28),
		MaxCmdSN: h.get32(32)}
}

// ISID is the 6-byte initiator session ID.
type ISID [6]byte

// LoginReq is a Login Request (RFC 7143 §11.12). CSG and NSG are the stage codes
// 0 (security), 1 (operational) and 3 (full feature).
type LoginReq struct {
	Transit, Continue      bool
	CSG, NSG               uint8
	VersionMax, VersionMin uint8
	ISID                   ISID
	TSIH                   uint16
	ITT                    uint32
	CID                    uint16
	CmdSN, ExpStatSN       uint32
}

func (m *LoginReq) Encode(h *Header) {
	h.start(OpLoginReq, true, flag(m.Transit, 0x80)|flag(m.Continue, 0x40)|(m.CSG&3)<<2|m.NSG&3)
	h[2], h[3] = m.VersionMax, m.VersionMin
	copy(h[8:14], m.ISID[:])
	h.put16(14, m.TSIH)
	h.put32(16, m.ITT)
	h.put16(20, m.CID)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

func (m *LoginReq) Decode(h *Header) {
	*m = LoginReq{Transit: h[1]&0x80 != 0, Continue: h[1]&0x40 != 0, CSG: h[1] >> 2 & 3,
		NSG: h[1] & 3, VersionMax: h[2], VersionMin: h[3], TSIH: h.get16(14), ITT: h.get32(16),
		CID: h.get16(20), CmdSN: h.get32(24), ExpStatSN: h.get32(28)}
	copy(m.ISID[:], h[8:14])
}

// LoginResp is a Login Response (RFC 7143 §11.13).
type LoginResp struct {
	Transit, Continue          bool
	CSG, NSG                   uint8
	VersionMax, VersionActive  uint8
	ISID                       ISID
	TSIH                       uint16
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
	StatusClass, StatusDetail  uint8
}

func (m *LoginResp) Encode(h *Header) {
	h.start(OpLoginResp, false, flag(m.Transit, 0x80)|flag(m.Continue, 0x40)|(m.CSG&3)<<2|m.NSG&3)
	h[2], h[3] = m.VersionMax, m.VersionActive
	copy(h[8:14], m.ISID[:])
	h.put16(14, m.TSIH)
	h.put32(16, m.ITT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h[36], h[37] = m.StatusClass, m.StatusDetail
}

func (m *LoginResp) Decode(h *Header) {
	*m = LoginResp{Transit: h[1]&0x80 != 0, Continue: h[1]&0x40 != 0, CSG: h[1] >> 2 & 3,
		NSG: h[1] & 3, VersionMax: h[2], VersionActive: h[3], TSIH: h.get16(14),
		ITT: h.get32(16), StatSN: h.get32(24), ExpCmdSN: h.get32(28), MaxCmdSN: h.get32(32),
		StatusClass: h[36], StatusDetail: h[37]}
	copy(m.ISID[:], h[8:14])
}

// LogoutReq is a Logout Request (RFC 7143 §11.14).
type LogoutReq struct {
	Immediate        bool
	Reason           uint8
	ITT              uint32
	CID              uint16
	CmdSN, ExpStatSN uint32
}

func (m *LogoutReq) Encode(h *Header) {
	h.start(OpLogoutReq, m.Immediate, 0x80|m.Reason&0x7f)
	h.put32(16, m.ITT)
	h.put16(20, m.CID)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

func (m *LogoutReq) Decode(h *Header) {
	*m = LogoutReq{Immediate: h.Immediate(), Reason: h[1] & 0x7f, ITT: h.get32(16),
		CID: h.get16(20), CmdSN: h.get32(24), ExpStatSN: h.get32(28)}
}

// LogoutResp is a Logout Response (RFC 7143 §11.15).
type LogoutResp struct {
	Response                   uint8
	ITT                        uint32
	StatSN, ExpCmdSN, MaxCmdSN uint32
	Time2Wait, Time2Retain     uint16
}

func (m *LogoutResp) Encode(h *Header) {
	h.start(OpLogoutResp, false, 0x80)
	h[2] = m.Response
	h.put32(16, m.ITT)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h.put16(40, m.Time2Wait)
	h.put16(42, m.Time2Retain)
}

func (m *LogoutResp) Decode(h *Header) {
	*m = LogoutResp{Response: h[2], ITT: h.get32(16), StatSN: h.get32(24),
		ExpCmdSN: h.get32(28), MaxCmdSN: h.get32(32), Time2Wait: h.get16(40),
		Time2Retain: h.get16(42)}
}

// SNACKReq is a SNACK Request (RFC 7143 §11.16). halun runs at ERL 0 and
// answers SNACKs with a Reject, but parses them to do so precisely.
type SNACKReq struct {
	Type              uint8
	LUN               uint64
	ITT, TTT          uint32
	ExpStatSN         uint32
	BegRun, RunLength uint32
}

func (m *SNACKReq) Encode(h *Header) {
	h.start(OpSNACKReq, false, 0x80|m.Type&0x0f)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(28, m.ExpStatSN)
	h.put32(40, m.BegRun)
	h.put32(44, m.RunLength)
}

func (m *SNACKReq) Decode(h *Header) {
	*m = SNACKReq{Type: h[1] & 0x0f, LUN: h.get64(8), ITT: h.get32(16), TTT: h.get32(20),
		ExpStatSN: h.get32(28), BegRun: h.get32(40), RunLength: h.get32(44)}
}

// Reject is a Reject PDU (RFC 7143 §11.17); its data segment is the rejected
// PDU's header.
type Reject struct {
	Reason                     uint8
	StatSN, ExpCmdSN, MaxCmdSN uint32
	DataSN                     uint32
}

func (m *Reject) Encode(h *Header) {
	h.start(OpReject, false, 0x80)
	h[2] = m.Reason
	h.put32(16, ReservedTag)
	h.put32(24, m.StatSN)
	h.put32(28, m.ExpCmdSN)
	h.put32(32, m.MaxCmdSN)
	h.put32(36, m.DataSN)
}

func (m *Reject) Decode(h *Header) {
	*m = Reject{Reason: h[2], StatSN: h.get32(24), ExpCmdSN: h.get32(28),
		MaxCmdSN: h.get32(32), DataSN: h.get32(36)}
}
