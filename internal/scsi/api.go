// Package scsi owns SCSI semantics: CDB decoding, SPC-4/SBC-3 command
// emulation on logical units, sense data, VPD and mode pages, unit attentions,
// reservations and each logical unit's task set. It is pure with respect to
// transport: the iSCSI layer hands it a Command with the data already
// gathered and sends the Result back. It knows nothing of iSCSI or sockets.
package scsi

import "time"

// Status codes (SAM-5).
const (
	StatusGood                uint8 = 0x00
	StatusCheckCondition      uint8 = 0x02
	StatusConditionMet        uint8 = 0x04
	StatusBusy                uint8 = 0x08
	StatusReservationConflict uint8 = 0x18
	StatusTaskSetFull         uint8 = 0x28
	StatusACAActive           uint8 = 0x30
	StatusTaskAborted         uint8 = 0x40
)

// Nexus identifies an I_T nexus: the initiator port (name + ISID) and the
// target port (target name + portal group tag). Access and per-nexus state
// (unit attentions, reservations) are keyed by it, never by a connection or
// slot number.
type Nexus struct {
	InitiatorName string
	ISID          [6]byte
	TargetName    string
	TPGT          uint16
}

// Command is one SCSI command as delivered by the transport.
type Command struct {
	Nexus Nexus
	// LUN is the 8-byte SAM LUN field from the transport.
	LUN uint64
	// CDB is the full CDB (16 bytes or longer; trailing bytes are zero for
	// shorter CDBs).
	CDB []byte
	// Attr is the task attribute (0 untagged, 1 simple, 2 ordered, 3 head
	// of queue, 4 ACA).
	Attr uint8
	// ExpectedDataLength is the transport's expected data transfer length
	// in the command's direction (for reads: how much data-in the initiator
	// accepts).
	ExpectedDataLength uint32
	// DataOut is the data-out buffer received from the initiator (nil for
	// commands without data-out). Its length may differ from what the CDB
	// asks when the initiator's expected length disagrees with the CDB.
	DataOut []byte
	// DataInBuf, if not nil, is a buffer the transport offers for the
	// data-in of a read: the LU reads into it when its capacity suffices,
	// so the transport can reuse buffers. Its contents are stale; only the
	// bytes a command fills may be returned in Result.Data.
	DataInBuf []byte
	// Done, if not nil, is closed when the transport no longer wants the
	// result (the task was aborted or its session ended). A command that
	// waits long (SANITIZE without IMMED) stops waiting then; the
	// operation it started goes on where the standard says so.
	Done <-chan struct{}
}

// Result is the outcome of a command.
type Result struct {
	Status uint8
	// Sense holds sense data (fixed or descriptor format) for CHECK
	// CONDITION.
	Sense []byte
	// Data is the data-in produced. The transport sends at most
	// ExpectedDataLength bytes of it and reports the residual.
	Data []byte
	// DataOutLength is the number of data-out bytes the CDB calls for
	// (transfer length × block size for WRITE, parameter list length for
	// MODE SELECT, …; 0 for commands that take none). The transport reports
	// its difference to the initiator's expected length as the iSCSI
	// residual, also with CHECK CONDITION (libiscsi iSCSIResiduals checks
	// it). Writes store only min(received, DataOutLength) bytes, in whole
	// blocks.
	DataOutLength uint32
	// Elapsed is how long the logical unit took to execute the command
	// (zero for a command no LU ran): the LU's latency statistics count
	// it, and the transport judges from it whether commands are fast
	// enough to run inline, without reading the clock again.
	Elapsed time.Duration
}

// Good is a GOOD result without data.
var Good = Result{Status: StatusGood}

// Target is what the transport executes commands against: the set of
// logical units one I_T nexus can reach. Implementations are safe for
// concurrent use.
type Target interface {
	// Execute runs one command and returns its result. It never panics on
	// any CDB or data.
	Execute(cmd *Command) Result
	// LogicalUnitReset resets the LU addressed by lun as a LOGICAL UNIT
	// RESET task management function from nexus does, aborting the
	// commands of its task set from every I_T nexus. It returns false if
	// the LUN does not exist.
	LogicalUnitReset(nexus Nexus, lun uint64) bool
	// TargetReset resets every LU of the target (TARGET WARM/COLD RESET)
	// as LogicalUnitReset does.
	TargetReset(nexus Nexus)
	// NexusLost is called when an I_T nexus ends (session closed), so its
	// per-nexus state is dropped.
	NexusLost(nexus Nexus)
	// LogicalUnit returns the LU lun addresses for nexus, nil if there is
	// none nexus may access. Task management is scoped by it: the
	// transport enters each command into the LU's task set on arrival.
	LogicalUnit(nexus Nexus, lun uint64) *LU
}

// LongRunning reports whether a command may take long (seconds or more)
// in Execute: SANITIZE without IMMED (which waits for the whole sanitize
// operation unless Command.Done closes), EXTENDED COPY, WRITE SAME, UNMAP
// and SYNCHRONIZE CACHE. A transport should not run such a command on a
// goroutine other commands of the session wait behind, and should close
// Command.Done when it aborts one.
func LongRunning(cdb []byte) bool {
	if len(cdb) == 0 {
		return false
	}
	switch cdb[0] {
	case opSanitize:
		return len(cdb) < 2 || cdb[1]&0x80 == 0
	case opExtendedCopy, opWriteSame10, opWriteSame16, opUnmap, opSyncCache10, opSyncCache16:
		return true
	}
	return false
}
