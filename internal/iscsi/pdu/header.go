package pdu

import "encoding/binary"

// HeaderLen is the length of the basic header segment.
const HeaderLen = 48

// Header is a raw basic header segment. The accessors read and write the fields
// common to every PDU type; the typed messages in messages.go cover the rest.
type Header [HeaderLen]byte

var be = binary.BigEndian

// Opcode returns the opcode in byte 0.
func (h *Header) Opcode() Opcode { return Opcode(h[0] & 0x3f) }

// Immediate reports the I bit (immediate delivery).
func (h *Header) Immediate() bool { return h[0]&0x40 != 0 }

// Final reports the F bit in byte 1.
func (h *Header) Final() bool { return h[1]&0x80 != 0 }

// TotalAHSLength returns the AHS length in bytes (the field counts 4-byte words).
func (h *Header) TotalAHSLength() int { return int(h[4]) * 4 }

// DataSegmentLength returns the unpadded data segment length in bytes.
func (h *Header) DataSegmentLength() int {
	return int(h[5])<<16 | int(h[6])<<8 | int(h[7])
}

// SetDataSegmentLength stores n (which must fit in 24 bits).
func (h *Header) SetDataSegmentLength(n int) {
	h[5], h[6], h[7] = byte(n>>16), byte(n>>8), byte(n)
}

// SetTotalAHSLength stores the AHS length given in bytes (a multiple of 4).
func (h *Header) SetTotalAHSLength(n int) { h[4] = byte(n / 4) }

// LUN returns bytes 8..15 as an 8-byte SAM LUN.
func (h *Header) LUN() uint64 { return be.Uint64(h[8:16]) }

// ITT returns the Initiator Task Tag.
func (h *Header) ITT() uint32 { return be.Uint32(h[16:20]) }

// Field32 returns the big-endian 32-bit word at offset off.
func (h *Header) Field32(off int) uint32 { return be.Uint32(h[off : off+4]) }

func (h *Header) put32(off int, v uint32) { be.PutUint32(h[off:off+4], v) }
func (h *Header) get32(off int) uint32    { return be.Uint32(h[off : off+4]) }
func (h *Header) put16(off int, v uint16) { be.PutUint16(h[off:off+2], v) }
func (h *Header) get16(off int) uint16    { return be.Uint16(h[off : off+2]) }
func (h *Header) put64(off int, v uint64) { be.PutUint64(h[off:off+8], v) }
func (h *Header) get64(off int) uint64    { return be.Uint64(h[off : off+8]) }

// start resets h and writes opcode, immediate bit and byte 1.
func (h *Header) start(op Opcode, immediate bool, b1 byte) {
	*h = Header{}
	h[0] = byte(op)
	if immediate {
		h[0] |= 0x40
	}
	h[1] = b1
}

func flag(b bool, v byte) byte {
	if b {
		return v
	}
	return 0
}
