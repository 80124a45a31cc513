package importer

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/halun/halun/internal/identity"
)

// wantIdentity is what initiators saw from the source target for one
// volume: standard INQUIRY bytes 8..35, the VPD 0x80 field and the
// logical-unit designators of VPD 0x83 in hex, headers included — the
// vectors of internal/identity's golden tests, taken from each target's
// source — and the WWID.
type wantIdentity struct {
	volume string
	inq    string
	vpd80  string
	vpd83  string
	wwid   string
}

func hexOf(s string) string { return hex.EncodeToString([]byte(s)) }

// checkRoundTrip converts a source config, parses the halun config it
// gives, and checks that every listed volume resolves to the identity the
// source target sent, and that neither the output nor the report says
// the identity changes.
func checkRoundTrip(t *testing.T, name, src string, o Options, want []wantIdentity) {
	t.Helper()
	res, c := convertOK(t, name, []byte(src), o)
	for _, w := range want {
		v := vol(t, c, w.volume)
		id, err := v.ResolveIdentity()
		if err != nil {
			t.Fatalf("%s: %v", w.volume, err)
		}
		inq := pad(id.Vendor, 8) + pad(id.Product, 16) + pad(id.Revision, 4)
		if inq != w.inq {
			t.Errorf("%s: standard INQUIRY %q, source sent %q", w.volume, inq, w.inq)
		}
		if got := hex.EncodeToString([]byte(id.UnitSerial)); got != w.vpd80 {
			t.Errorf("%s: VPD 0x80 %s, source sent %s", w.volume, got, w.vpd80)
		}
		if got := hex.EncodeToString(id.AppendDesignators(nil)); got != w.vpd83 {
			t.Errorf("%s: VPD 0x83 LU designators\n got %s\nsent %s", w.volume, got, w.vpd83)
		}
		if id.WWID() != w.wwid {
			t.Errorf("%s: WWID %s, source %s", w.volume, id.WWID(), w.wwid)
		}
		if !strings.Contains(string(res.YAML), "WWID "+w.wwid) {
			t.Errorf("%s: the output does not name WWID %s", w.volume, w.wwid)
		}
	}
	for _, text := range append(strings.Split(string(res.YAML), "\n"), findingTexts(res.Findings)...) {
		low := strings.ToLower(text)
		if strings.Contains(low, "vpd 0x83 changes") || strings.Contains(low, "vpd 0x80 changes") || strings.Contains(low, "identity changes") {
			t.Errorf("the import says the identity changes: %s", text)
		}
	}
}

func findingTexts(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

func pad(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s
}

// TestRoundTripIET: ScsiId and ScsiSN are carried, and IET 1.4.20's
// defaults are computed as IET computed them.
func TestRoundTripIET(t *testing.T) {
	src := `Target iqn.2001-04.com.example:storage.disk1
	Lun 0 Path=/dev/vg0/db,Type=blockio,ScsiId=db0001,ScsiSN=SN0001
Target iqn.2001-04.com.example:storage.disk2
	Lun 0 Path=/dev/vg0/web,Type=blockio
	Lun 1 Path=/dev/vg0/log,Type=blockio,ScsiSN=SN1
`
	checkRoundTrip(t, "ietd.conf", src, Options{}, []wantIdentity{
		{"vg0-db", "IET     VIRTUAL-DISK    0   ", hexOf("          SN0001"),
			"01010018" + "4945540000000000" + hexOf("db0001\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
			"1494554000000000064623030303100000000000000000000"},
		{"vg0-web", "IET     VIRTUAL-DISK    0   ", hexOf(identity.IETDefaultSerial(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk2", 0))),
			"01010018" + "4945540000000000" + hex.EncodeToString(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk2", 0)),
			"1" + "4945540000000000" + hex.EncodeToString(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk2", 0))},
		{"vg0-log", "IET     VIRTUAL-DISK    0   ", hexOf("             SN1"),
			"01010018" + "4945540000000000" + hex.EncodeToString(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk2", 1)),
			"1" + "4945540000000000" + hex.EncodeToString(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk2", 1))},
	})
	// The default ScsiId itself against IET's gen_scsiid, computed
	// independently (md5 of the IQN and the LUN, little endian).
	if got := hex.EncodeToString(identity.IETDefaultDeviceID("iqn.2001-04.com.example:storage.disk1", 1)); got != "39fa9126abde6ae74f7d8a99ae9256b6" {
		t.Errorf("IET default ScsiId %s", got)
	}
}

// TestRoundTripSCST: usn, t10_dev_id, vend_specific_id, naa_id and
// eui64_id are carried, and SCST's generated values computed.
func TestRoundTripSCST(t *testing.T) {
	src := `HANDLER vdisk_blockio {
	DEVICE disk1 {
		filename /dev/vg0/disk1
	}
	DEVICE disk2 {
		filename /dev/vg0/disk2
		t10_dev_id disk1-12345678
		usn SN0001
	}
	DEVICE disk3 {
		filename /dev/vg0/disk3
		naa_id 0x6001405abcdef0123456789abcdef012
		prod_rev_lvl " 310"
	}
	DEVICE disk4 {
		filename /dev/vg0/disk4
		eui64_id 0x0014050123456789
		naa_id 0x5001405abcdef012
		t10_vend_id ACME
		prod_id "db volume"
	}
}
TARGET_DRIVER iscsi {
	TARGET iqn.2006-10.net.example:t {
		enabled 1
		LUN 0 disk1
		LUN 1 disk2
		LUN 2 disk3
		LUN 3 disk4
	}
}
`
	t10 := func(vendor, vs string) string {
		v := pad(vendor, 8) + vs
		return hex.EncodeToString([]byte{2, 1, 0, byte(len(v))}) + hexOf(v)
	}
	checkRoundTrip(t, "scst.conf", src, Options{SCSTVersion: "3.6"}, []wantIdentity{
		{"disk1", "SCST_BIOdisk1           360 ", hexOf("b8fdbd32"),
			t10("SCST_BIO", "b8fdbd32-disk1") + "01020008" + hexOf("b8fdbd32"), "26238666462643332"},
		{"disk2", "SCST_BIOdisk2           360 ", hexOf("SN0001"),
			t10("SCST_BIO", scstDefaultT10DevID("disk2", 0)) + "01020008" + hexOf("disk1-12"), "26469736b312d3132"},
		{"disk3", "SCST_BIOdisk3            310", hexOf(scstDefaultUSN("disk3", 0)),
			t10("SCST_BIO", scstDefaultT10DevID("disk3", 0)) + "01030010" + "6001405abcdef0123456789abcdef012", "36001405abcdef0123456789abcdef012"},
		{"disk4", "ACME    db volume       360 ", hexOf(scstDefaultUSN("disk4", 0)),
			t10("ACME", scstDefaultT10DevID("disk4", 0)) + "01020008" + "0014050123456789" + "01030008" + "5001405abcdef012", "35001405abcdef012"},
	})
}

// TestRoundTripLIO: vpd_unit_serial is carried with LIO's scheme — the
// write-up's short serial 633c5643 and targetcli's UUIDs alike.
func TestRoundTripLIO(t *testing.T) {
	so := func(name, plugin, dev, wwn string) string {
		return `{"name": "` + name + `", "plugin": "` + plugin + `", "dev": "` + dev + `", "wwn": "` + wwn + `", "size": 1073741824, "attributes": {"block_size": 512}}`
	}
	src := `{"storage_objects": [` +
		so("lu_db", "block", "/dev/drbd0", "633c5643") + `, ` +
		so("web", "fileio", "/srv/web.img", "fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a") +
		`], "targets": [{"fabric": "iscsi", "wwn": "iqn.2003-01.org.linux-iscsi.san:sn.1", "tpgs": [{"tag": 1, "enable": true,
		"attributes": {"generate_node_acls": 1, "demo_mode_write_protect": 0},
		"luns": [{"index": 0, "storage_object": "/backstores/block/lu_db"}, {"index": 1, "storage_object": "/backstores/fileio/web"}],
		"portals": [{"ip_address": "0.0.0.0", "port": 3260}]}]}]}`
	t10 := func(model, serial string) string {
		v := "LIO-ORG " + model + ":" + serial + "\x00"
		return hex.EncodeToString([]byte{2, 1, 0, byte(len(v))}) + hexOf(v)
	}
	checkRoundTrip(t, "saveconfig.json", src, Options{Stat: fakeStat(map[string]int64{"/srv/web.img": 1 << 30})}, []wantIdentity{
		{"lu_db", "LIO-ORG IBLOCK          4.0 ", hexOf("633c5643\x00"),
			"01030010" + "6001405633c564300000000000000000" + t10("IBLOCK", "633c5643") + "0106000400000000",
			"36001405633c564300000000000000000"},
		{"web", "LIO-ORG FILEIO          4.0 ", hexOf("fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a\x00"),
			"01030010" + "6001405fc9f4f4e7a5b4b0a9d4f1f9e6" + t10("FILEIO", "fc9f4f4e-7a5b-4b0a-9d4f-1f9e6b6c8e2a") + "0106000400000000",
			"36001405fc9f4f4e7a5b4b0a9d4f1f9e6"},
	})
}

// TestSCSTWithoutVersion: a default prod_rev_lvl cannot be told from
// scst.conf; the import asks for it instead of guessing.
func TestSCSTWithoutVersion(t *testing.T) {
	res, err := Convert("scst.conf", []byte("HANDLER vdisk_blockio {\n\tDEVICE d1 {\n\t\tfilename /dev/sdb\n\t}\n}\n"), Options{Stat: fakeStat(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantFinding(t, res.Findings, Review, 2, "prod_rev_lvl", "--scst-version")
	if _, err := Convert("scst.conf", []byte("HANDLER vdisk_blockio {\n}\n"), Options{SCSTVersion: "9.9"}); err == nil {
		t.Error("an unknown SCST version was accepted")
	}
}
