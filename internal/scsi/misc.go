package scsi

// Commands without a file of their own: TEST UNIT READY, REQUEST SENSE,
// REPORT LUNS, SYNCHRONIZE CACHE, PRE-FETCH, START STOP UNIT, PREVENT ALLOW
// MEDIUM REMOVAL, READ DEFECT DATA.

// opTUR is TEST UNIT READY (SPC-4 6.33); readiness is checked by the gate.
func opTUR(*task) Result { return Good }

// opRequestSenseRun is REQUEST SENSE (SPC-4 6.29): a pending unit attention
// is reported (and cleared), else NO SENSE; for a LUN without LU, LOGICAL
// UNIT NOT SUPPORTED. The DESC bit selects the format.
func opRequestSenseRun(k *task) Result {
	desc := k.cdb[1]&0x01 != 0
	alloc := int(k.cdb[4])
	s := sense{key: keyNoSense, asc: ascNone}
	if lu := k.lu; lu == nil {
		s = sense{key: keyIllegalRequest, asc: ascLUNotSupported}
	} else {
		lu.mu.Lock()
		ns := lu.nexusLocked(k.cmd.Nexus)
		switch {
		case lu.sanitize != nil:
			s = sense{key: keyNotReady, asc: ascSanitizeInProgress, sks: progressIndication(lu.sanitize.progress.Load())}
		case len(ns.ua) > 0:
			s = sense{key: keyUnitAttention, asc: ns.ua[0]}
			ns.ua = ns.ua[1:]
		case lu.ejected:
			s = sense{key: keyNotReady, asc: ascMediumNotPresent}
		}
		lu.mu.Unlock()
	}
	return data(s.encode(desc), alloc)
}

// opReportLUNsRun is REPORT LUNS (SPC-4 6.33). SELECT REPORT 00h and 02h
// list every LU; 01h lists well known LUs, of which halun has none.
func opReportLUNsRun(k *task) Result {
	alloc := be32(k.cdb[6:])
	if alloc < 16 {
		return k.invalidCDB(6, -1)
	}
	var luns []uint64
	switch k.cdb[2] {
	case 0x00, 0x02:
		for _, n := range k.t.list {
			if k.t.visible(k.cmd.Nexus, n) {
				luns = append(luns, n)
			}
		}
	case 0x01:
	default:
		return k.invalidCDB(2, -1)
	}
	b := make([]byte, 8+8*len(luns))
	put32(b, uint32(8*len(luns)))
	for i, n := range luns {
		put64(b[8+8*i:], encodeLUN(n))
	}
	return data(b, int(min(alloc, 1<<24)))
}

// opSyncCache is SYNCHRONIZE CACHE(10/16) (SBC-3 5.22, 5.23). The whole
// store is synced whatever the range; IMMED is honoured by completing
// after the sync anyway, which the standard allows.
func opSyncCache(k *task) Result {
	lba, n, lb := lbaRange(k.cdb)
	if r := k.checkRange(lba, n, lb, 0); r != nil {
		return *r
	}
	if r := k.syncIf(true, lba); r != nil {
		return *r
	}
	return Good
}

// opPreFetch is PRE-FETCH(10/16) (SBC-3 5.12, 5.13). halun has no read
// cache to load, so after range checking it reports GOOD (the blocks
// could not all be cached, SBC-3 5.12).
func opPreFetch(k *task) Result {
	lba, n, lb := lbaRange(k.cdb)
	if r := k.checkRange(lba, n, lb, 0); r != nil {
		return *r
	}
	return Good
}

// opStartStop is START STOP UNIT (SBC-3 5.25). A medium that does not
// spin has no stopped state worth modelling: like LIO, halun accepts every
// power condition and START without effect (libiscsi's StartStopUnit tests
// expect the unit to stay ready), flushing the cache on a stop. LOEJ
// ejects or loads a removable medium unless removal is prevented; an
// ejected medium is NOT READY, MEDIUM NOT PRESENT.
func opStartStop(k *task) Result {
	lu := k.lu
	b4 := k.cdb[4]
	if b4>>4 != 0 {
		return Good // a power condition: START and LOEJ are ignored
	}
	start := b4&0x01 != 0
	loej := b4&0x02 != 0
	noFlush := b4&0x04 != 0
	if loej && !lu.cfg.Removable {
		return k.invalidCDB(4, 1)
	}
	if !start && !noFlush {
		if r := k.syncIf(true, 0); r != nil {
			return *r
		}
	}
	lu.mu.Lock()
	defer lu.mu.Unlock()
	if loej && lu.preventedLocked() {
		// Prevention locks the medium in place and the loader with
		// it: neither eject nor load (libiscsi PreventAllow.Eject).
		return k.fail(keyIllegalRequest, ascMediumRemovalPrevented)
	}
	if loej {
		lu.ejected = !start
	}
	return Good
}

// opPreventAllowRun is PREVENT ALLOW MEDIUM REMOVAL (SBC-3 5.14): the
// prevention is kept per I_T nexus and ends with that nexus, a LU reset or
// ALLOW.
func opPreventAllowRun(k *task) Result {
	p := k.cdb[4] & 0x03
	if p > 1 {
		return k.invalidCDB(4, 1)
	}
	lu := k.lu
	lu.mu.Lock()
	lu.nexusLocked(k.cmd.Nexus).prevent = p == 1
	lu.mu.Unlock()
	return Good
}

// opReadDefectData is READ DEFECT DATA(10/12) (SBC-3 5.18, 5.19): halun
// has no defects, so the lists are empty in the requested format.
func opReadDefectData(k *task) Result {
	if k.cdb[0] == opReadDefectData10 {
		alloc := int(be16(k.cdb[7:]))
		b := make([]byte, 4)
		b[1] = k.cdb[2] & 0x1f // PLISTV/GLISTV as requested, format
		return data(b, alloc)
	}
	alloc := int(be32(k.cdb[6:]))
	b := make([]byte, 8)
	b[1] = k.cdb[1] & 0x1f
	return data(b, alloc)
}
