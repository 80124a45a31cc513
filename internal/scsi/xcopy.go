package scsi

import (
	"bytes"

	"github.com/halun/halun/internal/identity"
)

// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18): the
// copy manager of halun's LUs copies blocks between logical units of the
// same target, as VMware's VAAI XCOPY uses it. Copy targets (CSCDs) are
// named by identification descriptors (E4h) carrying a logical unit
// designator of VPD page 0x83 (NAA or T10 vendor ID); only block to block
// segment descriptors (02h) are supported. The copy runs while the
// command is active; its status is kept per I_T nexus and list identifier
// for RECEIVE COPY RESULTS until the nexus ends.

const (
	opExtendedCopy       = 0x83
	opReceiveCopyResults = 0x84

	saExtendedCopyLID1  = 0x00
	saCopyStatus        = 0x00
	saOperatingParams   = 0x03
	keyCopyAborted      = 0x0a
	ascTooManyTargets   = 0x2606
	ascUnsupportedTgt   = 0x2607
	ascTooManySegments  = 0x2608
	ascUnsupportedSeg   = 0x2609
	ascUnreachableCopy  = 0x0804
	ascCopyTargetNotRch = 0x0d02

	xcopyHeaderLen      = 16
	xcopyTargetDescLen  = 32
	xcopyB2BSegLen      = 28
	xcopyMaxTargets     = 8
	xcopyMaxSegments    = 16
	xcopyMaxDescListLen = 1024
	xcopyChunk          = 1 << 20

	cscdIdentification = 0xe4
	segBlockToBlock    = 0x02
)

// copyStatus is what RECEIVE COPY RESULTS (COPY STATUS) reports for one
// list identifier.
type copyStatus struct {
	status   byte   // COPY MANAGER STATUS: 1 completed, 2 completed with errors
	segments uint16 // SEGMENTS PROCESSED
	bytes    uint64 // TRANSFER COUNT in bytes
}

// xcopyDataOut is the PARAMETER LIST LENGTH (bytes 10-13).
func xcopyDataOut(k *task) uint32 { return be32(k.cdb[10:]) }

// xcopySegment is one decoded block to block segment.
type xcopySegment struct {
	src, dst       *LU
	srcLBA, dstLBA uint64
	blocks         uint64
}

func opExtendedCopyRun(k *task) Result {
	plen := int(be32(k.cdb[10:]))
	if plen == 0 {
		return Good
	}
	p := k.cmd.DataOut
	if plen < xcopyHeaderLen || len(p) < plen {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p = p[:plen]
	listID := p[0]
	usage := (p[1] >> 3) & 3
	tdl := int(be16(p[2:]))
	sdl := int(be32(p[8:]))
	if be32(p[12:]) != 0 { // INLINE DATA LENGTH: no inline data
		return k.invalidParam(12, -1)
	}
	if tdl+sdl > xcopyMaxDescListLen || xcopyHeaderLen+tdl+sdl > plen {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}

	// CSCD descriptors.
	if tdl%xcopyTargetDescLen != 0 {
		return k.invalidParam(2, -1)
	}
	if tdl/xcopyTargetDescLen > xcopyMaxTargets {
		return k.fail(keyIllegalRequest, ascTooManyTargets)
	}
	var targets []*LU
	for off := xcopyHeaderLen; off < xcopyHeaderLen+tdl; off += xcopyTargetDescLen {
		d := p[off : off+xcopyTargetDescLen]
		if d[0] != cscdIdentification {
			return k.fail(keyIllegalRequest, ascUnsupportedTgt)
		}
		// LU ID TYPE is ignored and NUL is obsolete (SPC-4 6.4.5.4).
		if d[1]&0x1f != 0 { // PERIPHERAL DEVICE TYPE: block devices only
			return k.invalidParam(off+1, 4)
		}
		lu := k.resolveCSCD(d[4:24])
		if lu == nil {
			return k.fail(keyCopyAborted, ascUnreachableCopy)
		}
		if bl := be32(d[28:]) & 0xffffff; bl != lu.bs {
			return k.invalidParam(off+29, -1)
		}
		targets = append(targets, lu)
	}

	// Segment descriptors.
	var segs []xcopySegment
	for off := xcopyHeaderLen + tdl; off < xcopyHeaderLen+tdl+sdl; {
		if len(segs) == xcopyMaxSegments {
			return k.fail(keyIllegalRequest, ascTooManySegments)
		}
		if off+4 > len(p) {
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		d := p[off:]
		if d[0] != segBlockToBlock {
			return k.fail(keyIllegalRequest, ascUnsupportedSeg)
		}
		if n := 4 + int(be16(d[2:])); n != xcopyB2BSegLen || off+n > xcopyHeaderLen+tdl+sdl {
			return k.invalidParam(off+2, -1)
		}
		si, di := int(be16(d[4:])), int(be16(d[6:]))
		if si >= len(targets) || di >= len(targets) {
			return k.fail(keyCopyAborted, ascUnreachableCopy)
		}
		if targets[si].bs != targets[di].bs {
			// Block to block copies between equal block sizes only.
			return k.invalidParam(off+4, -1)
		}
		segs = append(segs, xcopySegment{src: targets[si], dst: targets[di],
			blocks: uint64(be16(d[10:])), srcLBA: be64(d[12:]), dstLBA: be64(d[20:])})
		off += xcopyB2BSegLen
	}

	st := copyStatus{status: 1}
	res := Good
	for i, s := range segs {
		if r := k.copySegment(s); r != nil {
			res = *r
			st.status = 2
			break
		}
		st.segments = uint16(i + 1)
		st.bytes += s.blocks << s.dst.shift
	}
	if usage == 0 { // hold the status for RECEIVE COPY RESULTS
		lu := k.lu
		lu.mu.Lock()
		ns := lu.nexusLocked(k.cmd.Nexus)
		if ns.copies == nil {
			ns.copies = make(map[byte]copyStatus)
		}
		ns.copies[listID] = st
		lu.mu.Unlock()
	}
	return res
}

// resolveCSCD finds the LU of this target (visible to the nexus) that a
// logical unit designator (designation descriptor of VPD 0x83) names.
func (k *task) resolveCSCD(desig []byte) *LU {
	if desig[1]&0x30 != assocLU {
		return nil
	}
	n := int(desig[3])
	if 4+n > len(desig) {
		return nil
	}
	want := desig[:4+n]
	for _, num := range k.t.list {
		lu := k.t.luns[num]
		if lu == nil || !k.t.visible(k.cmd.Nexus, num) {
			continue
		}
		for d := lu.luDesigs; len(d) >= 4; {
			l := 4 + int(d[3])
			if l > len(d) {
				break
			}
			// Compare code set, association/type and designator
			// (byte 2 is reserved). A logical unit group names many
			// units, none in particular.
			if d[1]&0x0f != identity.TypeLUGroup && want[0]&0x0f == d[0]&0x0f && want[1]&0x3f == d[1]&0x3f && want[3] == d[3] && bytes.Equal(want[4:], d[4:l]) {
				return lu
			}
			d = d[l:]
		}
	}
	return nil
}

// copySegment copies one block to block segment with the access checks
// the copy manager's own READ and WRITE would meet.
func (k *task) copySegment(s xcopySegment) *Result {
	n := k.cmd.Nexus
	fail := func(key uint8, asc uint16) *Result { r := k.fail(key, asc); return &r }
	if s.srcLBA > s.src.nblocks() || s.blocks > s.src.nblocks()-s.srcLBA ||
		s.dstLBA > s.dst.nblocks() || s.blocks > s.dst.nblocks()-s.dstLBA {
		return fail(keyCopyAborted, ascCopyTargetNotRch)
	}
	for _, c := range []struct {
		lu    *LU
		flags opFlags
	}{{s.src, fMedium}, {s.dst, fMedium | fWrite}} {
		lu := c.lu
		lu.mu.RLock()
		conflict := lu.reserved != nil && *lu.reserved != n || lu.prConflictLocked(n, c.flags)
		unavailable := lu.ejected || lu.sanitize != nil || lu.sanitizeFailed
		wp := lu.mode.swp
		lu.mu.RUnlock()
		switch {
		case conflict:
			return &Result{Status: StatusReservationConflict}
		case unavailable:
			return fail(keyCopyAborted, ascCopyTargetNotRch)
		case c.flags&fWrite != 0 && lu.cfg.ReadOnly:
			return fail(keyDataProtect, ascWriteProtected)
		case c.flags&fWrite != 0 && wp:
			return fail(keyDataProtect, ascSoftwareWriteProtected)
		}
	}
	if s.blocks == 0 {
		return nil
	}
	bs := uint64(s.src.bs)
	chunk := uint64(xcopyChunk) / bs
	buf := make([]byte, min(s.blocks, chunk)*bs)
	// Copy backwards when the destination overlaps the source from
	// above, so no block is overwritten before it is read.
	backwards := s.src == s.dst && s.dstLBA > s.srcLBA && s.dstLBA < s.srcLBA+s.blocks
	for done := uint64(0); done < s.blocks; {
		c := min(chunk, s.blocks-done)
		off := done
		if backwards {
			off = s.blocks - done - c
		}
		b := buf[:c*bs]
		if err := s.src.readStable(k.ctx(), b, int64((s.srcLBA+off)*bs)); err != nil {
			s.src.log.Error("scsi: extended copy read failed", "lu", s.src.cfg.Serial, "err", err)
			return fail(keyCopyAborted, ascCopyTargetNotRch)
		}
		s.dst.rmw.RLock()
		err := s.dst.store.WriteAt(k.ctx(), b, int64((s.dstLBA+off)*bs), false)
		s.dst.rmw.RUnlock()
		if err != nil {
			s.dst.log.Error("scsi: extended copy write failed", "lu", s.dst.cfg.Serial, "err", err)
			return fail(keyCopyAborted, ascCopyTargetNotRch)
		}
		done += c
	}
	if !s.dst.wce.Load() {
		if err := s.dst.store.Sync(k.ctx()); err != nil {
			return fail(keyCopyAborted, ascCopyTargetNotRch)
		}
	}
	return nil
}

// opReceiveCopyResultsRun is RECEIVE COPY RESULTS (SPC-4 6.18): COPY
// STATUS of a held list identifier and the OPERATING PARAMETERS.
func opReceiveCopyResultsRun(k *task) Result {
	alloc := int(be32(k.cdb[10:]))
	switch k.cdb[1] & 0x1f {
	case saCopyStatus:
		lu := k.lu
		lu.mu.RLock()
		var st copyStatus
		ok := false
		if ns := lu.nexuses[k.cmd.Nexus]; ns != nil {
			st, ok = ns.copies[k.cdb[2]]
		}
		lu.mu.RUnlock()
		if !ok {
			return k.invalidCDB(2, -1)
		}
		b := make([]byte, 12)
		put32(b, 8)
		b[4] = st.status
		put16(b[5:], st.segments)
		b[7] = 0 // TRANSFER COUNT UNITS: bytes
		put32(b[8:], uint32(min(st.bytes, 0xffffffff)))
		return data(b, alloc)
	case saOperatingParams:
		b := make([]byte, 44, 46)
		b[4] = 0x01 // SNLID: list identifiers are supported
		put16(b[8:], xcopyMaxTargets)
		put16(b[10:], xcopyMaxSegments)
		put32(b[12:], xcopyMaxDescListLen)
		put32(b[16:], 0xffff<<k.lu.shift) // MAXIMUM SEGMENT LENGTH
		put16(b[34:], 0)                  // TOTAL CONCURRENT COPIES
		b[36] = 1                         // MAXIMUM CONCURRENT COPIES
		b[37] = byte(k.lu.shift)          // DATA SEGMENT GRANULARITY (log2)
		b = append(b, segBlockToBlock, cscdIdentification)
		b[43] = 2 // IMPLEMENTED DESCRIPTOR LIST LENGTH
		put32(b, uint32(len(b)-4))
		return data(b, alloc)
	}
	return k.invalidCDB(1, 4)
}
