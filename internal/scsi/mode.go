package scsi

// MODE SENSE and MODE SELECT (SPC-4 6.11-6.14) and the mode pages (SPC-4
// 7.5, SBC-3 6.4).

// modeState holds the changeable mode parameters' current values.
type modeState struct {
	wce    bool // caching page WCE
	dsense bool // control page D_SENSE
	swp    bool // control page SWP: software write protect
}

func defaultMode(cfg LUConfig) modeState { return modeState{wce: cfg.WriteCache} }

// Page control values.
const (
	pcCurrent    = 0
	pcChangeable = 1
	pcDefault    = 2
	pcSaved      = 3
)

// modePage is one supported mode page: its code, its length including the
// 2-byte header, and a function filling its parameters for a page control
// value given the mode state.
type modePage struct {
	code byte
	len  int
	fill func(b []byte, lu *LU, pc int, m modeState)
}

// modePages are in ascending page code order (the order of page 3Fh).
var modePages = []modePage{
	{0x01, 12, fillErrorRecovery},
	{0x08, 20, fillCaching},
	{0x0a, 12, fillControl},
	{0x1c, 12, fillInformationalExceptions},
}

// Read-Write Error Recovery (SBC-3 6.4.6): no retries to configure.
func fillErrorRecovery(b []byte, _ *LU, _ int, _ modeState) {}

// Caching (SBC-3 6.4.5): WCE is the only changeable bit.
func fillCaching(b []byte, _ *LU, pc int, m modeState) {
	switch pc {
	case pcChangeable:
		b[2] = 0x04
	default:
		if m.wce {
			b[2] = 0x04
		}
	}
}

// Control (SPC-4 7.5.8): D_SENSE and SWP are changeable. QUEUE ALGORITHM
// MODIFIER 1 (unrestricted reordering), TAS set: tasks aborted by another
// nexus are reported TASK ABORTED, busy timeout unlimited.
func fillControl(b []byte, _ *LU, pc int, m modeState) {
	if pc == pcChangeable {
		b[2] = 0x04
		b[4] = 0x08
		return
	}
	if m.dsense {
		b[2] |= 0x04
	}
	if m.swp {
		b[4] |= 0x08
	}
	b[3] = 0x10
	b[5] = 0x40
	put16(b[8:], 0xffff)
}

// Informational Exceptions Control (SPC-4 7.5.14): no exceptions to report.
func fillInformationalExceptions(b []byte, _ *LU, _ int, _ modeState) {}

func opModeSense(k *task) Result {
	lu := k.lu
	cdb := k.cdb
	ten := cdb[0] == opModeSense10
	dbd := cdb[1]&0x08 != 0
	llbaa := ten && cdb[1]&0x10 != 0
	pc := int(cdb[2] >> 6)
	page := cdb[2] & 0x3f
	sub := cdb[3]
	alloc := int(cdb[4])
	if ten {
		alloc = int(be16(cdb[7:]))
	}
	if pc == pcSaved {
		return k.fail(keyIllegalRequest, ascSavingParamsNotSupported)
	}
	if sub != 0 && !(page == 0x3f && sub == 0xff) {
		return k.invalidCDB(3, -1)
	}
	lu.mu.RLock()
	m := lu.mode
	wp := lu.cfg.ReadOnly || m.swp
	lu.mu.RUnlock()
	if pc == pcDefault {
		m = defaultMode(lu.cfg)
	}
	var pages []byte
	found := false
	for _, p := range modePages {
		if page != 0x3f && p.code != page {
			continue
		}
		found = true
		b := make([]byte, p.len)
		b[0] = p.code
		b[1] = byte(p.len - 2)
		p.fill(b, lu, pc, m)
		pages = append(pages, b...)
	}
	if !found {
		return k.invalidCDB(2, 5)
	}
	var bd []byte
	if !dbd {
		bd = lu.blockDescriptor(llbaa)
	}
	var dsp byte = 0x10 // DPOFUA
	if wp {
		dsp |= 0x80 // WP
	}
	var b []byte
	if ten {
		b = make([]byte, 8, 8+len(bd)+len(pages))
		b[3] = dsp
		if llbaa && !dbd {
			b[4] = 0x01 // LONGLBA
		}
		put16(b[6:], uint16(len(bd)))
	} else {
		b = make([]byte, 4, 4+len(bd)+len(pages))
		b[2] = dsp
		b[3] = byte(len(bd))
	}
	b = append(b, bd...)
	b = append(b, pages...)
	if ten {
		put16(b, uint16(len(b)-2))
	} else {
		b[0] = byte(len(b) - 1)
	}
	return data(b, alloc)
}

// blockDescriptor is the short (8-byte) or long (16-byte) LBA mode
// parameter block descriptor (SBC-3 6.4.2).
func (lu *LU) blockDescriptor(long bool) []byte {
	if long {
		b := make([]byte, 16)
		put64(b, lu.nblocks())
		put32(b[12:], lu.bs)
		return b
	}
	b := make([]byte, 8)
	n := lu.nblocks()
	if n > 0xffffffff {
		n = 0xffffffff
	}
	put32(b, uint32(n))
	put32(b[4:], lu.bs) // byte 4 is reserved; the length fits 24 bits
	return b
}

// modeSelectDataOut is the PARAMETER LIST LENGTH of MODE SELECT(6/10).
func modeSelectDataOut(k *task) uint32 {
	if k.cdb[0] == opModeSelect10 {
		return uint32(be16(k.cdb[7:]))
	}
	return uint32(k.cdb[4])
}

// opModeSelect is MODE SELECT(6/10) (SPC-4 6.9, 6.10). Only pages in the
// SPC/SBC page format (PF) are accepted and nothing can be saved (SP).
// Every page sent must be supported and complete, and may differ from the
// current values only in changeable bits; then the new values apply and
// other nexuses get MODE PARAMETERS CHANGED.
func opModeSelect(k *task) Result {
	lu := k.lu
	cdb := k.cdb
	ten := cdb[0] == opModeSelect10
	if cdb[1]&0x01 != 0 { // SP
		return k.invalidCDB(1, 0)
	}
	plen := int(modeSelectDataOut(k))
	if plen == 0 {
		return Good
	}
	if cdb[1]&0x10 == 0 { // PF
		return k.invalidCDB(1, 4)
	}
	p := k.cmd.DataOut
	if len(p) < plen {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p = p[:plen]
	hdr, bdl := 4, 0
	if ten {
		hdr = 8
	}
	if len(p) < hdr {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	if ten {
		bdl = int(be16(p[6:]))
	} else {
		bdl = int(p[3])
	}
	if hdr+bdl > len(p) {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	switch bdl {
	case 0:
	case 8, 16:
		if bdl == 16 && !(ten && p[4]&0x01 != 0) || bdl == 8 && ten && p[4]&0x01 != 0 {
			return k.invalidParam(6, -1)
		}
		d := p[hdr : hdr+bdl]
		var blen uint32
		if bdl == 8 {
			blen = be32(d[4:]) & 0xffffff
		} else {
			blen = be32(d[12:])
		}
		if blen != lu.bs {
			return k.invalidParam(hdr+bdl-3, -1)
		}
	default:
		return k.invalidParam(hdr-2, -1)
	}
	lu.mu.Lock()
	defer lu.mu.Unlock()
	m := lu.mode
	for off := hdr + bdl; off < len(p); {
		if off+2 > len(p) {
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		code := p[off] & 0x3f
		if p[off]&0x40 != 0 { // SPF: halun has no subpages
			return k.invalidParam(off, 6)
		}
		var mp *modePage
		for i := range modePages {
			if modePages[i].code == code {
				mp = &modePages[i]
			}
		}
		if mp == nil {
			return k.invalidParam(off, 5)
		}
		if int(p[off+1]) != mp.len-2 {
			return k.invalidParam(off+1, -1)
		}
		if off+mp.len > len(p) {
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		sent := p[off : off+mp.len]
		cur := make([]byte, mp.len)
		mask := make([]byte, mp.len)
		mp.fill(cur, lu, pcCurrent, m)
		mp.fill(mask, lu, pcChangeable, m)
		for i := 2; i < mp.len; i++ {
			if (sent[i]^cur[i])&^mask[i] != 0 {
				return k.invalidParam(off+i, -1)
			}
		}
		switch code {
		case 0x08:
			m.wce = sent[2]&0x04 != 0
		case 0x0a:
			m.dsense = sent[2]&0x04 != 0
			m.swp = sent[4]&0x08 != 0
		}
		off += mp.len
	}
	if m != lu.mode {
		if lu.mode.wce && !m.wce {
			// Write-through from now on: make what the cache
			// acknowledged durable too.
			if r := k.syncIf(true, 0); r != nil {
				return *r
			}
		}
		lu.mode = m
		lu.wce.Store(m.wce)
		n := k.cmd.Nexus
		lu.establishUALocked(ascModeParametersChanged, &n)
	}
	return Good
}
