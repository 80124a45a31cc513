package scsi

import "encoding/binary"

// Operation codes (SPC-4 / SBC-3).
const (
	opTestUnitReady       = 0x00
	opRequestSense        = 0x03
	opRead6               = 0x08
	opWrite6              = 0x0a
	opInquiry             = 0x12
	opModeSelect6         = 0x15
	opReserve6            = 0x16
	opRelease6            = 0x17
	opModeSense6          = 0x1a
	opStartStopUnit       = 0x1b
	opPreventAllow        = 0x1e
	opReadCapacity10      = 0x25
	opRead10              = 0x28
	opWrite10             = 0x2a
	opWriteVerify10       = 0x2e
	opVerify10            = 0x2f
	opPreFetch10          = 0x34
	opSyncCache10         = 0x35
	opReadDefectData10    = 0x37
	opWriteSame10         = 0x41
	opUnmap               = 0x42
	opModeSelect10        = 0x55
	opReserve10           = 0x56
	opRelease10           = 0x57
	opModeSense10         = 0x5a
	opPersistentReserveIn = 0x5e
	opPersistentReserveOu = 0x5f
	opRead16              = 0x88
	opCompareAndWrite     = 0x89
	opWrite16             = 0x8a
	opOrWrite16           = 0x8b
	opWriteVerify16       = 0x8e
	opVerify16            = 0x8f
	opPreFetch16          = 0x90
	opSyncCache16         = 0x91
	opWriteSame16         = 0x93
	opServiceActionIn16   = 0x9e
	opReportLUNs          = 0xa0
	opMaintenanceIn       = 0xa3
	opRead12              = 0xa8
	opWrite12             = 0xaa
	opWriteVerify12       = 0xae
	opVerify12            = 0xaf
	opReadDefectData12    = 0xb7
)

// Service actions.
const (
	saReadCapacity16 = 0x10 // SERVICE ACTION IN(16)
	saGetLBAStatus   = 0x12 // SERVICE ACTION IN(16)
	saReportOpcodes  = 0x0c // MAINTENANCE IN
	saReportTMF      = 0x0d // MAINTENANCE IN
)

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func put16(b []byte, v uint16) { binary.BigEndian.PutUint16(b, v) }
func put32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }
func put64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

// cdbLength is the CDB length the operation code's group implies (SPC-4
// 4.2.5.1); 0 for groups with no fixed length.
func cdbLength(op byte) int {
	switch op >> 5 {
	case 0:
		return 6
	case 1, 2:
		return 10
	case 4:
		return 16
	case 5:
		return 12
	}
	return 0
}

// lbaRange decodes the LOGICAL BLOCK ADDRESS and the TRANSFER LENGTH (or
// NUMBER OF LOGICAL BLOCKS, PREFETCH LENGTH…) of a block command, by the
// layout the CDB's length implies. For 6-byte CDBs a length of 0 means 256
// (SBC-3 5.12, 5.34); callers where 0 means 0 do not use 6-byte CDBs.
func lbaRange(cdb []byte) (lba uint64, n uint32, lenByte int) {
	switch cdbLength(cdb[0]) {
	case 6:
		lba = uint64(cdb[1]&0x1f)<<16 | uint64(cdb[2])<<8 | uint64(cdb[3])
		n = uint32(cdb[4])
		if n == 0 {
			n = 256
		}
		return lba, n, 4
	case 10:
		return uint64(be32(cdb[2:])), uint32(be16(cdb[7:])), 7
	case 12:
		return uint64(be32(cdb[2:])), be32(cdb[6:]), 6
	default:
		return be64(cdb[2:]), be32(cdb[10:]), 10
	}
}

// truncate cuts data-in to the ALLOCATION LENGTH (SPC-4 4.2.5.6).
func truncate(b []byte, alloc int) []byte {
	if len(b) > alloc {
		return b[:alloc]
	}
	return b
}

// padASCII copies s into dst, padding with spaces (SPC-4 4.4.1) and
// replacing characters outside 0x20..0x7e.
func padASCII(dst []byte, s string) {
	for i := range dst {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
			if c < 0x20 || c > 0x7e {
				c = '_'
			}
		}
		dst[i] = c
	}
}

// saturate32 converts a byte count to the uint32 of Result.DataOutLength.
func saturate32(v uint64) uint32 {
	if v > 0xffffffff {
		return 0xffffffff
	}
	return uint32(v)
}
