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

// ParseAHS splits a raw AHS area into its segments. Every segment, the last
// included, must be padded to a multiple of 4 bytes, as the AHS area of a PDU
// always is (TotalAHSLength counts 4-byte words). Segment data aliases b.
func ParseAHS(b []byte) ([]AHSSegment, error) {
	var out []AHSSegment
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("pdu: truncated AHS header (%d bytes)", len(b))
		}
		// AHSLength counts the bytes after the type byte (from the
		// type-specific byte on), excluding padding (RFC 7143 §11.2.2.1).
		n := int(binary.BigEndian.Uint16(b[0:2]))
		typ := b[2]
		if n == 0 {
			return nil, fmt.Errorf("pdu: AHS type %d has AHSLength 0", typ)
		}
		total := 3 + n
		padded := total + pad(total)
		if padded > len(b) {
			return nil, fmt.Errorf("pdu: AHS type %d of length %d (%d bytes padded) exceeds %d remaining bytes",
				typ, n, padded, len(b))
		}
		out = append(out, AHSSegment{Type: typ, Data: b[3:total:total]})
		b = b[padded:]
	}
	return out, nil
}

// AppendAHS encodes a segment, padded to 4 bytes, onto dst. s.Data must be
// 1 to 65535 bytes long (AHSLength is 16 bits and counts the type-specific
// byte).
func AppendAHS(dst []byte, s AHSSegment) []byte {
	n := len(s.Data)
	dst = append(dst, byte(n>>8), byte(n), s.Type)
	dst = append(dst, s.Data...)
	return append(dst, zeroPad[:pad(3+n)]...)
}

// CommandAHS extracts the extended CDB bytes and the bidirectional expected
// read length from a SCSI Command's AHS. Unknown AHS types, a type given
// twice, an extended CDB AHS carrying no CDB bytes (it is only for CDBs of
// more than 16 bytes, RFC 7143 §11.2.2.3) and a bidirectional read length AHS
// whose AHSLength is not 5 (§11.2.2.4) are errors. extCDB aliases b.
func CommandAHS(b []byte) (extCDB []byte, bidiRead uint32, hasBidi bool, err error) {
	segs, err := ParseAHS(b)
	if err != nil {
		return nil, 0, false, err
	}
	hasExt := false
	for _, s := range segs {
		switch s.Type {
		case AHSExtendedCDB:
			if hasExt {
				return nil, 0, false, fmt.Errorf("pdu: more than one extended CDB AHS")
			}
			if len(s.Data) < 2 {
				return nil, 0, false, fmt.Errorf("pdu: extended CDB AHS of AHSLength %d carries no CDB bytes", len(s.Data))
			}
			// The first byte is reserved; the rest continues the CDB.
			extCDB, hasExt = s.Data[1:], true
		case AHSBidiReadLength:
			if hasBidi {
				return nil, 0, false, fmt.Errorf("pdu: more than one bidirectional read length AHS")
			}
			if len(s.Data) != 5 {
				return nil, 0, false, fmt.Errorf("pdu: bidirectional read length AHS of AHSLength %d, want 5", len(s.Data))
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
