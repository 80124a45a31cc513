package scsi

import "context"

// WRITE ATOMIC(16) (SBC-4 5.48, atomic writes SBC-4 4.29): the blocks are
// written as one unit. Other writers are excluded by holding lu.rmw
// exclusively; readers see either none or all of the new data because
// the write is bracketed by lu.atomicSeq, which READ checks (a sequence
// lock: an odd value means an atomic write is in progress).
//
// The guarantee is against concurrent commands. A power loss in the
// middle of an atomic write can leave it partly on a file or block store,
// which has no journal; the Block Limits page therefore reports no atomic
// boundary support.

const opWriteAtomic16 = 0x9c

// maxAtomicBlocks is the MAXIMUM ATOMIC TRANSFER LENGTH: an atomic write
// may be as long as any write.
func (lu *LU) maxAtomicBlocks() uint64 { return lu.maxTransferBlocks() }

// writeAtomicDataOut is TRANSFER LENGTH (bytes 12-13) blocks.
func writeAtomicDataOut(k *task) uint32 {
	return uint32(be16(k.cdb[12:])) << k.lu.shift
}

func opWriteAtomic(k *task) Result {
	lu := k.lu
	if r := k.protectField(); r != nil {
		return *r
	}
	lba := be64(k.cdb[2:])
	n := uint32(be16(k.cdb[12:]))
	if lba > lu.nblocks() || uint64(n) > lu.nblocks()-lba {
		return k.fail(keyIllegalRequest, ascLBAOutOfRange)
	}
	if be16(k.cdb[10:]) != 0 {
		// ATOMIC BOUNDARY: MAXIMUM ATOMIC BOUNDARY SIZE is 0.
		return k.invalidCDB(10, -1)
	}
	if uint64(n) > lu.maxAtomicBlocks() {
		return k.invalidCDB(12, -1)
	}
	if n == 0 {
		return Good
	}
	want := int(n) << lu.shift
	if len(k.cmd.DataOut) < want {
		// All or nothing: a write the initiator sent only part of
		// cannot be atomic.
		return k.fail(keyIllegalRequest, ascInvalidFieldInCommandIU)
	}
	p := k.cmd.DataOut[:want]
	lu.rmw.Lock()
	lu.atomicSeq.Add(1)
	err := lu.store.WriteAt(k.ctx(), p, int64(lba<<lu.shift), k.fua() || !lu.wce.Load())
	lu.atomicSeq.Add(1)
	lu.rmw.Unlock()
	if err != nil {
		return k.storeFailed(err, "atomic write", lba, true)
	}
	lu.wrote()
	return Good
}

// readStable reads p at off so that it does not observe an atomic write
// half done: it retries when one overlapped (SBC-4 4.29.2).
func (lu *LU) readStable(ctx context.Context, p []byte, off int64) error {
	for {
		s := lu.atomicSeq.Load()
		if s&1 != 0 {
			// An atomic write holds rmw: wait for it.
			lu.rmw.RLock()
			lu.rmw.RUnlock() //nolint:staticcheck // empty critical section: a wait
			continue
		}
		if err := lu.store.ReadAt(ctx, p, off); err != nil {
			return err
		}
		if lu.atomicSeq.Load() == s {
			return nil
		}
	}
}
