package scsi

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LUNTarget is a Target over a fixed set of logical units, addressed by LUN
// number.
type LUNTarget struct {
	name string
	luns map[uint64]*LU
	list []uint64 // sorted LUN numbers
	// allow, if set, decides which LUNs a nexus may see at all.
	allow atomic.Pointer[AccessFunc]
	// alua is the target's ALUA state (alua.go), shared with the
	// target's other LUN sets; never nil.
	alua *ALUAGroups
}

// AccessFunc reports whether the I_T nexus n may access LUN lun. A LUN it
// may not access does not exist for n: it is absent from REPORT LUNS and
// commands to it get LOGICAL UNIT NOT SUPPORTED.
type AccessFunc func(n Nexus, lun uint64) bool

// SetAccess installs (or, with nil, removes) the access decision. It may
// be called while commands run, for live reconfiguration.
func (t *LUNTarget) SetAccess(f AccessFunc) {
	if f == nil {
		t.allow.Store(nil)
		return
	}
	t.allow.Store(&f)
}

// visible reports whether nexus n may see LUN number lun.
func (t *LUNTarget) visible(n Nexus, lun uint64) bool {
	f := t.allow.Load()
	return f == nil || (*f)(n, lun)
}

var _ Target = (*LUNTarget)(nil)

// maxLUN is the largest LUN number single level flat space addressing can
// carry (SAM-5 4.7.7).
const maxLUN = 0x3fff

// NewTarget returns a target named name (its iSCSI name, used when a
// command's nexus does not carry one) with the given logical units, keyed
// by LUN number 0..16383. LUN numbers above that cannot be addressed and
// are left out.
func NewTarget(name string, luns map[uint64]*LU) *LUNTarget {
	return NewTargetALUA(name, luns, nil)
}

// NewTargetALUA is NewTarget for a target whose ALUA state g is shared
// with other LUN sets serving it (per-initiator views, or the set this
// one replaces); nil g gives the target its own.
func NewTargetALUA(name string, luns map[uint64]*LU, g *ALUAGroups) *LUNTarget {
	if g == nil {
		g = NewALUAGroups(name)
	}
	t := &LUNTarget{name: name, luns: make(map[uint64]*LU, len(luns)), alua: g}
	for n, lu := range luns {
		if lu == nil || n > maxLUN {
			continue
		}
		t.luns[n] = lu
		t.list = append(t.list, n)
	}
	slices.Sort(t.list)
	g.attach(t)
	return t
}

// decodeLUN decodes an 8-byte SAM LUN (as the transport's big-endian
// uint64) the way LIO does for single level LUNs: peripheral device
// addressing (00b) and flat space addressing (01b) both carry a 14-bit
// number in the first two bytes; the other six bytes must be zero.
func decodeLUN(l uint64) (uint64, bool) {
	if l&0xffffffffffff != 0 {
		return 0, false
	}
	method := l >> 62
	if method > 1 {
		return 0, false
	}
	return (l >> 48) & 0x3fff, true
}

// encodeLUN encodes a LUN number as REPORT LUNS lists it: peripheral device
// addressing below 256, flat space addressing above (SAM-5 4.7.6, 4.7.7).
func encodeLUN(n uint64) uint64 {
	if n < 256 {
		return n << 48
	}
	return (0x4000 | n&0x3fff) << 48
}

// lu returns the LU a command's LUN field addresses for nexus.
func (t *LUNTarget) lu(nexus Nexus, l uint64) *LU {
	n, ok := decodeLUN(l)
	if !ok {
		return nil
	}
	lu := t.luns[n]
	if lu == nil || !t.visible(nexus, n) {
		return nil
	}
	return lu
}

// LogicalUnit returns the LU lun addresses for nexus, nil if there is none
// nexus may access.
func (t *LUNTarget) LogicalUnit(nexus Nexus, lun uint64) *LU { return t.lu(nexus, lun) }

// LogicalUnitReset resets the LU lun addresses (LOGICAL UNIT RESET from
// nexus).
func (t *LUNTarget) LogicalUnitReset(nexus Nexus, lun uint64) bool {
	lu := t.lu(nexus, lun)
	if lu == nil {
		return false
	}
	lu.reset(nexus)
	return true
}

// TargetReset resets every LU (TARGET WARM/COLD RESET from nexus).
func (t *LUNTarget) TargetReset(nexus Nexus) {
	for _, lu := range t.luns {
		lu.reset(nexus)
	}
}

// NexusLost drops every LU's state for nexus.
func (t *LUNTarget) NexusLost(nexus Nexus) {
	for _, lu := range t.luns {
		lu.nexusLost(nexus)
	}
}

// task is one command being executed.
type task struct {
	t   *LUNTarget
	cmd *Command
	lu  *LU // nil for a LUN that does not exist
	cdb []byte
	buf [16]byte
	// desc selects descriptor format sense (control mode page D_SENSE).
	desc bool
	// cctx is the context of the command's store calls (cmdctx.go).
	cctx cmdContext
}

var taskPool = sync.Pool{New: func() any { return new(task) }}

// Execute runs one command. It is safe for concurrent use and never panics:
// a bug caught at run time is reported as HARDWARE ERROR, INTERNAL TARGET
// FAILURE.
func (t *LUNTarget) Execute(cmd *Command) (res Result) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("scsi: command panicked", "cdb", fmt.Sprintf("% x", cmd.CDB), "panic", r, "stack", string(debug.Stack()))
			res = checkCondition(sense{key: keyHardwareError, asc: ascInternalTargetFailure}, false)
		}
	}()
	return t.execute(cmd)
}

// execute is Execute without the panic safety net, for tests and fuzzing.
func (t *LUNTarget) execute(cmd *Command) Result {
	k := taskPool.Get().(*task)
	*k = task{t: t, cmd: cmd, lu: t.lu(cmd.Nexus, cmd.LUN), cctx: cmdContext{done: cmd.Done}}
	k.cdb = cmd.CDB
	if len(k.cdb) < len(k.buf) {
		copy(k.buf[:], k.cdb)
		k.cdb = k.buf[:]
	}
	res := k.dispatch()
	*k = task{}
	taskPool.Put(k)
	return res
}

func (k *task) dispatch() Result {
	if len(k.cmd.CDB) == 0 {
		return k.fail(keyIllegalRequest, ascInvalidOpcode)
	}
	d := lookupOp(k.cdb)
	lu := k.lu
	if lu == nil {
		if d != nil && d.flags&fNoLU != 0 {
			return d.run(k)
		}
		// A command other than INQUIRY, REPORT LUNS or REQUEST SENSE
		// to a LUN without LU (SAM-5 5.9.7).
		return k.fail(keyIllegalRequest, ascLUNotSupported)
	}
	var dataOut uint32
	if d != nil && d.dataOut != nil {
		dataOut = d.dataOut(k)
	}
	start := time.Now()
	res := k.gate(d)
	if res == nil {
		r := d.run(k)
		res = &r
	}
	res.DataOutLength = dataOut
	class, n := StatOther, 0
	if d != nil {
		class = d.stat
	}
	if class == StatRead {
		n = len(res.Data)
	} else {
		n = min(len(k.cmd.DataOut), int(dataOut))
	}
	res.Elapsed = time.Since(start)
	lu.stats.record(class, n, res.Elapsed, res)
	return *res
}

// gate applies the checks every command passes before its handler: unit
// attention (SAM-5 5.14), support, SPC-2 reservation, readiness and write
// protection. It returns nil when the command may run.
func (k *task) gate(d *opDesc) *Result {
	lu := k.lu
	n := k.cmd.Nexus
	// Fast path: a known nexus with nothing pending on a LU that is
	// ready and not reserved.
	lu.mu.RLock()
	k.desc = lu.mode.dsense
	swp := lu.mode.swp
	s := lu.nexuses[n]
	fast := s != nil && len(s.ua) == 0 && lu.reserved == nil && lu.pr.Type == 0 && !lu.ejected &&
		lu.sanitize == nil && !lu.sanitizeFailed
	lu.mu.RUnlock()
	if !fast {
		if r := k.slowGate(d); r != nil {
			return r
		}
	}
	if k.alua().cfg.Load() != nil {
		var flags opFlags
		if d != nil {
			flags = d.flags
		}
		if r := k.aluaGate(flags); r != nil {
			return r
		}
	}
	if d == nil || (d.supported != nil && !d.supported(lu)) {
		if hasServiceActions(k.cdb[0]) {
			// An opcode halun knows with a service action it does
			// not support: the field is invalid (SPC-4 4.2.5.1).
			r := k.invalidCDB(1, 4)
			return &r
		}
		r := k.fail(keyIllegalRequest, ascInvalidOpcode)
		return &r
	}
	if l := len(d.usage); k.cdb[l-1]&0x04 != 0 {
		// NACA: ACA is not supported (SAM-5 5.10, SPC-4 4.2.5.8).
		r := k.invalidCDB(l-1, 2)
		return &r
	}
	if d.flags&fWrite != 0 && lu.cfg.ReadOnly {
		r := k.fail(keyDataProtect, ascWriteProtected)
		return &r
	}
	if d.flags&fWrite != 0 && swp {
		r := k.fail(keyDataProtect, ascSoftwareWriteProtected)
		return &r
	}
	return nil
}

func (k *task) slowGate(d *opDesc) *Result {
	lu := k.lu
	n := k.cmd.Nexus
	lu.mu.Lock()
	defer lu.mu.Unlock()
	s := lu.nexusLocked(n)
	var flags opFlags
	if d != nil {
		flags = d.flags
	}
	if len(s.ua) > 0 && flags&fNoUA == 0 {
		asc := s.ua[0]
		s.ua = s.ua[1:]
		r := checkCondition(sense{key: keyUnitAttention, asc: asc}, lu.mode.dsense)
		return &r
	}
	if r := k.sanitizeGateLocked(flags, d); r != nil {
		return r
	}
	if lu.reserved != nil && *lu.reserved != n && flags&fReservedOK == 0 {
		return &Result{Status: StatusReservationConflict}
	}
	if lu.prConflictLocked(n, flags) {
		return &Result{Status: StatusReservationConflict}
	}
	if flags&fMedium != 0 && lu.ejected {
		r := checkCondition(sense{key: keyNotReady, asc: ascMediumNotPresent}, lu.mode.dsense)
		return &r
	}
	return nil
}

// fail is CHECK CONDITION with the given sense key and additional sense
// code.
func (k *task) fail(key uint8, asc uint16) Result {
	return checkCondition(sense{key: key, asc: asc}, k.desc)
}

// invalidCDB is ILLEGAL REQUEST, INVALID FIELD IN CDB pointing at byte off,
// bit bit (-1: whole byte) of the CDB.
func (k *task) invalidCDB(off, bit int) Result {
	return checkCondition(sense{key: keyIllegalRequest, asc: ascInvalidFieldInCDB, sks: fieldPointer(true, off, bit)}, k.desc)
}

// invalidParam is ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST
// pointing at byte off, bit bit of the parameter data.
func (k *task) invalidParam(off, bit int) Result {
	return checkCondition(sense{key: keyIllegalRequest, asc: ascInvalidFieldInParamList, sks: fieldPointer(false, off, bit)}, k.desc)
}

// data is GOOD with data-in b, cut to the allocation length.
func data(b []byte, alloc int) Result {
	return Result{Status: StatusGood, Data: truncate(b, alloc)}
}
