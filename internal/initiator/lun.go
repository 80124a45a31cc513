package initiator

// LUN numbers and the 8-byte SAM LUN field.
//
// Throughout the package a lun argument below 16384 is a LUN number and is
// encoded with SAM peripheral device addressing (below 256) or flat space
// addressing; a value of 16384 or more is sent verbatim as the 8-byte LUN
// field (so tests can send any encoding).

// EncodeLUN returns the 8-byte LUN field for a lun argument.
func EncodeLUN(lun uint64) uint64 {
	switch {
	case lun < 256:
		return lun << 48
	case lun < 1<<14:
		return (0x4000 | lun) << 48
	}
	return lun
}

// DecodeLUN turns an 8-byte LUN field into a LUN number when it is a
// single-level peripheral or flat space address, and returns it unchanged
// otherwise.
func DecodeLUN(field uint64) uint64 {
	if field&(1<<48-1) != 0 {
		return field
	}
	top := field >> 48
	switch top >> 14 {
	case 0: // peripheral device addressing, bus 0
		if top>>8 == 0 {
			return top & 0xff
		}
	case 1: // flat space addressing
		return top & 0x3fff
	}
	return field
}
