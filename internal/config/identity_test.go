package config

import (
	"strings"
	"testing"

	"github.com/halun/halun/internal/identity"
)

// TestIdentityParse: a volume's identity: mapping becomes its spec, and
// the volume resolves to the identity the style computes.
func TestIdentityParse(t *testing.T) {
	c, err := Parse("halun.yaml", []byte(edit(t, "  - {name: v1, backend: memory, size: 1MiB}", `  - name: v1
    backend: memory
    size: 1MiB
    serial: "633c5643"
    identity: {style: lio, product: FILEIO, company_id: 0x001405}
  - name: v2
    backend: memory
    size: 1MiB
    serial: SN0001
    identity: {style: tgt, device_id: myid01, tid: 3, lun: 1}
  - name: v3
    backend: memory
    size: 1MiB
    serial: b8fdbd32
    identity: {style: scst, product: disk1, revision: "360 ", device_id: b8fdbd32-disk1, naa: "0x6001405abcdef0123456789abcdef012"}`)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"36001405633c564300000000000000000", "360000000000000000000000000000d01", "36001405abcdef0123456789abcdef012"}
	for i, w := range want {
		v := &c.Volumes[i]
		id, err := v.ResolveIdentity()
		if err != nil {
			t.Fatal(err)
		}
		if id.WWID() != w {
			t.Errorf("volume %s: WWID %s, want %s", v.Name, id.WWID(), w)
		}
	}
	if s := c.Volumes[0].Identity; s.Style != identity.StyleLIO || s.Product != "FILEIO" || s.CompanyID != 0x001405 {
		t.Errorf("lio spec %+v", s)
	}
}

// TestIdentityInvalid: identities no target could serve, and two volumes
// that would be one disk to an initiator, are refused at file:line.
func TestIdentityInvalid(t *testing.T) {
	vol := func(name, serial, ident string) string {
		s := "  - {name: " + name + ", backend: memory, size: 1MiB"
		if serial != "" {
			s += ", serial: " + serial
		}
		if ident != "" {
			s += ", identity: " + ident
		}
		return s + "}"
	}
	cases := []struct{ name, vols, want string }{
		{"unknown style", vol("v1", "s1", "{style: netapp}"), `5: volumes[0].identity.style: style "netapp": one of halun, lio, scst, iet, tgt`},
		{"style without serial", vol("v1", "", "{style: lio}"), "5: volumes[0].identity.style: style lio reproduces another target's identity: set serial"},
		{"bad naa hex", vol("v1", "s1", "{naa: 60zz}"), `5: volumes[0].identity.naa: "60zz": not hexadecimal`},
		{"naa length", vol("v1", "s1", "{naa: '6001405abcdef012'}"), "5: volumes[0].identity: style halun, serial \"s1\": NAA designator 6001405abcdef012: NAA 6h with 8 bytes"},
		{"vendor too long", vol("v1", "s1", "{vendor: ABCDEFGHIJ}"), `5: volumes[0].identity.vendor: "ABCDEFGHIJ": 1..8 printable ASCII characters`},
		{"tid on lio", vol("v1", "s1", "{style: lio, tid: 1}"), "5: volumes[0].identity.tid: only style tgt takes tid"},
		{"lun on halun", vol("v1", "s1", "{lun: 1}"), "5: volumes[0].identity.lun: only styles tgt and iet take lun"},
		{"unknown key", vol("v1", "s1", "{style: lio, compnay_id: 5}"), "5: volumes[0].identity.compnay_id: unknown field; did you mean company_id?"},
		{"iet ScsiId too long", vol("v1", "s1", "{style: iet, device_id: abcdefghijklmnopq}"), "5: volumes[0].identity: IET ScsiId \"abcdefghijklmnopq\": at most 16 characters"},
		{"product_id and identity.product", vol("v1", "s1", "{product: a}, product_id: b"), "5: volumes[0].product_id: identity.product is set too; keep one"},
		{"collision", vol("v1", "633c5643", "{style: lio}") + "\n" + vol("v2", "633c-5643", "{style: lio}"),
			"6: volumes[1].identity: volume v2 would share the VPD 0x83 designator NAA 6001405633c564300000000000000000 with volumes[0] (line 5)"},
		{"collision across styles", vol("v1", "SN1", "{style: tgt, device_id: same, tid: 1, lun: 1}") + "\n" + vol("v2", "SN2", "{style: tgt, device_id: same, tid: 1, lun: 2}"),
			`6: volumes[1].identity: volume v2 would share the VPD 0x83 designator T10 vendor ID "same`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := edit(t, "  - {name: v1, backend: memory, size: 1MiB}", c.vols)
			_, err := Parse("halun.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, c.want)
			}
		})
	}
}
