package admin_test

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/identity"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/test/harness"
)

// One volume in every identity style, with the inputs of
// internal/identity's golden vectors.
const identityConfig = `portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]
volumes:
  - { name: own, backend: memory, size: 1MiB, serial: 633c5643-9a1b-4c2d-8e3f-0123456789ab }
  - { name: lio, backend: memory, size: 1MiB, serial: "633c5643", identity: { style: lio } }
  - name: scst
    backend: memory
    size: 1MiB
    serial: b8fdbd32
    identity: { style: scst, product: disk1, revision: "360 ", device_id: b8fdbd32-disk1 }
  - { name: iet, backend: memory, size: 1MiB, serial: SN0001, identity: { style: iet, device_id: db0001 } }
  - { name: tgt, backend: memory, size: 1MiB, serial: SN0001x, identity: { style: tgt, device_id: myid01, tid: 3, lun: 1 } }
targets:
  - iqn: iqn.2026-12.io.halun.test:identity
    luns:
      - { lun: 0, volume: own }
      - { lun: 1, volume: lio }
      - { lun: 2, volume: scst }
      - { lun: 3, volume: iet }
      - { lun: 4, volume: tgt }
    access: { all: true }
`

// TestIdentityStylesServedAndListed serves a volume of every identity
// style and checks, through the initiator, that standard INQUIRY, VPD
// 0x80 and the logical-unit designators of VPD 0x83 are the source
// target's bytes, and that `halun volume list` names each disk as
// scsi_id --whitelisted and XenServer do.
func TestIdentityStylesServedAndListed(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, identityConfig)
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: filepath.Join(dir, "data")})
	sock := filepath.Join(d.DataDir, admin.SocketName)

	t10 := func(codeSet byte, v string) string {
		return hex.EncodeToString([]byte{codeSet, 1, 0, byte(len(v))}) + hex.EncodeToString([]byte(v))
	}
	cases := []struct {
		volume string
		lun    uint64
		inq    string // bytes 8..35
		vpd80  string // page payload
		vpd83  string // logical-unit designators, hex
		wwid   string
	}{
		{"own", 0, "HALUN   halun disk      0001", "633c5643-9a1b-4c2d-8e3f-0123456789ab",
			"01030010" + "6001405633c56439a1b4c2d8e3f01234" + t10(2, "HALUN   633c5643-9a1b-4c2d-8e3f-0123456789ab"),
			"36001405633c56439a1b4c2d8e3f01234"},
		{"lio", 1, "LIO-ORG IBLOCK          4.0 ", "633c5643\x00",
			"01030010" + "6001405633c564300000000000000000" + t10(2, "LIO-ORG IBLOCK:633c5643\x00") + "0106000400000000",
			"36001405633c564300000000000000000"},
		{"scst", 2, "SCST_BIOdisk1           360 ", "b8fdbd32",
			t10(2, "SCST_BIOb8fdbd32-disk1") + "01020008" + hex.EncodeToString([]byte("b8fdbd32")),
			"26238666462643332"},
		{"iet", 3, "IET     VIRTUAL-DISK    0   ", "          SN0001",
			t10(1, "IET\x00\x00\x00\x00\x00db0001\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
			"1494554000000000064623030303100000000000000000000"},
		{"tgt", 4, "IET     VIRTUAL-DISK    0001", strings.Repeat(" ", 29) + "SN0001x",
			t10(2, "myid01"+strings.Repeat("\x00", 30)) + "01030008" + "3000000300000001" + "01030010" + "60000000000000000000000000000d01",
			"360000000000000000000000000000d01"},
	}

	ctx := ctxT(t)
	s, err := initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: ini1, TargetName: "iqn.2026-12.io.halun.test:identity"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range cases {
		std, err := s.Inquiry(ctx, c.lun, false, 0, 96)
		if err != nil {
			t.Fatalf("%s: INQUIRY: %v", c.volume, err)
		}
		if got := string(std[8:36]); got != c.inq {
			t.Errorf("%s: standard INQUIRY %q, want %q", c.volume, got, c.inq)
		}
		p80, err := s.Inquiry(ctx, c.lun, true, 0x80, 255)
		if err != nil {
			t.Fatalf("%s: VPD 0x80: %v", c.volume, err)
		}
		if got := string(p80[4:]); got != c.vpd80 {
			t.Errorf("%s: VPD 0x80 %q, want %q", c.volume, got, c.vpd80)
		}
		p83, err := s.Inquiry(ctx, c.lun, true, 0x83, 1024)
		if err != nil {
			t.Fatalf("%s: VPD 0x83: %v", c.volume, err)
		}
		lu, page := luDesignatorsOf(t, p83)
		if got := hex.EncodeToString(lu); got != c.vpd83 {
			t.Errorf("%s: VPD 0x83 LU designators\n got %s\nwant %s", c.volume, got, c.vpd83)
		}
		if got := page.WWID(); got != c.wwid {
			t.Errorf("%s: the page as scsi_id names it: %s, want %s", c.volume, got, c.wwid)
		}
	}

	out, err := halunCLI(t, sock, "volume", "list", "--json")
	if err != nil {
		t.Fatalf("volume list --json: %v\n%s", err, out)
	}
	var vs []admin.Volume
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("volume list --json: %v\n%s", err, out)
	}
	table, err := halunCLI(t, sock, "volume", "list")
	if err != nil {
		t.Fatalf("volume list: %v\n%s", err, table)
	}
	for _, c := range cases {
		var v *admin.Volume
		for i := range vs {
			if vs[i].Name == c.volume {
				v = &vs[i]
			}
		}
		if v == nil || v.WWID != c.wwid || v.Style != map[string]string{"own": "halun"}[c.volume]+strings.TrimPrefix(c.volume, "own") {
			t.Errorf("volume list --json: %s: %+v, want WWID %s", c.volume, v, c.wwid)
		}
		found := false
		for _, line := range strings.Split(table, "\n") {
			f := strings.Fields(line)
			found = found || len(f) > 6 && f[0] == c.volume && f[6] == c.wwid
		}
		if !found {
			t.Errorf("volume list: no row %s with WWID %s:\n%s", c.volume, c.wwid, table)
		}
	}
}

// luDesignatorsOf returns the logical-unit designators (association 0)
// of a VPD 0x83 page, raw and as an identity.Identity.
func luDesignatorsOf(t *testing.T, page []byte) ([]byte, identity.Identity) {
	t.Helper()
	var raw []byte
	var id identity.Identity
	for d := page[4:]; len(d) >= 4; {
		n := 4 + int(d[3])
		if n > len(d) {
			t.Fatalf("designator overruns the page: % x", page)
		}
		if d[1]&0x30 == 0 {
			raw = append(raw, d[:n]...)
			id.Designators = append(id.Designators, identity.Designator{CodeSet: d[0] & 0x0f, Type: d[1] & 0x0f, Value: d[4:n]})
		}
		d = d[n:]
	}
	return raw, id
}
