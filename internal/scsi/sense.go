package scsi

// Sense keys (SPC-4 4.5.6).
const (
	keyNoSense        = 0x0
	keyRecoveredError = 0x1
	keyNotReady       = 0x2
	keyMediumError    = 0x3
	keyHardwareError  = 0x4
	keyIllegalRequest = 0x5
	keyUnitAttention  = 0x6
	keyDataProtect    = 0x7
	keyAbortedCommand = 0xb
	keyMiscompare     = 0xe
)

// Additional sense codes and qualifiers, ASC<<8 | ASCQ (SPC-4 D.2).
const (
	ascNone                      = 0x0000
	ascNotReadyInitCmdRequired   = 0x0402
	ascWriteError                = 0x0c00
	ascInvalidFieldInCommandIU   = 0x0e03
	ascUnrecoveredReadError      = 0x1100
	ascParameterListLengthError  = 0x1a00
	ascMiscompareDuringVerify    = 0x1d00
	ascInvalidOpcode             = 0x2000
	ascLBAOutOfRange             = 0x2100
	ascInvalidFieldInCDB         = 0x2400
	ascLUNotSupported            = 0x2500
	ascInvalidFieldInParamList   = 0x2600
	ascWriteProtected            = 0x2700
	ascSoftwareWriteProtected    = 0x2702
	ascSpaceAllocFailedWP        = 0x2707
	ascPowerOnResetOccurred      = 0x2900
	ascBusDeviceResetOccurred    = 0x2903
	ascModeParametersChanged     = 0x2a01
	ascCapacityDataChanged       = 0x2a09
	ascSavingParamsNotSupported  = 0x3900
	ascMediumNotPresent          = 0x3a00
	ascInternalTargetFailure     = 0x4400
	ascMediumRemovalPrevented    = 0x5302
	ascInsufficientRegResources  = 0x5504
	ascReportedLUNsDataChanged   = 0x3f0e
	ascInquiryDataHasChanged     = 0x3f03
	ascCommandsClearedByOther    = 0x2f00
	ascInvalidReleaseOfPR        = 0x2604
	ascReservationsPreempted     = 0x2a03
	ascReservationsReleased      = 0x2a04
	ascRegistrationsPreempted    = 0x2a05
	ascLogicalUnitNotReadyManual = 0x0403
)

// sense is the content of one sense data report, independent of format.
type sense struct {
	key uint8
	asc uint16
	// info is the INFORMATION field, reported when infoValid.
	info      uint64
	infoValid bool
	// sks is the SENSE KEY SPECIFIC field (SPC-4 4.5.2.4) with SKSV set,
	// reported when its first byte is non-zero.
	sks [3]byte
}

// fieldPointer builds the sense key specific field pointer (SPC-4
// 4.5.2.4.2) for an invalid field at byte off, bit bit (bit < 0: no bit
// pointer) of the CDB (cdb) or of the parameter data.
func fieldPointer(cdb bool, off int, bit int) [3]byte {
	b0 := byte(0x80)
	if cdb {
		b0 |= 0x40
	}
	if bit >= 0 && bit < 8 {
		b0 |= 0x08 | byte(bit)
	}
	if off < 0 || off > 0xffff {
		off = 0xffff
	}
	return [3]byte{b0, byte(off >> 8), byte(off)}
}

// encode returns the sense data in descriptor format (SPC-4 4.5.2) if desc,
// else in fixed format (SPC-4 4.5.3), both for current errors.
func (s sense) encode(desc bool) []byte {
	if desc {
		n := 8
		if s.infoValid {
			n += 12
		}
		if s.sks[0] != 0 {
			n += 8
		}
		b := make([]byte, n)
		b[0] = 0x72
		b[1] = s.key & 0x0f
		b[2] = byte(s.asc >> 8)
		b[3] = byte(s.asc)
		b[7] = byte(n - 8)
		p := 8
		if s.infoValid {
			b[p] = 0x00 // information descriptor
			b[p+1] = 0x0a
			b[p+2] = 0x80 // VALID
			put64(b[p+4:], s.info)
			p += 12
		}
		if s.sks[0] != 0 {
			b[p] = 0x02 // sense key specific descriptor
			b[p+1] = 0x06
			copy(b[p+4:], s.sks[:])
		}
		return b
	}
	b := make([]byte, 18)
	b[0] = 0x70
	if s.infoValid {
		b[0] |= 0x80
		// The fixed format INFORMATION field has four bytes; larger
		// values are reported saturated (SPC-4 4.5.3).
		v := s.info
		if v > 0xffffffff {
			v = 0xffffffff
		}
		put32(b[3:], uint32(v))
	}
	b[2] = s.key & 0x0f
	b[7] = 10
	b[12] = byte(s.asc >> 8)
	b[13] = byte(s.asc)
	copy(b[15:], s.sks[:])
	return b
}

// checkCondition is a CHECK CONDITION result carrying s.
func checkCondition(s sense, desc bool) Result {
	return Result{Status: StatusCheckCondition, Sense: s.encode(desc)}
}

// TransportSense is fixed format sense data for a condition the transport
// detects itself (a digest error, a data phase error), from the encoder
// every CHECK CONDITION uses.
func TransportSense(key, asc, ascq uint8) []byte {
	return sense{key: key, asc: uint16(asc)<<8 | uint16(ascq)}.encode(false)
}
