package scsi

import (
	"fmt"
	"log/slog"
	"slices"
)

// Persistent reservations (SPC-4 5.12, 6.15, 6.16). Registrations are per
// I_T nexus (ALL_TG_PT and SPEC_I_PT are not supported). The state lives in
// the LU and is handed to a PRStore after every change, so a store that
// persists it (or a cluster store shared between nodes) can be plugged in.

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
	prInReadKeys           = 0
	prInReadReservation    = 1
	prInReportCapabilities = 2
	prInReadFullStatus     = 3
)

// PRRegistration is one registered I_T nexus and its reservation key.
type PRRegistration struct {
	Nexus Nexus
	Key   uint64
}

// PRState is the persistent reservation state of one LU.
type PRState struct {
	Generation    uint32
	Registrations []PRRegistration
	// Type is the reservation type, 0 when there is no reservation;
	// Holder is the holding nexus (unused for the all-registrants
	// types, where every registrant holds it).
	Type   uint8
	Holder Nexus
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

func (st *PRState) find(n Nexus) int {
	return slices.IndexFunc(st.Registrations, func(r PRRegistration) bool { return r.Nexus == n })
}

func allRegistrants(t uint8) bool { return t == prWriteExclusiveAll || t == prExclusiveAccessAll }

// isHolder reports whether the registration at i holds the reservation.
func (st *PRState) isHolder(i int) bool {
	if st.Type == 0 || i < 0 {
		return false
	}
	return allRegistrants(st.Type) || st.Registrations[i].Nexus == st.Holder
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
	plen := be32(k.cdb[5:])
	switch sa {
	case prOutRegister, prOutReserve, prOutRelease, prOutClear, prOutPreempt, prOutPreemptAbort, prOutRegisterIgnore:
	default:
		return k.invalidCDB(1, 4)
	}
	if plen != 24 {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p := k.cmd.DataOut
	if len(p) < 24 {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	key, saKey := be64(p), be64(p[8:])
	if p[20]&0x08 != 0 { // SPEC_I_PT
		return k.invalidParam(20, 3)
	}
	if p[20]&0x04 != 0 { // ALL_TG_PT
		return k.invalidParam(20, 2)
	}
	aptpl := p[20]&0x01 != 0
	if sa == prOutReserve || sa == prOutRelease || sa == prOutPreempt || sa == prOutPreemptAbort {
		if scope != 0 {
			return k.invalidCDB(2, 7)
		}
		if !validPRType(typ) {
			return k.invalidCDB(2, 3)
		}
	}

	n := k.cmd.Nexus
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
		switch {
		case i < 0 && saKey == 0:
			return Good
		case i < 0:
			st.Registrations = append(st.Registrations, PRRegistration{Nexus: n, Key: saKey})
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
		st.Type, st.Holder = typ, n
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
			if r.Nexus != n {
				lu.uaForLocked(r.Nexus, ascReservationsPreempted)
			}
		}
		st.Registrations, st.Type, st.Holder = nil, 0, Nexus{}
		st.Generation++
	case prOutPreempt, prOutPreemptAbort:
		res = lu.preemptLocked(k, n, saKey, typ)
		if res.Status != StatusGood {
			return res
		}
		st.Generation++
	}
	if lu.prStore != nil {
		if err := lu.prStore.SavePR(lu.cfg.Serial, *st); err != nil {
			slog.Error("scsi: saving persistent reservations failed", "lu", lu.cfg.Serial, "err", err)
			lu.pr = old
			return k.fail(keyAbortedCommand, ascInsufficientRegResources)
		}
	}
	return res
}

// uaForLocked establishes a unit attention for nexus n.
func (lu *LU) uaForLocked(n Nexus, asc uint16) {
	if s := lu.nexuses[n]; s != nil {
		s.addUA(asc)
	}
}

// releaseLocked drops the reservation; for the registrants-only and
// all-registrants types the other registrants are told (SPC-4 5.12.11.2).
func (lu *LU) releaseLocked(by Nexus) {
	st := &lu.pr
	if st.Type == prWriteExclusiveRegs || st.Type == prExclusiveAccessRegs || allRegistrants(st.Type) {
		for _, r := range st.Registrations {
			if r.Nexus != by {
				lu.uaForLocked(r.Nexus, ascReservationsReleased)
			}
		}
	}
	st.Type, st.Holder = 0, Nexus{}
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

// preemptLocked is PREEMPT (SPC-4 5.12.11.4).
func (lu *LU) preemptLocked(k *task, n Nexus, saKey uint64, typ uint8) Result {
	st := &lu.pr
	removeKey := func(match func(PRRegistration) bool) int {
		removed := 0
		st.Registrations = slices.DeleteFunc(st.Registrations, func(r PRRegistration) bool {
			if r.Nexus != n && match(r) {
				lu.uaForLocked(r.Nexus, ascRegistrationsPreempted)
				removed++
				return true
			}
			return false
		})
		return removed
	}
	holderKey, holderFound := uint64(0), false
	if i := st.find(st.Holder); i >= 0 {
		holderKey, holderFound = st.Registrations[i].Key, true
	}
	switch {
	case st.Type != 0 && allRegistrants(st.Type) && saKey == 0:
		removeKey(func(PRRegistration) bool { return true })
		st.Type, st.Holder = typ, n
	case st.Type != 0 && !allRegistrants(st.Type) && holderFound && holderKey == saKey:
		removeKey(func(r PRRegistration) bool { return r.Key == saKey })
		st.Type, st.Holder = typ, n
	default:
		if saKey == 0 {
			return k.invalidParam(8, -1)
		}
		if removeKey(func(r PRRegistration) bool { return r.Key == saKey }) == 0 {
			return conflict
		}
	}
	return Good
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
				if i := st.find(st.Holder); i >= 0 {
					put64(r, st.Registrations[i].Key)
				}
			}
			r[13] = st.Type
			b = append(b, r...)
		}
	case prInReportCapabilities:
		b = make([]byte, 8)
		put16(b, 8)
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
			tid := transportID(r.Nexus)
			d := make([]byte, 24, 24+len(tid))
			put64(d, r.Key)
			if st.isHolder(i) {
				d[12] = 0x01 // R_HOLDER
				d[13] = st.Type
			}
			put16(d[18:], relativePortID)
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

// transportID is the iSCSI initiator port TransportID (SPC-4 7.6.4.6,
// format 01b): "name,i,0xISID", NUL terminated, padded to four bytes.
func transportID(n Nexus) []byte {
	s := fmt.Sprintf("%s,i,0x%012x", n.InitiatorName, n.ISID[:])
	name := scsiName(s)
	b := make([]byte, 4, 4+len(name))
	b[0] = 0x40 | protoISCSI
	put16(b[2:], uint16(len(name)))
	return append(b, name...)
}
