package pdu

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the iSCSI digest (CRC32C, RFC 7143 §13.1) of the given byte
// slices taken as one stream.
func CRC32C(parts ...[]byte) uint32 {
	var c uint32
	for _, p := range parts {
		c = crc32.Update(c, castagnoli, p)
	}
	return c
}

// putDigest stores a digest in wire order: iSCSI sends the CRC32C least
// significant byte first (RFC 7143 Appendix B.4 test vectors).
func putDigest(b []byte, c uint32) { binary.LittleEndian.PutUint32(b, c) }

func getDigest(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

var zeroPad [4]byte

// pad returns the number of padding bytes after a segment of n bytes.
func pad(n int) int { return (4 - n%4) % 4 }
