package identity

import "fmt"

// LIO's identity (Linux drivers/target: target_core_device.c
// target_alloc_device for the defaults; target_core_spc.c
// spc_emulate_inquiry_std, spc_emulate_evpd_80, spc_emulate_evpd_83 and
// spc_gen_naa_6h_vendor_specific; target_core_iblock.h, _file.h, _rd.h
// for the product and revision of each backstore).
const (
	LIOVendor   = "LIO-ORG"
	LIOProduct  = "IBLOCK" // iblock; fileio is "FILEIO", rd_mcp "RAMDISK-MCP"
	LIORevision = "4.0"    // IBLOCK_VERSION, FD_VERSION, RD_MCP_VERSION
)

// lio: as Linux 5.0 and later build it. Standard INQUIRY "LIO-ORG" and
// the backstore's product and revision, space padded. VPD 0x80 the
// vpd_unit_serial followed by a NUL, which the page length counts. VPD
// 0x83, logical-unit designators in this order:
//   - NAA 6h: the company ID (0x001405 unless wwn/company_id says
//     otherwise), then the first 25 hexadecimal digits of the serial,
//     every other character skipped, zero padded;
//   - T10 vendor ID, ASCII: the vendor padded to 8 bytes with spaces, the
//     product unpadded, ":", the serial, a NUL;
//   - logical unit group 0 (default_lu_gp, which every iblock, fileio
//     and rd_mcp device joins).
//
// Kernels before 5.0 sent "LIO-ORG" NUL-terminated in the T10 vendor ID
// designator's vendor field; the NAA, which Linux, VMware and XenServer
// name the disk by, is the same in every kernel since 3.1 (docs).
func lio(s Spec) (Identity, error) {
	if s.DeviceID != "" || s.DeviceIDBytes != nil || s.VendorSpecificID != "" {
		return Identity{}, fmt.Errorf("identity: style lio takes no device ID: LIO derives every designator from the serial")
	}
	id := Identity{Vendor: LIOVendor, Product: LIOProduct, Revision: LIORevision, UnitSerial: s.Serial + "\x00"}
	if s.Vendor != "" {
		id.Vendor = s.Vendor
	}
	if s.Product != "" {
		id.Product = s.Product
	}
	company := s.CompanyID
	if company == 0 {
		company = DefaultCompanyID
	}
	t10 := pad(id.Vendor, maxVendor) + id.Product + ":" + s.Serial + "\x00"
	if len(t10) > maxDesignator {
		return Identity{}, fmt.Errorf("identity: style lio: product and serial too long for the T10 vendor ID designator (%d bytes; at most %d)", len(t10), maxDesignator)
	}
	id.Designators = s.explicit([]Designator{
		{CodeSet: CodeSetBinary, Type: TypeNAA, Value: naa6(company, hexNibbles(s.Serial))},
		{CodeSet: CodeSetASCII, Type: TypeT10Vendor, Value: []byte(t10)},
		{CodeSet: CodeSetBinary, Type: TypeLUGroup, Value: []byte{0, 0, 0, 0}},
	})
	return id, nil
}
