package identity

import (
	"encoding/hex"
	"strings"
	"testing"
)

// golden is one identity as a target's source computes it: the inputs,
// and the bytes an initiator receives — standard INQUIRY bytes 8..35,
// the VPD 0x80 PRODUCT SERIAL NUMBER field, the logical-unit designators
// of VPD 0x83 (as sent, headers included) — and the name Linux gives the
// disk.
type golden struct {
	name   string
	source string // where the expected bytes come from
	spec   Spec
	inq    string // vendor(8) product(16) revision(4), as sent
	vpd80  string // hex
	vpd83  string // hex, logical-unit designators only
	wwid   string
}

func hx(parts ...string) string { return strings.Join(parts, "") }

// asciiHex is s in hex, NUL padded to n bytes.
func asciiHex(s string, n int) string {
	b := make([]byte, n)
	copy(b, s)
	return hex.EncodeToString(b)
}

func checkGolden(t *testing.T, cases []golden) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := Resolve(c.spec)
			if err != nil {
				t.Fatalf("%s: %v", c.source, err)
			}
			if got := pad(id.Vendor, 8) + pad(id.Product, 16) + pad(id.Revision, 4); got != c.inq {
				t.Errorf("standard INQUIRY %q, want %q (%s)", got, c.inq, c.source)
			}
			if got := hex.EncodeToString([]byte(id.UnitSerial)); got != c.vpd80 {
				t.Errorf("VPD 0x80 %s\n                   want %s (%s)", got, c.vpd80, c.source)
			}
			if got := hex.EncodeToString(id.AppendDesignators(nil)); got != c.vpd83 {
				t.Errorf("VPD 0x83 LU designators\n got %s\nwant %s (%s)", got, c.vpd83, c.source)
			}
			if got := id.WWID(); got != c.wwid {
				t.Errorf("WWID %s, want %s", got, c.wwid)
			}
		})
	}
}

// TestGoldenHalun pins halun's own scheme: volumes already deployed are
// named by it.
func TestGoldenHalun(t *testing.T) {
	checkGolden(t, []golden{
		{
			name: "uuid serial", source: "halun 0.x internal/scsi/vpd.go naa6 (first 25 hex digits of the serial)",
			spec:  Spec{Serial: "633c5643-9a1b-4c2d-8e3f-0123456789ab"},
			inq:   "HALUN   halun disk      0001",
			vpd80: hex.EncodeToString([]byte("633c5643-9a1b-4c2d-8e3f-0123456789ab")),
			vpd83: hx("01030010", "6001405633c56439a1b4c2d8e3f01234",
				"0201002c", hex.EncodeToString([]byte("HALUN   633c5643-9a1b-4c2d-8e3f-0123456789ab"))),
			wwid: "36001405633c56439a1b4c2d8e3f01234",
		},
		{
			name: "short serial is hashed", source: "halun 0.x: SHA-256(vendor NUL product NUL serial), pinned since the first release",
			spec:  Spec{Serial: "disk-a"},
			inq:   "HALUN   halun disk      0001",
			vpd80: hex.EncodeToString([]byte("disk-a")),
			vpd83: hx("01030010", "60014059e1c4864940e1d0b0df724fea",
				"0201000e", hex.EncodeToString([]byte("HALUN   disk-a"))),
			wwid: "360014059e1c4864940e1d0b0df724fea",
		},
	})
}

// TestGoldenTGT pins style tgt against pages captured from tgtd 1.0.85
// (Debian 12) — the source is fujita/tgt usr/spc.c spc_lu_init,
// update_vpd_80, update_vpd_83 and spc_inquiry — and test/tgt checks
// them against a live tgtd on every run.
func TestGoldenTGT(t *testing.T) {
	rawsn := func(sn string) string { return hex.EncodeToString([]byte(strings.Repeat(" ", 36-len(sn)) + sn)) }
	checkGolden(t, []golden{
		{
			name: "defaults tid 1 lun 1", source: "tgtd 1.0.85, tid 1 LUN 1, no params",
			spec:  Spec{Style: StyleTGT, Serial: "beaf11", TID: 1, LUN: 1},
			inq:   "IET     VIRTUAL-DISK    0001",
			vpd80: rawsn("beaf11"),
			vpd83: hx("02010024", asciiHex("IET     00010001", 36),
				"01030008", "3000000100000001",
				"01030010", "60000000000000000e00000000010001"),
			wwid: "360000000000000000e00000000010001",
		},
		{
			name: "scsi_id and scsi_sn set, tid 3", source: "tgtd 1.0.85, tid 3 LUN 1, --params scsi_id=myid01,scsi_sn=SN0001",
			spec:  Spec{Style: StyleTGT, Serial: "SN0001", DeviceID: "myid01", TID: 3, LUN: 1},
			inq:   "IET     VIRTUAL-DISK    0001",
			vpd80: rawsn("SN0001"),
			vpd83: hx("02010024", asciiHex("myid01", 36),
				"01030008", "3000000300000001",
				"01030010", "60000000000000000000000000000d01"),
			wwid: "360000000000000000000000000000d01",
		},
		{
			name: "vendor product revision", source: "tgtd 1.0.85, tid 4 LUN 1, --params vendor_id=ACME,product_id=WIDGET,product_rev=1.2",
			spec:  Spec{Style: StyleTGT, Serial: "beaf41", TID: 4, LUN: 1, Vendor: "ACME", Product: "WIDGET", Revision: "1.2"},
			inq:   "ACME    WIDGET          1.2 ",
			vpd80: rawsn("beaf41"),
			vpd83: hx("02010024", asciiHex("IET     00040001", 36),
				"01030008", "3000000400000001",
				"01030010", "60000000000000000e00000000040001"),
			wwid: "360000000000000000e00000000040001",
		},
		{
			name: "tid 16 lun 300", source: "tgtd 1.0.85, tid 16 LUN 300, no params",
			spec:  Spec{Style: StyleTGT, Serial: "beaf16300", TID: 16, LUN: 300},
			inq:   "IET     VIRTUAL-DISK    0001",
			vpd80: rawsn("beaf16300"),
			vpd83: hx("02010024", asciiHex("IET     0010012c", 36),
				"01030008", "300000100000012c",
				"01030010", "60000000000000000e0000000010012c"),
			wwid: "360000000000000000e0000000010012c",
		},
		{
			name: "36-character scsi_id and scsi_sn", source: "tgtd 1.0.85, tid 16 LUN 1, longest scsi_id and scsi_sn",
			spec: Spec{Style: StyleTGT, Serial: "SERIAL-0123456789-0123456789-0123456",
				DeviceID: "0123456789abcdefABCDEF0123456789abcd", TID: 16, LUN: 1},
			inq:   "IET     VIRTUAL-DISK    0001",
			vpd80: hex.EncodeToString([]byte("SERIAL-0123456789-0123456789-0123456")),
			vpd83: hx("02010024", hex.EncodeToString([]byte("0123456789abcdefABCDEF0123456789abcd")),
				"01030008", "3000001000000001",
				"01030010", "656789abcdefabcdef0123456789abcd"),
			wwid: "3656789abcdefabcdef0123456789abcd",
		},
	})
}

// TestGoldenLIO pins style lio against Linux's drivers/target
// (target_core_spc.c spc_emulate_inquiry_std, spc_emulate_evpd_80,
// spc_emulate_evpd_83, spc_gen_naa_6h_vendor_specific;
// target_core_device.c target_alloc_device; target_core_iblock.h
// IBLOCK_VERSION), kernel 5.14 and later.
func TestGoldenLIO(t *testing.T) {
	t10 := func(vendor, model, serial string) string {
		v := []byte(pad(vendor, 8) + model + ":" + serial + "\x00")
		return hex.EncodeToString([]byte{0x02, 0x01, 0x00, byte(len(v))}) + hex.EncodeToString(v)
	}
	const lugp = "0106000400000000"
	checkGolden(t, []golden{
		{
			name: "the write-up's scsi_sn=633c5643", source: "iSCSILogicalUnit implementation=lio-t scsi_sn=633c5643 on iblock",
			spec:  Spec{Style: StyleLIO, Serial: "633c5643"},
			inq:   "LIO-ORG IBLOCK          4.0 ",
			vpd80: hex.EncodeToString([]byte("633c5643\x00")),
			vpd83: hx("01030010", "6001405633c564300000000000000000", t10("LIO-ORG", "IBLOCK", "633c5643"), lugp),
			wwid:  "36001405633c564300000000000000000",
		},
		{
			name: "targetcli UUID serial", source: "rtslib generate_wwn('unit_serial') = uuid4, iblock",
			spec:  Spec{Style: StyleLIO, Serial: "fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a"},
			inq:   "LIO-ORG IBLOCK          4.0 ",
			vpd80: hex.EncodeToString([]byte("fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a\x00")),
			vpd83: hx("01030010", "6001405fc9f4f4e7a5b4b0a9d4f1f9e6", t10("LIO-ORG", "IBLOCK", "fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a"), lugp),
			wwid:  "36001405fc9f4f4e7a5b4b0a9d4f1f9e6",
		},
		{
			name: "seen in the field", source: "an OpenStack Cinder LIO volume whose udev log shows ID_SERIAL=360014055b9485a9d4314afc92a5e3b12",
			spec:  Spec{Style: StyleLIO, Serial: "5b9485a9-d431-4afc-92a5-e3b1222dbae9"},
			inq:   "LIO-ORG IBLOCK          4.0 ",
			vpd80: hex.EncodeToString([]byte("5b9485a9-d431-4afc-92a5-e3b1222dbae9\x00")),
			vpd83: hx("01030010", "60014055b9485a9d4314afc92a5e3b12", t10("LIO-ORG", "IBLOCK", "5b9485a9-d431-4afc-92a5-e3b1222dbae9"), lugp),
			wwid:  "360014055b9485a9d4314afc92a5e3b12",
		},
		{
			name: "fileio", source: "target_core_file.c fileio_ops inquiry_prod FILEIO",
			spec:  Spec{Style: StyleLIO, Serial: "633c5643", Product: "FILEIO"},
			inq:   "LIO-ORG FILEIO          4.0 ",
			vpd80: hex.EncodeToString([]byte("633c5643\x00")),
			vpd83: hx("01030010", "6001405633c564300000000000000000", t10("LIO-ORG", "FILEIO", "633c5643"), lugp),
			wwid:  "36001405633c564300000000000000000",
		},
		{
			name: "Pacemaker default serial of lu_db", source: "iSCSILogicalUnit: scsi_sn = md5(lu_db)[:8] = 49975694",
			spec:  Spec{Style: StyleLIO, Serial: "49975694"},
			inq:   "LIO-ORG IBLOCK          4.0 ",
			vpd80: hex.EncodeToString([]byte("49975694\x00")),
			vpd83: hx("01030010", "60014054997569400000000000000000", t10("LIO-ORG", "IBLOCK", "49975694"), lugp),
			wwid:  "360014054997569400000000000000000",
		},
		{
			name: "company_id and product_id", source: "wwn/company_id 0xabcdef, wwn/product_id db-disk (kernel 5.14+)",
			spec:  Spec{Style: StyleLIO, Serial: "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", CompanyID: 0xabcdef, Product: "db-disk"},
			inq:   "LIO-ORG db-disk         4.0 ",
			vpd80: hex.EncodeToString([]byte("6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\x00")),
			vpd83: hx("01030010", "6abcdef6f1e2d3c4b5a69788796a5b4c", t10("LIO-ORG", "db-disk", "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), lugp),
			wwid:  "36abcdef6f1e2d3c4b5a69788796a5b4c",
		},
	})
}

// TestGoldenSCST pins style scst against SCST's scst_vdisk.c
// (vdev_create_node, vdisk_gen_dev_id_num, vdisk_inq, vdisk_usn_vpd,
// vdisk_dev_id_vpd) for a vdisk_blockio device "disk1", setup_id 0,
// SCST 3.6 (prod_rev_lvl "360 ").
func TestGoldenSCST(t *testing.T) {
	t10 := func(vs string) string {
		v := []byte("SCST_BIO" + vs)
		return hex.EncodeToString([]byte{0x02, 0x01, 0x00, byte(len(v))}) + hex.EncodeToString(v)
	}
	naa6, _ := hex.DecodeString("6001405abcdef0123456789abcdef012")
	naa5, _ := hex.DecodeString("5001405abcdef012")
	eui, _ := hex.DecodeString("0014050123456789")
	base := Spec{Style: StyleSCST, Serial: "b8fdbd32", Product: "disk1", Revision: "360 "}
	with := func(f func(*Spec)) Spec { s := base; f(&s); return s }
	checkGolden(t, []golden{
		{
			name: "defaults", source: "usn = %llx of crc32c(\"disk1\\0\") = b8fdbd32; t10_dev_id b8fdbd32-disk1; EUI-64 its first 8 bytes",
			spec:  with(func(s *Spec) { s.DeviceID = "b8fdbd32-disk1" }),
			inq:   "SCST_BIOdisk1           360 ",
			vpd80: hex.EncodeToString([]byte("b8fdbd32")),
			vpd83: hx(t10("b8fdbd32-disk1"), "01020008", hex.EncodeToString([]byte("b8fdbd32"))),
			wwid:  "26238666462643332",
		},
		{
			name: "t10_dev_id set later", source: "t10_dev_id disk1-12345678: the EUI-64 follows it, vend_specific_id keeps the generated value",
			spec:  with(func(s *Spec) { s.DeviceID = "disk1-12345678"; s.VendorSpecificID = "b8fdbd32-disk1" }),
			inq:   "SCST_BIOdisk1           360 ",
			vpd80: hex.EncodeToString([]byte("b8fdbd32")),
			vpd83: hx(t10("b8fdbd32-disk1"), "01020008", hex.EncodeToString([]byte("disk1-12"))),
			wwid:  "26469736b312d3132",
		},
		{
			name: "naa_id 6h replaces the EUI-64", source: "naa_id 0x6001405abcdef0123456789abcdef012",
			spec:  with(func(s *Spec) { s.DeviceID = "b8fdbd32-disk1"; s.NAA = naa6 }),
			inq:   "SCST_BIOdisk1           360 ",
			vpd80: hex.EncodeToString([]byte("b8fdbd32")),
			vpd83: hx(t10("b8fdbd32-disk1"), "01030010", "6001405abcdef0123456789abcdef012"),
			wwid:  "36001405abcdef0123456789abcdef012",
		},
		{
			name: "eui64_id and naa_id 5h, usn", source: "eui64_id 0x0014050123456789, naa_id 0x5001405abcdef012, usn SN0001",
			spec: with(func(s *Spec) {
				s.Serial, s.DeviceID, s.EUI64, s.NAA = "SN0001", "b8fdbd32-disk1", eui, naa5
			}),
			inq:   "SCST_BIOdisk1           360 ",
			vpd80: hex.EncodeToString([]byte("SN0001")),
			vpd83: hx(t10("b8fdbd32-disk1"), "01020008", "0014050123456789", "01030008", "5001405abcdef012"),
			wwid:  "35001405abcdef012",
		},
	})
}

// TestGoldenIET pins style iet against iscsitarget 1.4.20.3
// (kernel/target_disk.c build_inquiry_response and the VPD 0x80 and 0x83
// builders; kernel/volume.c gen_scsiid, set_scsiid, set_scsisn).
func TestGoldenIET(t *testing.T) {
	rawsn := func(sn string, w int) string { return hex.EncodeToString([]byte(strings.Repeat(" ", w-len(sn)) + sn)) }
	checkGolden(t, []golden{
		{
			name: "ScsiId and ScsiSN", source: "Lun 0 Path=…,Type=blockio,ScsiId=db0001,ScsiSN=SN0001",
			spec:  Spec{Style: StyleIET, Serial: "SN0001", DeviceID: "db0001"},
			inq:   "IET     VIRTUAL-DISK    0   ",
			vpd80: rawsn("SN0001", 16),
			vpd83: hx("01010018", "4945540000000000", asciiHex("db0001", 16)),
			wwid:  "1494554000000000064623030303100000000000000000000",
		},
		{
			name: "defaults from target and LUN", source: "gen_scsiid: md5(iqn.2001-04.com.example:storage.disk1, LUN 0 as u32 LE); ScsiSN its hex",
			spec:  Spec{Style: StyleIET, Serial: "2d4e7d2c3d99300f1c872d1f484f5a77", Target: "iqn.2001-04.com.example:storage.disk1", LUN: 0},
			inq:   "IET     VIRTUAL-DISK    0   ",
			vpd80: hex.EncodeToString([]byte("2d4e7d2c3d99300f1c872d1f484f5a77")),
			vpd83: hx("01010018", "4945540000000000", "2d4e7d2c3d99300f1c872d1f484f5a77"),
			wwid:  "149455400000000002d4e7d2c3d99300f1c872d1f484f5a77",
		},
		{
			name: "LUN 1 default", source: "gen_scsiid for LUN 1 of the same target",
			spec:  Spec{Style: StyleIET, Serial: "SN1", Target: "iqn.2001-04.com.example:storage.disk1", LUN: 1},
			inq:   "IET     VIRTUAL-DISK    0   ",
			vpd80: rawsn("SN1", 16),
			vpd83: hx("01010018", "4945540000000000", "39fa9126abde6ae74f7d8a99ae9256b6"),
			wwid:  "1494554000000000039fa9126abde6ae74f7d8a99ae9256b6",
		},
		{
			name: "IET 1.4.19 binary default ScsiId", source: "1.4.19 gen_scsiid: u32 target_type 0, tid 1, inode 0x1234, s_dev 0x801, little endian; read from the old host",
			spec:  Spec{Style: StyleIET, Serial: "SN2", DeviceIDBytes: []byte{0, 0, 0, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0, 1, 8, 0, 0}},
			inq:   "IET     VIRTUAL-DISK    0   ",
			vpd80: rawsn("SN2", 16),
			vpd83: hx("01010018", "4945540000000000", "00000000010000003412000001080000"),
			wwid:  "1494554000000000000000000010000003412000001080000",
		},
		{
			name: "ScsiSN longer than 16", source: "build_vpd_80: a 32-byte field for serials of 17..32 characters",
			spec:  Spec{Style: StyleIET, Serial: "SERIAL-0123456789-X", DeviceID: "0123456789abcdef"},
			inq:   "IET     VIRTUAL-DISK    0   ",
			vpd80: rawsn("SERIAL-0123456789-X", 32),
			vpd83: hx("01010018", "4945540000000000", hex.EncodeToString([]byte("0123456789abcdef"))),
			wwid:  "1494554000000000030313233343536373839616263646566",
		},
	})
}
