package scsi

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Persistent reservations (SPC-4 5.12, 6.15, 6.16): all six types,
// REGISTER AND MOVE, SPEC_I_PT (iSCSI TransportIDs with and without ISID)
// and ALL_TG_PT. The state lives in the LU and is handed to a PRStore after
// every change, so a store that persists it (APTPL, prfile.go) or a cluster
// store shared between nodes can be plugged in.

// PR types (SPC-4 table 169).
const (
	prWriteExclusive       = 1
	prExclusiveAccess      = 3
	prWriteExclusiveRegs   = 5
	prExclusiveAccessRegs  = 6
	prWriteExclusiveAll    = 7
	prExclusiveAccessAll   = 8
	prOutRegister          = 0
	prOutReserve           = 1
	prOutRelease           = 2
	prOutClear             = 3
	prOutPreempt           = 4
	prOutPreemptAbort      = 5
	prOutRegisterIgnore    = 6
	prOutRegisterMove      = 7
	prInReadKeys           = 0
	prInReadReservation    = 1
	prInReportCapabilities = 2
	prInReadFullStatus     = 3
)

// PRRegistration is one registration: an I_T nexus, or with AnyISID
// every initiator port of the initiator name, or with AllTargetPorts
// through every target port of the target, and its reservation key.
type PRRegistration struct {
	Nexus Nexus
	Key   uint64
	// AllTargetPorts: registered with ALL_TG_PT, the TPGT is not part of
	// the registration (SPC-4 5.12.7).
	AllTargetPorts bool `json:",omitempty"`
	// AnyISID: registered through a TransportID without ISID (SPEC_I_PT,
	// iSCSI format 00b): every initiator port with the name.
	AnyISID bool `json:",omitempty"`
}

// matches reports whether nexus n is an I_T nexus of registration r.
func (r *PRRegistration) matches(n Nexus) bool {
	return strings.EqualFold(r.Nexus.InitiatorName, n.InitiatorName) &&
		(r.AnyISID || r.Nexus.ISID == n.ISID) &&
		r.Nexus.TargetName == n.TargetName &&
		(r.AllTargetPorts || r.Nexus.TPGT == n.TPGT)
}

// same reports whether r and o register the same initiator and target
// ports (their keys aside).
func (r PRRegistration) same(o PRRegistration) bool {
	r.Key, o.Key = 0, 0
	return r == o
}

// PRState is the persistent reservation state of one LU.
type PRState struct {
	Generation    uint32
	Registrations []PRRegistration
	// Type is the reservation type, 0 when there is no reservation;
	// Holder is the registration holding it (unused for the
	// all-registrants types, where every registrant holds it; its Key is
	// not used).
	Type   uint8
	Holder PRRegistration
	APTPL  bool
}

// PRStore keeps persistent reservation state outside the LU, keyed by the
// LU's serial. Save is called with the lock of the LU held, after every
// change; an error fails the command.
type PRStore interface {
	LoadPR(serial string) (PRState, bool, error)
	SavePR(serial string, st PRState) error
}

// SetPRStore makes the LU keep its persistent reservations in s, loading
// the state s holds for the LU's serial.
func (lu *LU) SetPRStore(s PRStore) error {
	st, ok, err := s.LoadPR(lu.cfg.Serial)
	if err != nil {
		return fmt.Errorf("scsi: load persistent reservations of %s: %w", lu.cfg.Serial, err)
	}
	lu.mu.Lock()
	defer lu.mu.Unlock()
	lu.prStore = s
	if ok {
		lu.pr = st
	}
	return nil
}

// ReloadPR replaces the LU's persistent reservation state with what its
// store holds — a cluster node that becomes a volume's primary takes the
// state its predecessor recorded. A store with nothing recorded leaves no
// reservation.
func (lu *LU) ReloadPR() error {
	lu.mu.Lock()
	s := lu.prStore
	lu.mu.Unlock()
	if s == nil {
		return nil
	}
	st, ok, err := s.LoadPR(lu.cfg.Serial)
	if err != nil {
		return fmt.Errorf("scsi: reload persistent reservations of %s: %w", lu.cfg.Serial, err)
	}
	if !ok {
		st = PRState{}
	}
	lu.mu.Lock()
	lu.pr = st
	lu.mu.Unlock()
	return nil
}

// find returns the index of the registration nexus n belongs to, -1 if
// none.
func (st *PRState) find(n Nexus) int {
	for i := range st.Registrations {
		if st.Registrations[i].matches(n) {
			return i
		}
	}
	return -1
}

// findSame returns the index of the registration of the same ports as r.
func (st *PRState) findSame(r PRRegistration) int {
	return slices.IndexFunc(st.Registrations, func(x PRRegistration) bool { return x.same(r) })
}

func allRegistrants(t uint8) bool { return t == prWriteExclusiveAll || t == prExclusiveAccessAll }

// isHolder reports whether the registration at i holds the reservation.
func (st *PRState) isHolder(i int) bool {
	if st.Type == 0 || i < 0 {
		return false
	}
	return allRegistrants(st.Type) || st.Registrations[i].same(st.Holder)
}

// prConflictLocked reports whether a command with flags from n conflicts
// with the persistent reservation (SPC-4 5.12.1 table 55, simplified to
// two classes: writes, and everything but the always-allowed commands).
func (lu *LU) prConflictLocked(n Nexus, flags opFlags) bool {
	st := &lu.pr
	if st.Type == 0 || flags&fPRAllowed != 0 {
		return false
	}
	i := st.find(n)
	if st.isHolder(i) {
		return false
	}
	registered := i >= 0
	switch st.Type {
	case prWriteExclusive:
		return flags&fWrite != 0
	case prExclusiveAccess:
		return true
	case prWriteExclusiveRegs, prWriteExclusiveAll:
		return !registered && flags&fWrite != 0
	default: // exclusive access, registrants only / all registrants
		return !registered
	}
}

func validPRType(t uint8) bool {
	switch t {
	case prWriteExclusive, prExclusiveAccess, prWriteExclusiveRegs, prExclusiveAccessRegs, prWriteExclusiveAll, prExclusiveAccessAll:
		return true
	}
	return false
}

// prDataOut is the PARAMETER LIST LENGTH of PERSISTENT RESERVE OUT.
func prDataOut(k *task) uint32 { return be32(k.cdb[5:]) }

var conflict = Result{Status: StatusReservationConflict}

func opPROut(k *task) Result {
	lu := k.lu
	sa := k.cdb[1] & 0x1f
	scope, typ := k.cdb[2]>>4, k.cdb[2]&0x0f
	plen := int(be32(k.cdb[5:]))
	if sa > prOutRegisterMove {
		return k.invalidCDB(1, 4)
	}
	p := k.cmd.DataOut
	if plen < 24 || len(p) < plen {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p = p[:plen]
	key, saKey := be64(p), be64(p[8:])
	specIPT := sa != prOutRegisterMove && p[20]&0x08 != 0
	allTgPt := sa != prOutRegisterMove && p[20]&0x04 != 0
	aptpl := p[20]&0x01 != 0
	if sa == prOutRegisterMove {
		aptpl = p[17]&0x01 != 0
	}
	switch {
	case specIPT && sa != prOutRegister:
		return k.invalidParam(20, 3)
	case sa != prOutRegisterMove && !specIPT && plen != 24:
		// SPC-4 6.16.3: 24 bytes unless SPEC_I_PT adds TransportIDs.
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	if sa == prOutReserve || sa == prOutRelease || sa == prOutPreempt || sa == prOutPreemptAbort || sa == prOutRegisterMove {
		if scope != 0 {
			return k.invalidCDB(2, 7)
		}
		if !validPRType(typ) {
			return k.invalidCDB(2, 3)
		}
	}
	var specified []PRRegistration
	if specIPT {
		if plen < 28 || 28+int(be32(p[24:])) > plen {
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		var bad int
		specified, bad = parseTransportIDs(p[28 : 28+int(be32(p[24:]))])
		if bad >= 0 {
			return k.invalidParam(28+bad, -1)
		}
	}

	n := k.cmd.Nexus
	self := PRRegistration{Nexus: n, AllTargetPorts: allTgPt}
	// PREEMPT AND ABORT aborts the preempted nexuses' commands once the
	// preemption is in effect and the LU's lock is released (deferred
	// before the unlock, so it runs after it): the aborts wait for those
	// commands to leave the LU, and they may be waiting for the lock.
	var preempted []PRRegistration
	defer func() {
		if len(preempted) > 0 {
			lu.abortPreempted(n, preempted)
		}
	}()
	lu.mu.Lock()
	defer lu.mu.Unlock()
	old := lu.pr
	old.Registrations = slices.Clone(old.Registrations)
	st := &lu.pr
	i := st.find(n)
	if sa != prOutRegisterIgnore && !(sa == prOutRegister && i < 0) {
		if i < 0 || st.Registrations[i].Key != key {
			return conflict
		}
	}
	res := Good
	switch sa {
	case prOutRegister, prOutRegisterIgnore:
		if i < 0 && sa == prOutRegister && key != 0 {
			return conflict
		}
		if specIPT && i >= 0 {
			// SPEC_I_PT registers new ports only (SPC-4 6.16.4).
			return k.invalidCDB(1, -1)
		}
		switch {
		case i < 0 && saKey == 0:
			return Good
		case i < 0:
			for j := range specified {
				r := &specified[j]
				r.Key, r.AllTargetPorts = saKey, allTgPt
				r.Nexus.TargetName, r.Nexus.TPGT = n.TargetName, n.TPGT
				if st.findSame(*r) >= 0 || r.same(self) {
					return conflict
				}
			}
			self.Key = saKey
			st.Registrations = append(st.Registrations, self)
			st.Registrations = append(st.Registrations, specified...)
		case saKey == 0:
			lu.unregisterLocked(i)
		default:
			st.Registrations[i].Key = saKey
		}
		st.APTPL = aptpl
		st.Generation++
	case prOutReserve:
		if st.Type != 0 {
			if !st.isHolder(i) || st.Type != typ {
				return conflict
			}
			return Good
		}
		st.Type, st.Holder = typ, st.Registrations[i]
	case prOutRelease:
		if st.Type == 0 || !st.isHolder(i) {
			return Good
		}
		if st.Type != typ {
			return k.fail(keyIllegalRequest, ascInvalidReleaseOfPR)
		}
		lu.releaseLocked(n)
	case prOutClear:
		for _, r := range st.Registrations {
			lu.uaForRegLocked(r, n, ascReservationsPreempted)
		}
		st.Registrations, st.Type, st.Holder = nil, 0, PRRegistration{}
		st.Generation++
	case prOutPreempt, prOutPreemptAbort:
		var removed []PRRegistration
		res, removed = lu.preemptLocked(k, n, saKey, typ)
		if res.Status != StatusGood {
			return res
		}
		if sa == prOutPreemptAbort {
			preempted = removed
		}
		st.Generation++
	case prOutRegisterMove:
		if r := lu.registerMoveLocked(k, i, saKey, typ, aptpl, p); r != nil {
			return *r
		}
	}
	if lu.prStore != nil {
		if err := lu.prStore.SavePR(lu.cfg.Serial, *st); err != nil {
			lu.log.Error("scsi: saving persistent reservations failed", "lu", lu.cfg.Serial, "err", err)
			lu.pr = old
			preempted = nil
			return k.fail(keyAbortedCommand, ascInsufficientRegResources)
		}
	}
	return res
}

// registerMoveLocked is REGISTER AND MOVE (SPC-4 5.12.8): the holder
// registers the I_T nexus a TransportID and relative target port name and
// moves the reservation to it, unregistering itself with UNREG.
func (lu *LU) registerMoveLocked(k *task, i int, saKey uint64, typ uint8, aptpl bool, p []byte) *Result {
	st := &lu.pr
	fail := func(r Result) *Result { return &r }
	if st.Type == 0 || !st.isHolder(i) || allRegistrants(st.Type) {
		return &conflict
	}
	if saKey == 0 {
		return fail(k.invalidParam(8, -1))
	}
	tl := int(be32(p[20:]))
	if 24+tl > len(p) {
		return fail(k.fail(keyIllegalRequest, ascParameterListLengthError))
	}
	ids, bad := parseTransportIDs(p[24 : 24+tl])
	if bad >= 0 || len(ids) != 1 {
		return fail(k.invalidParam(24, -1))
	}
	dst := ids[0]
	dst.Key = saKey
	dst.Nexus.TargetName = k.cmd.Nexus.TargetName
	dst.Nexus.TPGT = be16(p[18:]) // RELATIVE TARGET PORT IDENTIFIER = TPGT
	if dst.Nexus.TPGT == 0 {
		return fail(k.invalidParam(18, -1))
	}
	if st.Registrations[i].matches(dst.Nexus) && !dst.AnyISID {
		// The TransportID names the issuing nexus itself.
		return fail(k.invalidParam(24, -1))
	}
	if j := st.findSame(dst); j >= 0 {
		st.Registrations[j].Key = saKey
	} else {
		st.Registrations = append(st.Registrations, dst)
	}
	st.Holder, st.Type = dst, typ
	if p[17]&0x02 != 0 { // UNREG
		st.Registrations = slices.Delete(st.Registrations, i, i+1)
	}
	st.APTPL = aptpl
	st.Generation++
	return nil
}

// parseTransportIDs decodes a list of iSCSI TransportIDs (SPC-4 7.6.4.6):
// format 00b names every initiator port of an iSCSI name, 01b one port
// (name,i,0xISID). It returns the offset of the first bad one, or -1.
func parseTransportIDs(b []byte) ([]PRRegistration, int) {
	var out []PRRegistration
	for off := 0; off < len(b); {
		if off+4 > len(b) {
			return nil, off
		}
		d := b[off:]
		format, proto := d[0]>>6, d[0]&0x0f
		l := 4 + int(be16(d[2:]))
		if proto != protoISCSI || format > 1 || l > len(d) || l < 8 {
			return nil, off
		}
		s := string(d[4:l])
		if z := strings.IndexByte(s, 0); z >= 0 {
			s = s[:z]
		}
		r := PRRegistration{}
		if format == 0 {
			r.Nexus.InitiatorName, r.AnyISID = s, true
		} else {
			name, isid, ok := strings.Cut(s, ",i,0x")
			if !ok || len(isid) != 12 {
				return nil, off
			}
			x, err := hex.DecodeString(isid)
			if err != nil {
				return nil, off
			}
			r.Nexus.InitiatorName = name
			copy(r.Nexus.ISID[:], x)
		}
		if r.Nexus.InitiatorName == "" {
			return nil, off
		}
		out = append(out, r)
		off += l
	}
	return out, -1
}

// uaForRegLocked establishes a unit attention for every known I_T nexus
// of registration r except skip.
func (lu *LU) uaForRegLocked(r PRRegistration, skip Nexus, asc uint16) {
	for n, s := range lu.nexuses {
		if n != skip && r.matches(n) {
			s.addUA(asc)
		}
	}
}

// releaseLocked drops the reservation; for the registrants-only and
// all-registrants types the other registrants are told (SPC-4 5.12.11.2).
func (lu *LU) releaseLocked(by Nexus) {
	st := &lu.pr
	if st.Type == prWriteExclusiveRegs || st.Type == prExclusiveAccessRegs || allRegistrants(st.Type) {
		for _, r := range st.Registrations {
			lu.uaForRegLocked(r, by, ascReservationsReleased)
		}
	}
	st.Type, st.Holder = 0, PRRegistration{}
}

// unregisterLocked removes registration i; a holder that unregisters
// releases the reservation (unless other registrants hold it too).
func (lu *LU) unregisterLocked(i int) {
	st := &lu.pr
	r := st.Registrations[i]
	holder := st.isHolder(i)
	st.Registrations = slices.Delete(st.Registrations, i, i+1)
	if holder && (!allRegistrants(st.Type) || len(st.Registrations) == 0) {
		lu.releaseLocked(r.Nexus)
	}
}

// preemptLocked is PREEMPT (SPC-4 5.12.11.4), and the part of PREEMPT AND
// ABORT that changes registrations and reservation; it returns the
// registrations it removed. The registration of n itself is never
// removed.
func (lu *LU) preemptLocked(k *task, n Nexus, saKey uint64, typ uint8) (Result, []PRRegistration) {
	st := &lu.pr
	var removed []PRRegistration
	removeKey := func(match func(PRRegistration) bool) int {
		before := len(removed)
		st.Registrations = slices.DeleteFunc(st.Registrations, func(r PRRegistration) bool {
			if !r.matches(n) && match(r) {
				lu.uaForRegLocked(r, n, ascRegistrationsPreempted)
				removed = append(removed, r)
				return true
			}
			return false
		})
		return len(removed) - before
	}
	holderKey, holderFound := uint64(0), false
	if i := st.findSame(st.Holder); i >= 0 {
		holderKey, holderFound = st.Registrations[i].Key, true
	}
	switch {
	case st.Type != 0 && allRegistrants(st.Type) && saKey == 0:
		removeKey(func(PRRegistration) bool { return true })
		st.Type, st.Holder = typ, st.Registrations[st.find(n)]
	case st.Type != 0 && !allRegistrants(st.Type) && holderFound && holderKey == saKey:
		removeKey(func(r PRRegistration) bool { return r.Key == saKey })
		st.Type, st.Holder = typ, st.Registrations[st.find(n)]
	default:
		if saKey == 0 {
			return k.invalidParam(8, -1), nil
		}
		if removeKey(func(r PRRegistration) bool { return r.Key == saKey }) == 0 {
			return conflict, nil
		}
	}
	return Good, removed
}

// abortPreempted is the abort of PREEMPT AND ABORT (SPC-4 5.12.11.2.6):
// every command from an I_T nexus of a preempted registration is aborted
// as ABORT TASK SET would, on behalf of n. With TAS set (mode.go) those
// commands complete with TASK ABORTED status, and no COMMANDS CLEARED BY
// ANOTHER INITIATOR unit attention is established. The PREEMPT AND ABORT
// command itself is not among them: the registration of its own nexus is
// never preempted. lu.mu must not be held.
func (lu *LU) abortPreempted(n Nexus, preempted []PRRegistration) {
	lu.tasks.abortNexuses(n, func(x Nexus) bool {
		return slices.ContainsFunc(preempted, func(r PRRegistration) bool { return r.matches(x) })
	})
}

func opPRIn(k *task) Result {
	lu := k.lu
	sa := k.cdb[1] & 0x1f
	alloc := int(be16(k.cdb[7:]))
	lu.mu.RLock()
	st := lu.pr
	st.Registrations = slices.Clone(st.Registrations)
	lu.mu.RUnlock()
	var b []byte
	switch sa {
	case prInReadKeys:
		b = make([]byte, 8, 8+8*len(st.Registrations))
		for _, r := range st.Registrations {
			b = put64a(b, r.Key)
		}
	case prInReadReservation:
		b = make([]byte, 8)
		if st.Type != 0 {
			r := make([]byte, 16)
			if !allRegistrants(st.Type) {
				if i := st.findSame(st.Holder); i >= 0 {
					put64(r, st.Registrations[i].Key)
				}
			}
			r[13] = st.Type
			b = append(b, r...)
		}
	case prInReportCapabilities:
		b = make([]byte, 8)
		put16(b, 8)
		b[2] = 0x08 | 0x04 // SIP_C, ATP_C
		if lu.prStore != nil {
			b[2] |= 0x01 // PTPL_C
		}
		b[3] = 0x80 // TMV
		if st.APTPL {
			b[3] |= 0x01
		}
		b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02 // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
		b[5] = 0x01                             // EX_AC_AR
		return data(b, alloc)
	case prInReadFullStatus:
		b = make([]byte, 8)
		for i, r := range st.Registrations {
			tid := transportID(r)
			d := make([]byte, 24, 24+len(tid))
			put64(d, r.Key)
			if st.isHolder(i) {
				d[12] = 0x01 // R_HOLDER
				d[13] = st.Type
			}
			if r.AllTargetPorts {
				d[12] |= 0x02 // ALL_TG_PT; RELATIVE TARGET PORT IDENTIFIER 0
			} else {
				put16(d[18:], r.Nexus.TPGT)
			}
			put32(d[20:], uint32(len(tid)))
			b = append(append(b, d...), tid...)
		}
	default:
		return k.invalidCDB(1, 4)
	}
	put32(b, st.Generation)
	put32(b[4:], uint32(len(b)-8))
	return data(b, alloc)
}

func put64a(b []byte, v uint64) []byte {
	var x [8]byte
	put64(x[:], v)
	return append(b, x[:]...)
}

// transportID is the iSCSI TransportID of a registration (SPC-4 7.6.4.6):
// format 01b "name,i,0xISID" for an initiator port, format 00b the name
// alone for a registration of every port of the name; NUL terminated,
// padded to four bytes.
func transportID(r PRRegistration) []byte {
	s := fmt.Sprintf("%s,i,0x%012x", r.Nexus.InitiatorName, r.Nexus.ISID[:])
	format := byte(0x40)
	if r.AnyISID {
		s, format = r.Nexus.InitiatorName, 0
	}
	name := scsiName(s)
	b := make([]byte, 4, 4+len(name))
	b[0] = format | protoISCSI
	put16(b[2:], uint16(len(name)))
	return append(b, name...)
}
