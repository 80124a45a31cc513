package identity

import "fmt"

// SCST's identity (SCST-project/scst, scst/src/dev_handlers/scst_vdisk.c:
// vdev_create_node and vdisk_gen_dev_id_num for the defaults, vdisk_inq,
// vdisk_usn_vpd, vdisk_dev_id_vpd).
const (
	SCSTVendorBlockIO = "SCST_BIO" // vdisk_blockio
	SCSTVendorFileIO  = "SCST_FIO" // vdisk_fileio, vdisk_nullio
	scstMaxUSN        = 20         // MAX_USN_LEN - 1
	scstMaxDevID      = 25         // t10_dev_id
)

// scst: standard INQUIRY t10_vend_id ("SCST_BIO" for vdisk_blockio), the
// prod_id (default the device name, cut to 16) and prod_rev_lvl (which
// changes with every SCST release, so it must be given); VPD 0x80 the
// usn, unpadded; VPD 0x83, logical-unit designators in this order:
//   - T10 vendor ID, ASCII: t10_vend_id padded to 8 bytes with spaces,
//     then vend_specific_id unpadded;
//   - EUI-64: eui64_id if set; else, when naa_id is not set either, the
//     first 8 bytes of t10_dev_id (NUL padded) — SCST's compatibility
//     mode; none when only naa_id is set;
//   - NAA: naa_id, if set.
func scst(s Spec) (Identity, error) {
	if s.CompanyID != 0 || s.DeviceIDBytes != nil {
		return Identity{}, fmt.Errorf("identity: style scst takes no company ID (give naa_id as naa) and no device_id_hex")
	}
	if s.Product == "" || s.Revision == "" {
		return Identity{}, fmt.Errorf("identity: style scst needs product (SCST's prod_id, by default the device name) and revision (prod_rev_lvl, which depends on the SCST version)")
	}
	if len(s.Serial) > scstMaxUSN {
		return Identity{}, fmt.Errorf("identity: SCST usn %q: at most %d characters", s.Serial, scstMaxUSN)
	}
	if s.DeviceID == "" && s.EUI64 == nil && s.NAA == nil {
		return Identity{}, fmt.Errorf("identity: style scst needs device_id (SCST's t10_dev_id), eui64 or naa")
	}
	if len(s.DeviceID) > scstMaxDevID {
		return Identity{}, fmt.Errorf("identity: SCST t10_dev_id %q: at most %d characters", s.DeviceID, scstMaxDevID)
	}
	id := Identity{Vendor: SCSTVendorBlockIO, UnitSerial: s.Serial}
	if s.Vendor != "" {
		id.Vendor = s.Vendor
	}
	vs := s.VendorSpecificID
	if vs == "" {
		vs = s.DeviceID
	}
	t10 := pad(id.Vendor, maxVendor) + vs
	if len(t10) > maxDesignator {
		return Identity{}, fmt.Errorf("identity: SCST vend_specific_id too long (%d bytes)", len(vs))
	}
	ds := []Designator{{CodeSet: CodeSetASCII, Type: TypeT10Vendor, Value: []byte(t10)}}
	switch {
	case s.EUI64 != nil:
		ds = append(ds, Designator{CodeSet: CodeSetBinary, Type: TypeEUI64, Value: s.EUI64})
	case s.NAA == nil:
		eui := make([]byte, 8)
		copy(eui, s.DeviceID)
		ds = append(ds, Designator{CodeSet: CodeSetBinary, Type: TypeEUI64, Value: eui})
	}
	if s.NAA != nil {
		ds = append(ds, Designator{CodeSet: CodeSetBinary, Type: TypeNAA, Value: s.NAA})
	}
	id.Designators = ds
	return id, nil
}
