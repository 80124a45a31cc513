package identity

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// tgt's identity (fujita/tgt, usr/spc.c spc_lu_init, update_vpd_80,
// update_vpd_83, spc_inquiry; usr/sbc.c; usr/tgtd.h).
const (
	TGTVendor   = "IET"          // tgtd.h VENDOR_ID
	TGTProduct  = "VIRTUAL-DISK" // sbc.c sbc_lu_init
	TGTRevision = "0001"         // spc.c spc_lu_init
	tgtIDLen    = 36             // tgtd.h SCSI_ID_LEN
	tgtSNLen    = 36             // tgtd.h SCSI_SN_LEN
)

// TGTDefaultDeviceID is the scsi_id tgt gives LUN lun of target tid when
// none is set: "IET     %04x%04" PRIx64 (spc_lu_init).
func TGTDefaultDeviceID(tid uint32, lun uint64) string {
	return fmt.Sprintf("IET     %04x%04x", tid, lun)
}

// TGTDefaultSerial is the scsi_sn tgt gives LUN lun of target tid when none
// is set: "beaf%d%" PRIu64 (spc_lu_init).
func TGTDefaultSerial(tid uint32, lun uint64) string {
	return fmt.Sprintf("beaf%d%d", tid, lun)
}

// tgt: standard INQUIRY "IET" / "VIRTUAL-DISK" / "0001"; VPD 0x80 the
// scsi_sn right-aligned in 36 bytes of spaces (update_vpd_80); VPD 0x83
// three designators (update_vpd_83):
//   - T10 vendor ID, ASCII, 36 bytes: the scsi_id, NUL padded (strncpy);
//   - NAA 3h (locally assigned), 8 bytes: tid << 32 | lun with 3h ORed
//     into the top nibble (numeric_id);
//   - NAA 6h, 16 bytes: every character of the scsi_id taken as one hex
//     digit (strtoul of a one-character string: 0 for a non-hex
//     character), shifted in from the right as a 128-bit number, then the
//     top nibble set to 6h.
func tgt(s Spec) (Identity, error) {
	if s.CompanyID != 0 || s.DeviceIDBytes != nil {
		return Identity{}, fmt.Errorf("identity: style tgt takes no company ID and no device_id_hex")
	}
	devID := s.DeviceID
	if devID == "" {
		devID = TGTDefaultDeviceID(s.TID, s.LUN)
	}
	if len(devID) > tgtIDLen || strings.IndexByte(devID, 0) >= 0 {
		return Identity{}, fmt.Errorf("identity: tgt scsi_id %q: at most %d characters", devID, tgtIDLen)
	}
	if len(s.Serial) > tgtSNLen {
		return Identity{}, fmt.Errorf("identity: tgt scsi_sn %q: at most %d characters", s.Serial, tgtSNLen)
	}
	id := Identity{Vendor: TGTVendor, Product: TGTProduct, Revision: TGTRevision,
		UnitSerial: strings.Repeat(" ", tgtSNLen-len(s.Serial)) + s.Serial}

	t10 := make([]byte, tgtIDLen)
	copy(t10, devID)

	local := make([]byte, 8)
	binary.BigEndian.PutUint64(local, uint64(s.TID)<<32|s.LUN)
	local[0] |= 0x30

	var a, b uint64
	for i := 0; i < len(devID); i++ {
		v, _ := hexValue(devID[i])
		b = b<<4 | a>>60
		a = a<<4 | uint64(v)
	}
	ext := make([]byte, 16)
	binary.BigEndian.PutUint64(ext, b)
	binary.BigEndian.PutUint64(ext[8:], a)
	ext[0] = ext[0]&0x0f | 0x60

	id.Designators = s.explicit([]Designator{
		{CodeSet: CodeSetASCII, Type: TypeT10Vendor, Value: t10},
		{CodeSet: CodeSetBinary, Type: TypeNAA, Value: local},
		{CodeSet: CodeSetBinary, Type: TypeNAA, Value: ext},
	})
	return id, nil
}
