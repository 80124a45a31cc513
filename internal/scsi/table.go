package scsi

import "sort"

// opFlags say how Execute treats a command before its handler runs.
type opFlags uint16

const (
	// fNoLU: runs for a LUN that does not exist (INQUIRY, REPORT LUNS,
	// REQUEST SENSE; SPC-4 6.6.2, 6.33, 6.29).
	fNoLU opFlags = 1 << iota
	// fNoUA: runs although a unit attention is pending, without
	// reporting it (SAM-5 5.14: INQUIRY, REPORT LUNS, REQUEST SENSE).
	fNoUA
	// fMedium: needs the medium; NOT READY while the medium is ejected.
	fMedium
	// fWrite: modifies the medium; DATA PROTECT on a read-only LU.
	fWrite
	// fReservedOK: allowed from other nexuses while an SPC-2
	// reservation is held (SPC-2 5.5.1 table 11).
	fReservedOK
	// fPRAllowed: never conflicts with a persistent reservation (SPC-4
	// 5.12.1 table 55: commands allowed for every type).
	fPRAllowed
	// fStandbyOK: allowed in the ALUA standby state (SPC-4 5.16.2.4.4).
	fStandbyOK
	// fUnavailableOK: allowed in the ALUA unavailable and transitioning
	// states, and so in standby too (SPC-4 5.16.2.4.5, 5.16.2.4.6).
	fUnavailableOK
)

// opDesc describes one operation code (and service action): how to decode
// and run it and what REPORT SUPPORTED OPERATION CODES says about it. New
// commands are added by appending to opList.
type opDesc struct {
	name  string
	op    byte
	sa    uint16
	hasSA bool
	// usage is the CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES
	// (SPC-4 6.35.3): the CDB length and which bits the device server
	// looks at.
	usage []byte
	flags opFlags
	run   func(*task) Result
	// dataOut returns the number of data-out bytes the CDB calls for
	// (Result.DataOutLength); nil for commands without data-out.
	dataOut func(*task) uint32
	// supported reports whether lu implements the command (nil: all).
	supported func(*LU) bool
	// stat is how the command counts in the LU's statistics.
	stat StatClass
}

var (
	opTable  [256]*opDesc
	saTables [256]map[uint16]*opDesc
)

func init() {
	for _, d := range opList() {
		if d.hasSA {
			if saTables[d.op] == nil {
				saTables[d.op] = make(map[uint16]*opDesc)
			}
			saTables[d.op][d.sa] = d
			continue
		}
		opTable[d.op] = d
	}
}

// lookupOp finds the descriptor for cdb, nil if unsupported.
func lookupOp(cdb []byte) *opDesc {
	if d := opTable[cdb[0]]; d != nil {
		return d
	}
	if m := saTables[cdb[0]]; m != nil {
		return m[uint16(cdb[1]&0x1f)]
	}
	return nil
}

// hasServiceActions reports whether op is an opcode whose commands are
// told apart by a service action.
func hasServiceActions(op byte) bool { return saTables[op] != nil }

// sortedOps returns every descriptor in opcode, service action order.
func sortedOps() []*opDesc {
	l := opList()
	sort.Slice(l, func(i, j int) bool {
		if l[i].op != l[j].op {
			return l[i].op < l[j].op
		}
		return l[i].sa < l[j].sa
	})
	return l
}

// opList is the command set. The usage masks follow the CDB formats of
// SPC-4 and SBC-3; the last byte of every CDB is CONTROL, of which halun
// looks at nothing (NACA is not supported), reported as 0x00.
func opList() []*opDesc {
	rw := fMedium
	return []*opDesc{
		{name: "TEST UNIT READY", op: opTestUnitReady, usage: u(0x00, 0, 0, 0, 0, 0), flags: fMedium | fPRAllowed, run: opTUR},
		{name: "REQUEST SENSE", op: opRequestSense, usage: u(0x03, 0x01, 0, 0, 0xff, 0), flags: fUnavailableOK | fNoLU | fNoUA | fReservedOK | fPRAllowed, run: opRequestSenseRun},
		{name: "READ(6)", op: opRead6, usage: u(0x08, 0x1f, 0xff, 0xff, 0xff, 0), flags: rw, run: opRead, stat: StatRead},
		{name: "WRITE(6)", op: opWrite6, usage: u(0x0a, 0x1f, 0xff, 0xff, 0xff, 0), flags: rw | fWrite, run: opWrite, dataOut: rwDataOut, stat: StatWrite},
		{name: "INQUIRY", op: opInquiry, usage: u(0x12, 0x01, 0xff, 0xff, 0xff, 0), flags: fUnavailableOK | fNoLU | fNoUA | fReservedOK | fPRAllowed, run: opInquiryRun},
		{name: "MODE SELECT(6)", op: opModeSelect6, usage: u(0x15, 0x11, 0, 0, 0xff, 0), flags: fStandbyOK, run: opModeSelect, dataOut: modeSelectDataOut},
		{name: "RESERVE(6)", op: opReserve6, usage: u(0x16, 0, 0, 0, 0, 0), run: opReserve},
		{name: "RELEASE(6)", op: opRelease6, usage: u(0x17, 0, 0, 0, 0, 0), flags: fReservedOK, run: opRelease},
		{name: "MODE SENSE(6)", op: opModeSense6, usage: u(0x1a, 0x08, 0xff, 0xff, 0xff, 0), flags: fStandbyOK | fPRAllowed, run: opModeSense},
		{name: "START STOP UNIT", op: opStartStopUnit, usage: u(0x1b, 0x01, 0, 0x0f, 0xf7, 0), run: opStartStop},
		{name: "PREVENT ALLOW MEDIUM REMOVAL", op: opPreventAllow, usage: u(0x1e, 0, 0, 0, 0x03, 0), run: opPreventAllowRun},
		{name: "READ CAPACITY(10)", op: opReadCapacity10, usage: u(0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0), flags: fMedium | fPRAllowed, run: opReadCapacity10Run},
		{name: "READ(10)", op: opRead10, usage: u(0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw, run: opRead, stat: StatRead},
		{name: "WRITE(10)", op: opWrite10, usage: u(0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw | fWrite, run: opWrite, dataOut: rwDataOut, stat: StatWrite},
		{name: "WRITE AND VERIFY(10)", op: opWriteVerify10, usage: u(0x2e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw | fWrite, run: opWriteVerify, dataOut: rwDataOut, stat: StatWrite},
		{name: "VERIFY(10)", op: opVerify10, usage: u(0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw, run: opVerify, dataOut: verifyDataOut},
		{name: "PRE-FETCH(10)", op: opPreFetch10, usage: u(0x34, 0x02, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw, run: opPreFetch},
		{name: "SYNCHRONIZE CACHE(10)", op: opSyncCache10, usage: u(0x35, 0x06, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw, run: opSyncCache, stat: StatSync},
		{name: "READ DEFECT DATA(10)", op: opReadDefectData10, usage: u(0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0), flags: fMedium, run: opReadDefectData},
		{name: "WRITE SAME(10)", op: opWriteSame10, usage: u(0x41, 0xe8, 0xff, 0xff, 0xff, 0xff, 0x3f, 0xff, 0xff, 0), flags: rw | fWrite, run: opWriteSame, dataOut: writeSameDataOut, stat: StatWriteSame},
		{name: "UNMAP", op: opUnmap, usage: u(0x42, 0, 0, 0, 0, 0, 0x3f, 0xff, 0xff, 0), flags: rw | fWrite, run: opUnmapRun, dataOut: paramListDataOut, supported: thin, stat: StatUnmap},
		{name: "SANITIZE OVERWRITE", op: opSanitize, sa: saSanitizeOverwrite, hasSA: true, usage: u(0x48, 0xa0|saSanitizeOverwrite, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: rw | fWrite, run: opSanitizeRun, dataOut: sanitizeDataOut},
		{name: "SANITIZE BLOCK ERASE", op: opSanitize, sa: saSanitizeBlockErase, hasSA: true, usage: u(0x48, 0xa0|saSanitizeBlockErase, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: rw | fWrite, run: opSanitizeRun, dataOut: sanitizeDataOut, supported: sanitizeBlockErase},
		{name: "SANITIZE CRYPTOGRAPHIC ERASE", op: opSanitize, sa: saSanitizeCrypto, hasSA: true, usage: u(0x48, 0xa0|saSanitizeCrypto, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: rw | fWrite, run: opSanitizeRun, dataOut: sanitizeDataOut, supported: sanitizeBlockErase},
		{name: "SANITIZE EXIT FAILURE MODE", op: opSanitize, sa: saSanitizeExitFail, hasSA: true, usage: u(0x48, 0xa0|saSanitizeExitFail, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: fWrite, run: opSanitizeRun, dataOut: sanitizeDataOut},
		{name: "MODE SELECT(10)", op: opModeSelect10, usage: u(0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: fStandbyOK, run: opModeSelect, dataOut: modeSelectDataOut},
		{name: "RESERVE(10)", op: opReserve10, usage: u(0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0), run: opReserve},
		{name: "RELEASE(10)", op: opRelease10, usage: u(0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0), flags: fReservedOK, run: opRelease},
		{name: "MODE SENSE(10)", op: opModeSense10, usage: u(0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0), flags: fStandbyOK | fPRAllowed, run: opModeSense},
		{name: "PERSISTENT RESERVE IN", op: opPersistentReserveIn, usage: u(0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0), flags: fStandbyOK | fPRAllowed, run: opPRIn},
		{name: "PERSISTENT RESERVE OUT", op: opPersistentReserveOu, usage: u(0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0), flags: fStandbyOK | fPRAllowed, run: opPROut, dataOut: prDataOut},
		{name: "EXTENDED COPY(LID1)", op: opExtendedCopy, sa: saExtendedCopyLID1, hasSA: true, usage: u(0x83, saExtendedCopyLID1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fMedium, run: opExtendedCopyRun, dataOut: xcopyDataOut},
		{name: "RECEIVE COPY RESULTS(COPY STATUS)", op: opReceiveCopyResults, sa: saCopyStatus, hasSA: true, usage: u(0x84, saCopyStatus, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fPRAllowed, run: opReceiveCopyResultsRun},
		{name: "RECEIVE COPY RESULTS(OPERATING PARAMETERS)", op: opReceiveCopyResults, sa: saOperatingParams, hasSA: true, usage: u(0x84, saOperatingParams, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fPRAllowed, run: opReceiveCopyResultsRun},
		{name: "READ(16)", op: opRead16, usage: u(0x88, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opRead, stat: StatRead},
		{name: "COMPARE AND WRITE", op: opCompareAndWrite, usage: u(0x89, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x3f, 0), flags: rw | fWrite, run: opCompareAndWriteRun, dataOut: cawDataOut, stat: StatWrite},
		{name: "WRITE(16)", op: opWrite16, usage: u(0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWrite, dataOut: rwDataOut, stat: StatWrite},
		{name: "ORWRITE(16)", op: opOrWrite16, usage: u(0x8b, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opOrWrite, dataOut: rwDataOut, stat: StatWrite},
		{name: "WRITE AND VERIFY(16)", op: opWriteVerify16, usage: u(0x8e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWriteVerify, dataOut: rwDataOut, stat: StatWrite},
		{name: "VERIFY(16)", op: opVerify16, usage: u(0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opVerify, dataOut: verifyDataOut},
		{name: "PRE-FETCH(16)", op: opPreFetch16, usage: u(0x90, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opPreFetch},
		{name: "SYNCHRONIZE CACHE(16)", op: opSyncCache16, usage: u(0x91, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opSyncCache, stat: StatSync},
		{name: "WRITE ATOMIC(16)", op: opWriteAtomic16, usage: u(0x9c, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWriteAtomic, dataOut: writeAtomicDataOut, stat: StatWrite},
		{name: "WRITE SAME(16)", op: opWriteSame16, usage: u(0x93, 0xe9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWriteSame, dataOut: writeSameDataOut, stat: StatWriteSame},
		{name: "READ CAPACITY(16)", op: opServiceActionIn16, sa: saReadCapacity16, hasSA: true, usage: u(0x9e, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0), flags: fMedium | fPRAllowed, run: opReadCapacity16Run},
		{name: "GET LBA STATUS", op: opServiceActionIn16, sa: saGetLBAStatus, hasSA: true, usage: u(0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fMedium, run: opGetLBAStatus},
		{name: "REPORT LUNS", op: opReportLUNs, usage: u(0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fUnavailableOK | fNoLU | fNoUA | fReservedOK | fPRAllowed, run: opReportLUNsRun},
		{name: "REPORT SUPPORTED OPERATION CODES", op: opMaintenanceIn, sa: saReportOpcodes, hasSA: true, usage: u(0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fUnavailableOK | fReservedOK | fPRAllowed, run: opReportOpcodes},
		{name: "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", op: opMaintenanceIn, sa: saReportTMF, hasSA: true, usage: u(0xa3, 0x0d, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fUnavailableOK | fReservedOK | fPRAllowed, run: opReportTMF},
		{name: "REPORT TARGET PORT GROUPS", op: opMaintenanceIn, sa: saReportTPG, hasSA: true, usage: u(0xa3, 0xe0|saReportTPG, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fUnavailableOK | fReservedOK | fPRAllowed, run: opReportTPGRun},
		{name: "SET TARGET PORT GROUPS", op: opMaintenanceOut, sa: saSetTPG, hasSA: true, usage: u(0xa4, saSetTPG, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fUnavailableOK, run: opSetTPGRun, dataOut: stpgDataOut},
		{name: "READ(12)", op: opRead12, usage: u(0xa8, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opRead, stat: StatRead},
		{name: "WRITE(12)", op: opWrite12, usage: u(0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWrite, dataOut: rwDataOut, stat: StatWrite},
		{name: "WRITE AND VERIFY(12)", op: opWriteVerify12, usage: u(0xae, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw | fWrite, run: opWriteVerify, dataOut: rwDataOut, stat: StatWrite},
		{name: "VERIFY(12)", op: opVerify12, usage: u(0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0), flags: rw, run: opVerify, dataOut: verifyDataOut},
		{name: "READ DEFECT DATA(12)", op: opReadDefectData12, usage: u(0xb7, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), flags: fMedium, run: opReadDefectData},
	}
}

func u(b ...byte) []byte { return b }

func thin(lu *LU) bool { return lu.cfg.Thin }
