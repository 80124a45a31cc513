package scsi

// REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT
// FUNCTIONS (SPC-4 6.35, 6.36), both generated from the opcode table.

// commandTimeouts is the command timeouts descriptor (SPC-4 6.35.4):
// no nominal or recommended timeout is reported.
func commandTimeouts() []byte {
	b := make([]byte, 12)
	put16(b, 10)
	return b
}

func opReportOpcodes(k *task) Result {
	cdb := k.cdb
	rctd := cdb[2]&0x80 != 0
	opts := cdb[2] & 0x07
	reqOp := cdb[3]
	reqSA := be16(cdb[4:])
	alloc := int(be32(cdb[6:]))
	lu := k.lu
	supported := func(d *opDesc) bool { return d.supported == nil || d.supported(lu) }

	if opts == 0 {
		var b []byte
		b = append(b, 0, 0, 0, 0)
		for _, d := range sortedOps() {
			if !supported(d) {
				continue
			}
			e := make([]byte, 8)
			e[0] = d.op
			if d.hasSA {
				put16(e[2:], d.sa)
				e[5] |= 0x01 // SERVACTV
			}
			if rctd {
				e[5] |= 0x02 // CTDP
			}
			put16(e[6:], uint16(len(d.usage)))
			b = append(b, e...)
			if rctd {
				b = append(b, commandTimeouts()...)
			}
		}
		put32(b, uint32(len(b)-4))
		return data(b, alloc)
	}

	var d *opDesc
	switch opts {
	case 1: // opcode without service action
		if hasServiceActions(reqOp) {
			return k.invalidCDB(3, -1)
		}
		d = opTable[reqOp]
	case 2: // opcode and service action
		if !hasServiceActions(reqOp) {
			return k.invalidCDB(3, -1)
		}
		d = saTables[reqOp][reqSA]
	case 3: // either, as the opcode requires (SPC-4 r37)
		if hasServiceActions(reqOp) {
			d = saTables[reqOp][reqSA]
		} else {
			d = opTable[reqOp]
			if reqSA != 0 {
				d = nil
			}
		}
	default:
		return k.invalidCDB(2, 2)
	}
	b := make([]byte, 4)
	if d == nil || !supported(d) {
		b[1] = 0x01 // SUPPORT: not supported
	} else {
		b[1] = 0x03 // supported in conformance with a standard
		put16(b[2:], uint16(len(d.usage)))
		b = append(b, d.usage...)
	}
	if rctd {
		b[1] |= 0x80 // CTDP
		b = append(b, commandTimeouts()...)
	}
	return data(b, alloc)
}

// opReportTMF reports the task management functions iSCSI carries: ABORT
// TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET and TARGET
// RESET (RFC 7143 11.5.1).
func opReportTMF(k *task) Result {
	alloc := int(be32(k.cdb[6:]))
	n := 4
	if k.cdb[2]&0x80 != 0 { // REPD: extended format
		n = 16
	}
	b := make([]byte, n)
	b[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02 // ATS, ATSS, CTSS, LURS, TRS
	if n == 16 {
		b[3] = 0x0c // ADDITIONAL DATA LENGTH
	}
	return data(b, alloc)
}
