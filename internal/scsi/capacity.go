package scsi

import "math/bits"

// READ CAPACITY (SBC-3 5.15, 5.16).

func opReadCapacity10Run(k *task) Result {
	lu := k.lu
	if k.cdb[8]&0x01 == 0 && be32(k.cdb[2:]) != 0 {
		// LBA must be zero without PMI (SBC-3 5.15.1).
		return k.invalidCDB(2, -1)
	}
	b := make([]byte, 8)
	last := lu.nblocks() - 1
	if last > 0xffffffff {
		last = 0xffffffff // use READ CAPACITY(16)
	}
	put32(b, uint32(last))
	put32(b[4:], lu.bs)
	return data(b, 8)
}

func opReadCapacity16Run(k *task) Result {
	lu := k.lu
	alloc := int(be32(k.cdb[10:]))
	b := make([]byte, 32)
	put64(b, lu.nblocks()-1)
	put32(b[8:], lu.bs)
	b[13] = lu.lbppbExponent() // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
	if lu.cfg.Thin {
		b[14] = 0x80 | 0x40 // LBPME, LBPRZ
	}
	return data(b, alloc)
}

// lbppbExponent is log2(logical blocks per physical block) (SBC-3
// 5.16.2): 3 for 512-byte logical blocks on 4 KiB physical blocks.
func (lu *LU) lbppbExponent() byte {
	pbs := lu.cfg.PhysicalBlockSize
	if pbs <= lu.bs {
		return 0
	}
	return byte(bits.TrailingZeros32(pbs) - int(lu.shift))
}
