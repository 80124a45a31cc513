package scsi

import (
	"github.com/halun/halun/internal/backend"
)

// WRITE SAME, UNMAP and GET LBA STATUS (SBC-3 5.43-5.45, 5.28, 5.17;
// logical block provisioning, SBC-3 4.7).

// writeSameDataOut is one block unless NDOB (WRITE SAME(16) only).
func writeSameDataOut(k *task) uint32 {
	if k.cdb[0] == opWriteSame16 && k.cdb[1]&0x01 != 0 {
		return 0
	}
	return k.lu.bs
}

// opWriteSame writes one block of data (zeros with NDOB) to every block of
// the range. With UNMAP on a thin LU, a zero pattern deallocates the range
// instead, which reads back as zeros (LBPRZ); other patterns are written.
func opWriteSame(k *task) Result {
	lu := k.lu
	cdb := k.cdb
	if r := k.protectField(); r != nil {
		return *r
	}
	if cdb[1]&0x10 != 0 { // ANCHOR: anchored state not supported (ANC_SUP 0)
		return k.invalidCDB(1, 4)
	}
	if cdb[1]&0x06 != 0 { // PBDATA, LBDATA (obsolete)
		return k.invalidCDB(1, 2)
	}
	ndob := cdb[0] == opWriteSame16 && cdb[1]&0x01 != 0
	unmap := cdb[1]&0x08 != 0
	if unmap && !lu.cfg.Thin {
		// UNMAP needs logical block provisioning (LBPME, LBPWS); a
		// fully provisioned LU refuses it as LIO does (libiscsi
		// WriteSame*.UnmapVPD).
		return k.invalidCDB(1, 3)
	}
	lba, n32, lb := lbaRange(cdb)
	n := uint64(n32)
	if lba > lu.nblocks() || n > lu.nblocks()-lba {
		return k.fail(keyIllegalRequest, ascLBAOutOfRange)
	}
	if n == 0 {
		if lu.wsnz() {
			return k.invalidCDB(lb, -1)
		}
		// WSNZ 0: zero blocks means every block from lba to the
		// end of the medium (SBC-3 5.43), within MAXIMUM WRITE SAME
		// LENGTH like any other count.
		n = lu.nblocks() - lba
	}
	if n > maxWriteSameBlocks {
		return k.invalidCDB(lb, -1)
	}
	if n == 0 {
		return Good
	}
	pattern := make([]byte, lu.bs)
	if !ndob {
		// Exactly one block of data-out: anything else cannot be
		// the single block the CDB describes (libiscsi
		// WriteSame*.InvalidDataOutSize; FCP-4 and LIO refuse it too).
		if uint32(len(k.cmd.DataOut)) != lu.bs {
			return k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
		}
		copy(pattern, k.cmd.DataOut)
	}
	if unmap && lu.cfg.Thin && allZero(pattern) {
		return k.unmapRange(lba, n)
	}
	// Write the pattern in bounded chunks.
	chunkBlocks := uint64(maxTransferBytes) >> lu.shift
	buf := make([]byte, min(n, chunkBlocks)<<lu.shift)
	for off := 0; off < len(buf); off += int(lu.bs) {
		copy(buf[off:], pattern)
	}
	for left, at := n, lba; left > 0; {
		c := min(left, chunkBlocks)
		if r := k.store(buf[:c<<lu.shift], at, false); r != nil {
			return *r
		}
		left -= c
		at += c
	}
	return Good
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// unmapRange deallocates n blocks from lba, holding the writers' lock so
// it orders like a write, and syncs unless the write cache is enabled.
func (k *task) unmapRange(lba, n uint64) Result {
	lu := k.lu
	lu.rmw.RLock()
	err := lu.store.Unmap(k.ctx(), int64(lba<<lu.shift), int64(n<<lu.shift))
	lu.rmw.RUnlock()
	if err != nil {
		return k.storeFailed(err, "unmap", lba, true)
	}
	if r := k.syncIf(!lu.wce.Load(), lba); r != nil {
		return *r
	}
	return Good
}

// paramListDataOut is the PARAMETER LIST LENGTH of UNMAP (bytes 7-8).
func paramListDataOut(k *task) uint32 { return uint32(be16(k.cdb[7:])) }

// opUnmapRun is UNMAP (SBC-3 5.28): every descriptor is validated before
// any range is deallocated.
func opUnmapRun(k *task) Result {
	lu := k.lu
	if k.cdb[1]&0x01 != 0 { // ANCHOR
		return k.invalidCDB(1, 0)
	}
	plen := int(be16(k.cdb[7:]))
	if plen == 0 {
		return Good
	}
	if plen < 8 {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p := k.cmd.DataOut
	if len(p) < plen {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	p = p[:plen]
	dl := int(be16(p))
	bdl := int(be16(p[2:]))
	if dl > plen-2 || bdl > plen-8 {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	nd := bdl / 16
	if nd > maxUnmapDescs {
		return k.invalidParam(2, -1)
	}
	for i := range nd {
		d := p[8+16*i:]
		lba, n := be64(d), uint64(be32(d[8:]))
		if lba > lu.nblocks() || n > lu.nblocks()-lba {
			return k.fail(keyIllegalRequest, ascLBAOutOfRange)
		}
	}
	for i := range nd {
		d := p[8+16*i:]
		lba, n := be64(d), uint64(be32(d[8:]))
		if n == 0 {
			continue
		}
		if r := k.unmapRange(lba, n); r.Status != StatusGood {
			return r
		}
	}
	return Good
}

// maxLBAStatusDescs bounds the descriptors one GET LBA STATUS returns.
const maxLBAStatusDescs = 64

// opGetLBAStatus is GET LBA STATUS (SBC-3 5.17): runs of mapped and
// deallocated blocks from the starting LBA, as far as the store can tell
// (stores that cannot report everything as mapped).
func opGetLBAStatus(k *task) Result {
	lu := k.lu
	lba := be64(k.cdb[2:])
	alloc := int(be32(k.cdb[10:]))
	if lba >= lu.nblocks() {
		return k.fail(keyIllegalRequest, ascLBAOutOfRange)
	}
	mapper, _ := lu.store.(backend.Mapper)
	b := make([]byte, 8, 8+16*4)
	for i := 0; i < maxLBAStatusDescs && lba < lu.nblocks() && len(b)+16 <= max(alloc, 24); i++ {
		left := lu.nblocks() - lba
		count := min(left, 0xffffffff)
		status := byte(0)
		if mapper != nil {
			mapped, run, err := mapper.MapStatus(int64(lba<<lu.shift), int64(count<<lu.shift))
			if err != nil {
				return k.storeFailed(err, "map status", lba, false)
			}
			// A run ends mid-block only for mapped partial data;
			// round so every block is reported once.
			blocks := (uint64(run) + uint64(lu.bs) - 1) >> lu.shift
			if !mapped {
				blocks = uint64(run) >> lu.shift
				status = 1
			}
			if blocks == 0 {
				blocks, status = 1, 0
			}
			count = min(blocks, count)
		}
		d := make([]byte, 16)
		put64(d, lba)
		put32(d[8:], uint32(count))
		d[12] = status
		b = append(b, d...)
		lba += count
	}
	put32(b, uint32(len(b)-4))
	return data(b, alloc)
}
