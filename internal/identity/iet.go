package identity

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// IET's identity (iscsitarget 1.4.20, kernel/target_disk.c
// build_inquiry_response, build_vpd_80 and build_vpd_83 — inquiry and
// VPD handlers of disk_execute_cmnd; kernel/volume.c volume_add,
// gen_scsiid, set_scsiid, set_scsisn; kernel/iscsi.h; include/iet_u.h).
const (
	IETVendor   = "IET"
	IETProduct  = "VIRTUAL-DISK"
	IETRevision = "0"
	ietIDLen    = 16 // SCSI_ID_LEN
	ietSNLen    = 32 // SCSI_SN_LEN
)

// IETDefaultDeviceID is the ScsiId IET 1.4.20 gives LUN lun of target
// iqn when ietd.conf sets none: MD5 of the target name followed by the
// LUN as a 32-bit little-endian number (gen_scsiid), 16 raw bytes.
func IETDefaultDeviceID(iqn string, lun uint32) []byte {
	h := md5.New()
	h.Write([]byte(iqn))
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], lun)
	h.Write(l[:])
	return h.Sum(nil)
}

// IETDefaultSerial is the ScsiSN IET 1.4.20 gives a LUN when ietd.conf
// sets none: the 16 bytes of its ScsiId in lower-case hex (volume_add).
func IETDefaultSerial(scsiID []byte) string {
	b := make([]byte, ietIDLen)
	copy(b, scsiID)
	return hex.EncodeToString(b)
}

// iet: standard INQUIRY "IET" / "VIRTUAL-DISK" / "0", which IET cannot
// change; VPD 0x80 the ScsiSN right-aligned in 16 spaces, or 32 when
// longer than 16; VPD 0x83 one designator, T10 vendor ID with code set
// binary (though its content is text): "IET" and five NULs, then the 16
// bytes of the ScsiId, NUL padded. Without a ScsiId, IET 1.4.20 used
// MD5(target name, LUN): give Target and LUN instead of DeviceID.
// (IET before 1.4.20 derived the default from the file's inode: such a
// volume needs its ScsiId read from the running target.)
func iet(s Spec) (Identity, error) {
	if s.CompanyID != 0 || s.NAA != nil || s.EUI64 != nil || s.VendorSpecificID != "" {
		return Identity{}, fmt.Errorf("identity: style iet takes only device_id (ScsiId), or target and lun")
	}
	var scsiID []byte
	switch {
	case s.DeviceIDBytes != nil:
		if len(s.DeviceIDBytes) > ietIDLen || s.DeviceID != "" {
			return Identity{}, fmt.Errorf("identity: IET ScsiId of %d bytes: at most %d, and not with device_id", len(s.DeviceIDBytes), ietIDLen)
		}
		scsiID = s.DeviceIDBytes
	case s.DeviceID != "":
		if len(s.DeviceID) > ietIDLen {
			return Identity{}, fmt.Errorf("identity: IET ScsiId %q: at most %d characters", s.DeviceID, ietIDLen)
		}
		scsiID = []byte(s.DeviceID)
	case s.Target != "":
		if s.LUN > 1<<32-1 {
			return Identity{}, fmt.Errorf("identity: IET LUN %d out of range", s.LUN)
		}
		scsiID = IETDefaultDeviceID(s.Target, uint32(s.LUN))
	default:
		return Identity{}, fmt.Errorf("identity: style iet needs device_id (the ScsiId), or target and lun to compute IET 1.4.20's default")
	}
	if len(s.Serial) > ietSNLen {
		return Identity{}, fmt.Errorf("identity: IET ScsiSN %q: at most %d characters", s.Serial, ietSNLen)
	}
	width := ietIDLen
	if len(s.Serial) > ietIDLen {
		width = ietSNLen
	}
	id := Identity{Vendor: IETVendor, Product: IETProduct, Revision: IETRevision,
		UnitSerial: strings.Repeat(" ", width-len(s.Serial)) + s.Serial}
	v := make([]byte, 8+ietIDLen)
	copy(v, IETVendor)
	copy(v[8:], scsiID)
	id.Designators = []Designator{{CodeSet: CodeSetBinary, Type: TypeT10Vendor, Value: v}}
	return id, nil
}
