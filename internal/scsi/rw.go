package scsi

import "bytes"

// This file holds the data path: READ, WRITE, WRITE AND VERIFY and VERIFY
// in their 6/10/12/16-byte forms (SBC-3 5.8-5.11, 5.29-5.34, 5.39-5.42).

// checkRange validates LBA and transfer length against the capacity (SBC-3
// 4.5: LOGICAL BLOCK ADDRESS OUT OF RANGE) and, when maxBlocks > 0, against
// a maximum transfer length (INVALID FIELD IN CDB at the length field).
func (k *task) checkRange(lba uint64, n uint32, lenByte int, maxBlocks uint64) *Result {
	lu := k.lu
	if lba > lu.nblocks() || uint64(n) > lu.nblocks()-lba {
		r := k.fail(keyIllegalRequest, ascLBAOutOfRange)
		return &r
	}
	if maxBlocks > 0 && uint64(n) > maxBlocks {
		r := k.invalidCDB(lenByte, -1)
		return &r
	}
	return nil
}

// maxTransferBlocks is the MAXIMUM TRANSFER LENGTH in blocks.
func (lu *LU) maxTransferBlocks() uint64 { return maxTransferBytes >> lu.shift }

// protectField checks the RDPROTECT/WRPROTECT/VRPROTECT field (byte 1 bits
// 7-5): without protection information it must be zero (SBC-3 5.8 table
// 30).
func (k *task) protectField() *Result {
	if cdbLength(k.cdb[0]) != 6 && k.cdb[1]&0xe0 != 0 {
		r := k.invalidCDB(1, 7)
		return &r
	}
	return nil
}

// rwDataOut is the data-out length of WRITE, WRITE AND VERIFY and ORWRITE:
// transfer length × block size.
func rwDataOut(k *task) uint32 {
	_, n, _ := lbaRange(k.cdb)
	return saturate32(uint64(n) << k.lu.shift)
}

// dataInBuf returns a buffer of size bytes for read data: the transport's
// offered buffer when it is large enough, else a new one.
func (k *task) dataInBuf(size uint64) []byte {
	if b := k.cmd.DataInBuf; uint64(cap(b)) >= size {
		return b[:size]
	}
	return make([]byte, size)
}

func opRead(k *task) Result {
	if r := k.protectField(); r != nil {
		return *r
	}
	lba, n, lb := lbaRange(k.cdb)
	lu := k.lu
	if r := k.checkRange(lba, n, lb, lu.maxTransferBlocks()); r != nil {
		return *r
	}
	if n == 0 {
		return Good
	}
	buf := k.dataInBuf(uint64(n) << lu.shift)
	if err := lu.readStable(k.ctx(), buf, int64(lba<<lu.shift)); err != nil {
		return k.storeFailed(err, "read", lba, false)
	}
	return Result{Status: StatusGood, Data: buf}
}

// writeData returns the bytes a write of n blocks stores: what the CDB asks
// for, or only the whole blocks received when the initiator sent less (the
// transport reports the residual). A partial block is refused with INVALID
// FIELD IN COMMAND INFORMATION UNIT and nothing is written, as FCP-4 allows
// and libiscsi's residual tests accept.
func (k *task) writeData(n uint32) ([]byte, *Result) {
	want := uint64(n) << k.lu.shift
	d := k.cmd.DataOut
	if uint64(len(d)) >= want {
		return d[:want], nil
	}
	if uint64(len(d))&uint64(k.lu.bs-1) != 0 {
		r := k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
		return nil, &r
	}
	return d, nil
}

// fua reports whether the CDB's FUA bit (byte 1 bit 3) is set.
func (k *task) fua() bool { return cdbLength(k.cdb[0]) != 6 && k.cdb[1]&0x08 != 0 }

// store writes p at lba under the writers' shared lock, durable when the
// cache mode or FUA requires (SBC-3 4.15): one store call either way.
func (k *task) store(p []byte, lba uint64, durable bool) *Result {
	lu := k.lu
	durable = durable || !lu.wce.Load()
	if len(p) == 0 {
		return k.syncIf(durable, lba)
	}
	lu.rmw.RLock()
	err := lu.store.WriteAt(k.ctx(), p, int64(lba<<lu.shift), durable)
	lu.rmw.RUnlock()
	if err != nil {
		r := k.storeFailed(err, "write", lba, true)
		return &r
	}
	lu.wrote()
	return nil
}

// syncIf syncs the store when cond holds.
func (k *task) syncIf(cond bool, lba uint64) *Result {
	if !cond {
		return nil
	}
	if err := k.lu.store.Sync(k.ctx()); err != nil {
		r := k.storeFailed(err, "sync", lba, true)
		return &r
	}
	return nil
}

func opWrite(k *task) Result {
	if r := k.protectField(); r != nil {
		return *r
	}
	lba, n, lb := lbaRange(k.cdb)
	if r := k.checkRange(lba, n, lb, k.lu.maxTransferBlocks()); r != nil {
		return *r
	}
	if n == 0 {
		return Good
	}
	p, r := k.writeData(n)
	if r != nil {
		return *r
	}
	if r := k.store(p, lba, k.fua()); r != nil {
		return *r
	}
	return Good
}

// opWriteVerify writes and then verifies (SBC-3 5.40). The data is made
// durable before GOOD: verification is against the medium, not a cache.
// With BYTCHK the data read back is compared to what was sent.
func opWriteVerify(k *task) Result {
	if r := k.protectField(); r != nil {
		return *r
	}
	lba, n, lb := lbaRange(k.cdb)
	lu := k.lu
	if r := k.checkRange(lba, n, lb, lu.maxTransferBlocks()); r != nil {
		return *r
	}
	if n == 0 {
		return Good
	}
	p, r := k.writeData(n)
	if r != nil {
		return *r
	}
	if r := k.store(p, lba, true); r != nil {
		return *r
	}
	if k.cdb[1]&0x02 != 0 && len(p) > 0 {
		back := make([]byte, len(p))
		if err := lu.store.ReadAt(k.ctx(), back, int64(lba<<lu.shift)); err != nil {
			return k.storeFailed(err, "read back", lba, false)
		}
		if i := mismatch(back, p); i >= 0 {
			return k.miscompare(uint64(i))
		}
	}
	return Good
}

// verifyDataOut is the data-out length of VERIFY: none for BYTCHK 00b,
// the blocks for 01b, one block for 11b (SBC-3 5.35 table 86).
func verifyDataOut(k *task) uint32 {
	_, n, _ := lbaRange(k.cdb)
	switch (k.cdb[1] >> 1) & 3 {
	case 1:
		return saturate32(uint64(n) << k.lu.shift)
	case 3:
		if n == 0 {
			return 0
		}
		return k.lu.bs
	}
	return 0
}

// opVerify checks the medium (SBC-3 5.35-5.37). BYTCHK 00b only checks
// that the blocks are readable; 01b compares them with the data-out
// buffer, 11b compares each with the single block sent. A difference is
// MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION with the offset of the
// first differing byte in INFORMATION.
func opVerify(k *task) Result {
	if r := k.protectField(); r != nil {
		return *r
	}
	lba, n, lb := lbaRange(k.cdb)
	lu := k.lu
	bytchk := (k.cdb[1] >> 1) & 3
	if bytchk == 2 {
		return k.invalidCDB(1, 2)
	}
	if r := k.checkRange(lba, n, lb, lu.maxTransferBlocks()); r != nil {
		return *r
	}
	if n == 0 {
		return Good
	}
	buf := make([]byte, uint64(n)<<lu.shift)
	if err := lu.store.ReadAt(k.ctx(), buf, int64(lba<<lu.shift)); err != nil {
		return k.storeFailed(err, "verify read", lba, false)
	}
	d := k.cmd.DataOut
	switch bytchk {
	case 1:
		if uint64(len(d)) < uint64(len(buf)) {
			if len(d)&int(lu.bs-1) != 0 {
				return k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
			}
			buf = buf[:len(d)]
		}
		if i := mismatch(buf, d); i >= 0 {
			return k.miscompare(uint64(i))
		}
	case 3:
		if uint32(len(d)) < lu.bs {
			return k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
		}
		pat := d[:lu.bs]
		for off := 0; off < len(buf); off += int(lu.bs) {
			if i := mismatch(buf[off:off+int(lu.bs)], pat); i >= 0 {
				return k.miscompare(uint64(off + i))
			}
		}
	}
	return Good
}

// mismatch returns the offset of the first byte where a and b differ over
// a's length, or -1.
func mismatch(a, b []byte) int {
	if bytes.Equal(a, b[:len(a)]) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// miscompare is MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION with the
// byte offset of the first difference in INFORMATION (SBC-3 5.35.2).
func (k *task) miscompare(off uint64) Result {
	return checkCondition(sense{key: keyMiscompare, asc: ascMiscompareDuringVerify, info: off, infoValid: true}, k.desc)
}
