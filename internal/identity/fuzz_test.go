package identity

import (
	"bytes"
	"testing"
)

// FuzzResolve: any spec resolves to a valid identity or to an error —
// never a panic — and a resolved identity encodes into well-formed VPD
// 0x83 designators and has a WWID.
func FuzzResolve(f *testing.F) {
	f.Add("lio", "633c5643", "", "", "", "", uint32(0), []byte(nil), []byte(nil), uint32(0), uint64(0), "")
	f.Add("tgt", "beaf11", "IET", "VIRTUAL-DISK", "0001", "IET     00010001", uint32(0), []byte(nil), []byte(nil), uint32(1), uint64(1), "")
	f.Add("scst", "b8fdbd32", "", "disk1", "360 ", "b8fdbd32-disk1", uint32(0), []byte{0x60, 1, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12}, []byte(nil), uint32(0), uint64(0), "")
	f.Add("iet", "SN0001", "", "", "", "", uint32(0), []byte(nil), []byte(nil), uint32(0), uint64(3), "iqn.2001-04.com.example:a")
	f.Add("halun", "x", "ACME", "", "", "", uint32(0xabcdef), []byte(nil), []byte{1, 2, 3, 4, 5, 6, 7, 8}, uint32(0), uint64(0), "")
	f.Fuzz(func(t *testing.T, style, serial, vendor, product, revision, devID string, company uint32, naa, eui []byte, tid uint32, lun uint64, target string) {
		id, err := Resolve(Spec{Style: Style(style), Serial: serial, Vendor: vendor, Product: product, Revision: revision,
			DeviceID: devID, CompanyID: company, NAA: naa, EUI64: eui, TID: tid, LUN: lun, Target: target})
		if err != nil {
			return
		}
		if err := id.Validate(); err != nil {
			t.Fatalf("Resolve gave an invalid identity: %v", err)
		}
		b := id.AppendDesignators(nil)
		n := 0
		for d := b; len(d) > 0; n++ {
			if len(d) < 4 || 4+int(d[3]) > len(d) || d[1]&0x30 != 0 {
				t.Fatalf("malformed designator list % x", b)
			}
			d = d[4+int(d[3]):]
		}
		if n != len(id.Designators) || id.WWID() == "" {
			t.Fatalf("%d designators encoded, %d in the identity; WWID %q", n, len(id.Designators), id.WWID())
		}
		again, err := Resolve(Spec{Style: Style(style), Serial: serial, Vendor: vendor, Product: product, Revision: revision,
			DeviceID: devID, CompanyID: company, NAA: naa, EUI64: eui, TID: tid, LUN: lun, Target: target})
		if err != nil || !again.Equal(id) || !bytes.Equal(again.AppendDesignators(nil), b) {
			t.Fatal("Resolve is not deterministic")
		}
	})
}
