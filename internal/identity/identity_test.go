package identity

import (
	"strings"
	"testing"
)

// TestWWIDSelection follows scsi_id's id_search_list: NAA 6h before NAA
// 5h, any NAA before EUI-64, EUI-64 before T10 vendor ID, binary before
// ASCII; ASCII designators end at a NUL; white space becomes "_" as in
// udev's ID_SERIAL and XenServer's SCSIid; without a designator, VPD 0x80.
func TestWWIDSelection(t *testing.T) {
	t10 := Designator{CodeSet: CodeSetASCII, Type: TypeT10Vendor, Value: []byte("LIO-ORG IBLOCK:633c5643\x00")}
	eui := Designator{CodeSet: CodeSetBinary, Type: TypeEUI64, Value: []byte{0, 0x14, 5, 1, 2, 3, 4, 5}}
	naa5 := Designator{CodeSet: CodeSetBinary, Type: TypeNAA, Value: []byte{0x50, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12}}
	naa3 := Designator{CodeSet: CodeSetBinary, Type: TypeNAA, Value: []byte{0x30, 0, 0, 1, 0, 0, 0, 1}}
	naa6 := Designator{CodeSet: CodeSetBinary, Type: TypeNAA, Value: append([]byte{0x60, 0x01, 0x40, 0x56}, make([]byte, 12)...)}
	group := Designator{CodeSet: CodeSetBinary, Type: TypeLUGroup, Value: []byte{0, 0, 0, 0}}
	cases := []struct {
		name string
		id   Identity
		want string
	}{
		{"NAA 6h wins over an earlier NAA 3h", Identity{Designators: []Designator{t10, naa3, naa6}}, "360014056000000000000000000000000"},
		{"NAA 5h over NAA 3h", Identity{Designators: []Designator{naa3, naa5}}, "35001405abcdef012"},
		{"any NAA over EUI-64", Identity{Designators: []Designator{eui, naa3}}, "33000000100000001"},
		{"EUI-64 over T10", Identity{Designators: []Designator{t10, eui}}, "20014050102030405"},
		{"T10 ASCII ends at NUL, spaces become _", Identity{Designators: []Designator{group, t10}}, "1LIO-ORG_IBLOCK:633c5643"},
		{"T10 binary in hex", Identity{Designators: []Designator{{CodeSet: CodeSetBinary, Type: TypeT10Vendor, Value: []byte("IET\x00")}}}, "149455400"},
		{"no designator: VPD 0x80", Identity{Vendor: "ACME", Product: "disk", UnitSerial: "  SN1"}, "SACME_disk_SN1"},
	}
	for _, c := range cases {
		if got := c.id.WWID(); got != c.want {
			t.Errorf("%s: WWID %q, want %q", c.name, got, c.want)
		}
	}
}

// TestResolveRefuses: specs no target could have served are refused with
// the reason, never resolved into something else.
func TestResolveRefuses(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		want string
	}{
		{"no serial", Spec{Style: StyleLIO}, "no serial"},
		{"unknown style", Spec{Style: "netapp", Serial: "x"}, "one of halun, lio"},
		{"lio with a device id", Spec{Style: StyleLIO, Serial: "x", DeviceID: "y"}, "no device ID"},
		{"iet ScsiId too long", Spec{Style: StyleIET, Serial: "x", DeviceID: strings.Repeat("a", 17)}, "at most 16"},
		{"iet without ScsiId or target", Spec{Style: StyleIET, Serial: "x"}, "needs device_id"},
		{"tgt scsi_id too long", Spec{Style: StyleTGT, Serial: "x", DeviceID: strings.Repeat("a", 37)}, "at most 36"},
		{"scst without revision", Spec{Style: StyleSCST, Serial: "x", Product: "p", DeviceID: "d"}, "revision"},
		{"scst usn too long", Spec{Style: StyleSCST, Serial: strings.Repeat("s", 21), Product: "p", Revision: "1", DeviceID: "d"}, "at most 20"},
		{"vendor too long", Spec{Serial: "x", Vendor: "ABCDEFGHI"}, "at most 8"},
		{"NAA length", Spec{Serial: "x", NAA: []byte{0x60, 1, 2, 3, 4, 5, 6, 7}}, "NAA 6h with 8 bytes"},
		{"EUI-64 length", Spec{Serial: "x", EUI64: []byte{1, 2, 3}}, "EUI-64 designator of 3 bytes"},
		{"company id", Spec{Serial: "x", CompanyID: 1 << 24}, "24 bits"},
	}
	for _, c := range cases {
		_, err := Resolve(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestExplicitDesignators: an explicit NAA or EUI-64 replaces every
// designator of its type the style computes, in place.
func TestExplicitDesignators(t *testing.T) {
	naa := []byte{0x50, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12}
	id, err := Resolve(Spec{Style: StyleTGT, Serial: "beaf11", TID: 1, LUN: 1, NAA: naa})
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Designators) != 2 || id.Designators[1].Type != TypeNAA || id.WWID() != "35001405abcdef012" {
		t.Errorf("tgt with naa: %v, WWID %s", id.Designators, id.WWID())
	}
	id, err = Resolve(Spec{Serial: "633c5643-9a1b-4c2d-8e3f-0123456789ab", EUI64: []byte{1, 2, 3, 4, 5, 6, 7, 8}})
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Designators) != 3 || id.Designators[2].Type != TypeEUI64 || !strings.HasPrefix(id.WWID(), "36001405") {
		t.Errorf("halun with eui64: %v, WWID %s", id.Designators, id.WWID())
	}
}

// TestCollides: two identities sharing a designator collide; a shared
// logical unit group does not.
func TestCollides(t *testing.T) {
	a, _ := Resolve(Spec{Style: StyleLIO, Serial: "633c5643"})
	b, _ := Resolve(Spec{Style: StyleLIO, Serial: "633c5644"})
	if d, bad := Collides(a, b); bad {
		t.Errorf("distinct LIO serials collide on %v", d)
	}
	c, _ := Resolve(Spec{Style: StyleLIO, Serial: "633c-5643"}) // same hex digits: same NAA
	if d, bad := Collides(a, c); !bad || d.Type != TypeNAA {
		t.Errorf("same NAA not reported: %v %v", d, bad)
	}
}
