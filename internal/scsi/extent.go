package scsi

// Extent is the part of a logical unit a command touches, for the
// transport's task ordering: commands whose extents overlap, one of them
// writing, keep their order (the restricted queue algorithm, SPC-4 7.5.8:
// QUEUE ALGORITHM MODIFIER 0 preserves data integrity per I_T nexus).
type Extent struct {
	LBA, Blocks uint64
	// Write: the command changes the medium (or, for SYNCHRONIZE CACHE,
	// must see every earlier write).
	Write bool
	// All: the command may touch the whole LU (UNMAP, SANITIZE, MODE
	// SELECT, ...); it is ordered with every other command.
	All bool
}

// Overlaps reports whether two extents of the same LU must keep their
// order: they intersect and at least one writes.
func (e Extent) Overlaps(o Extent) bool {
	if !e.Write && !o.Write {
		return false
	}
	if e.All || o.All {
		return true
	}
	return e.LBA < o.LBA+o.Blocks && o.LBA < e.LBA+e.Blocks
}

// CommandExtent decodes the extent of a CDB. ok is false for commands that
// touch no medium data (INQUIRY, TEST UNIT READY, REPORT LUNS, ...), which
// need no ordering.
func CommandExtent(cdb []byte) (e Extent, ok bool) {
	if len(cdb) == 0 {
		return Extent{}, false
	}
	op := cdb[0]
	if len(cdb) < cdbLength(op) {
		return Extent{}, false
	}
	switch op {
	case 0x08, 0x28, 0xa8, 0x88, // READ 6/10/12/16
		0x2f, 0xaf, 0x8f, // VERIFY 10/12/16
		0x34, 0x90: // PRE-FETCH 10/16
		lba, n, _ := lbaRange(cdb)
		if op == 0x08 && n == 0 {
			n = 256
		}
		return Extent{LBA: lba, Blocks: uint64(n)}, true
	case 0x0a, 0x2a, 0xaa, 0x8a, // WRITE 6/10/12/16
		0x2e, 0xae, 0x8e, // WRITE AND VERIFY 10/12/16
		0x41, 0x93, // WRITE SAME 10/16
		0x8b: // ORWRITE 16
		lba, n, _ := lbaRange(cdb)
		if op == 0x0a && n == 0 {
			n = 256
		}
		if (op == 0x41 || op == 0x93) && n == 0 {
			// WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 runs to the end.
			return Extent{Write: true, All: true}, true
		}
		return Extent{LBA: lba, Blocks: uint64(n), Write: true}, true
	case 0x89: // COMPARE AND WRITE
		return Extent{LBA: be64(cdb[2:]), Blocks: uint64(cdb[13]), Write: true}, true
	case 0x35, 0x91: // SYNCHRONIZE CACHE 10/16: after every earlier write
		return Extent{Write: true, All: true}, true
	case 0x42, 0x15, 0x55, 0x83, 0x9c, 0x04: // UNMAP, MODE SELECT, EXTENDED COPY, WRITE ATOMIC, FORMAT UNIT
		return Extent{Write: true, All: true}, true
	case 0x48:
		// SANITIZE: no extent. Commands that arrive while it runs are
		// not queued behind it but answered NOT READY, SANITIZE IN
		// PROGRESS (SBC-4 4.11.3); the LU's sanitize state does that.
		return Extent{}, false
	}
	return Extent{}, false
}
