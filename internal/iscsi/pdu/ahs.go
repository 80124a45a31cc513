package pdu

import (
	"encoding/binary"
	"fmt"
)

// AHS types (RFC 7143 §11.2.2).
const (
	AHSExtendedCDB    uint8 = 1
	AHSBidiReadLength uint8 = 2
)

// AHSSegment is one additional header segment.
type AHSSegment struct {
	Type uint8
	// Data holds the AHS-specific bytes after the type byte, including the
	// type-specific byte at offset 3 of the segment.
	Data []byte
}

// ParseAHS splits a raw AHS area into its segments.
func ParseAHS(b []byte) ([]AHSSegment, error) {
	var out []AHSSegment
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("pdu: truncated AHS header (%d bytes)", len(b))
		}
		n := int(binary.BigEndian.Uint16(b[0:2]))
		typ := b[2]
		// AHSLength counts the bytes after the type byte (from the
		// type-specific byte on).
		total := 3 + n
		if n == 0 || total > len(b) {
			return nil, fmt.Errorf("pdu: AHS length %d exceeds %d remaining bytes", n, len(b)-3)
		}
		out = append(out, AHSSegment{Type: typ, Data: b[3:total]})
		b = b[total+pad(total):]
	}
	return out, nil
}

// AppendAHS encodes a segment, padded to 4 bytes, onto dst.
func AppendAHS(dst []byte, s AHSSegment) []byte {
	n := len(s.Data)
	dst = append(dst, byte(n>>8), byte(n), s.Type)
	dst = append(dst, s.Data...)
	return append(dst, zeroPad[:pad(3+n)]...)
}

// CommandAHS extracts the extended CDB bytes and the bidirectional expected
// read length from a SCSI Command's AHS. Unknown AHS types are an error.
func CommandAHS(b []byte) (extCDB []byte, bidiRead uint32, hasBidi bool, err error) {
	segs, err := ParseAHS(b)
	if err != nil {
		return nil, 0, false, err
	}
	for _, s := range segs {
		switch s.Type {
		case AHSExtendedCDB:
			// The first byte is reserved; the rest continues the CDB.
			extCDB = s.Data[1:]
		case AHSBidiReadLength:
			if len(s.Data) != 5 {
				return nil, 0, false, fmt.Errorf("pdu: bidirectional read length AHS of %d bytes", len(s.Data))
			}
			bidiRead, hasBidi = binary.BigEndian.Uint32(s.Data[1:5]), true
		default:
			return nil, 0, false, fmt.Errorf("pdu: unknown AHS type %d", s.Type)
		}
	}
	return extCDB, bidiRead, hasBidi, nil
}

// ExtendedCDBAHS returns the AHS carrying CDB bytes beyond the first 16.
func ExtendedCDBAHS(rest []byte) AHSSegment {
	return AHSSegment{Type: AHSExtendedCDB, Data: append([]byte{0}, rest...)}
}

// BidiReadLengthAHS returns the AHS for a bidirectional command's read length.
func BidiReadLengthAHS(n uint32) AHSSegment {
	d := make([]byte, 5)
	binary.BigEndian.PutUint32(d[1:], n)
	return AHSSegment{Type: AHSBidiReadLength, Data: d}
}
