package scsi

// COMPARE AND WRITE and ORWRITE (SBC-3 5.2, 5.9): read-modify-write
// commands that are atomic against every other writer of the LU, which
// hold lu.rmw shared while they write.

// cawDataOut is the verify data followed by the write data: twice the
// blocks.
func cawDataOut(k *task) uint32 { return uint32(k.cdb[13]) * 2 * k.lu.bs }

func opCompareAndWriteRun(k *task) Result {
	lu := k.lu
	if r := k.protectField(); r != nil {
		return *r
	}
	lba := be64(k.cdb[2:])
	n := uint32(k.cdb[13])
	if n == 0 {
		if len(k.cmd.DataOut) != 0 {
			// Data for zero blocks: most likely a count of 256 that
			// did not fit the one-byte field.
			return k.invalidCDB(13, -1)
		}
		return Good
	}
	if n > maxCAWBlocks {
		return k.invalidCDB(13, -1)
	}
	if r := k.checkRange(lba, n, 13, 0); r != nil {
		return *r
	}
	size := int(n * lu.bs)
	d := k.cmd.DataOut
	if len(d) != 2*size {
		// Verify and write halves cannot be told apart unless the
		// initiator sent exactly what the CDB says.
		return k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
	}
	verify, write := d[:size], d[size:2*size]
	cur := make([]byte, size)
	off := int64(lba << lu.shift)
	lu.rmw.Lock()
	defer lu.rmw.Unlock()
	if err := lu.store.ReadAt(k.ctx(), cur, off); err != nil {
		return k.storeFailed(err, "read", lba, false)
	}
	if i := mismatch(cur, verify); i >= 0 {
		return k.miscompare(uint64(i))
	}
	if err := lu.store.WriteAt(k.ctx(), write, off, k.fua() || !lu.wce.Load()); err != nil {
		return k.storeFailed(err, "write", lba, true)
	}
	lu.wrote()
	return Good
}

// opOrWrite is ORWRITE(16) without protection information: each block
// becomes the OR of its old content and the data sent.
func opOrWrite(k *task) Result {
	lu := k.lu
	if r := k.protectField(); r != nil {
		return *r
	}
	lba, n, lb := lbaRange(k.cdb)
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
	if len(p) == 0 {
		return Good
	}
	cur := make([]byte, len(p))
	off := int64(lba << lu.shift)
	lu.rmw.Lock()
	defer lu.rmw.Unlock()
	if err := lu.store.ReadAt(k.ctx(), cur, off); err != nil {
		return k.storeFailed(err, "read", lba, false)
	}
	for i := range cur {
		cur[i] |= p[i]
	}
	if err := lu.store.WriteAt(k.ctx(), cur, off, k.fua() || !lu.wce.Load()); err != nil {
		return k.storeFailed(err, "write", lba, true)
	}
	lu.wrote()
	return Good
}
