package scsi

// RESERVE and RELEASE (SPC-2 7.21-7.24): the LU is reserved for one I_T
// nexus; other nexuses get RESERVATION CONFLICT for all but the commands
// flagged fReservedOK. The reservation ends with RELEASE from the holder,
// a LU reset or the loss of the holder's nexus.

func opReserve(k *task) Result {
	cdb := k.cdb
	if cdb[0] == opReserve6 && cdb[1]&0x1f != 0 || cdb[0] == opReserve10 && cdb[1]&0x13 != 0 {
		// Extents, third party and long identifiers are not supported.
		return k.invalidCDB(1, -1)
	}
	lu := k.lu
	n := k.cmd.Nexus
	lu.mu.Lock()
	defer lu.mu.Unlock()
	if lu.reserved != nil && *lu.reserved != n || len(lu.pr.Registrations) > 0 {
		// CRH 0: RESERVE conflicts with any persistent registration
		// (SPC-4 5.13.3).
		return Result{Status: StatusReservationConflict}
	}
	lu.reserved = &n
	return Good
}

func opRelease(k *task) Result {
	cdb := k.cdb
	if cdb[0] == opRelease6 && cdb[1]&0x1f != 0 || cdb[0] == opRelease10 && cdb[1]&0x13 != 0 {
		return k.invalidCDB(1, -1)
	}
	lu := k.lu
	n := k.cmd.Nexus
	lu.mu.Lock()
	defer lu.mu.Unlock()
	if len(lu.pr.Registrations) > 0 {
		return Result{Status: StatusReservationConflict}
	}
	if lu.reserved != nil && *lu.reserved == n {
		lu.reserved = nil
	}
	return Good
}
