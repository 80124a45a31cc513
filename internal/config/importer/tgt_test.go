package importer

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// The sample targets.conf gets the tids and LUN numbers tgt-admin -e gave
// the same config on tgtd 1.0.85 (pretend.txt of the research run): alpha
// tid 1 with mm.img LUN 1 (its block's lun), aa.img 2, zz.img 3 (sorted
// paths, lowest free LUN), direct1.img 4 (direct-stores after
// backing-stores); beta tid 7 (controller_tid) with beta1 1, beta2 2;
// gamma tid 8 (after the largest tid) with its store on the target-level
// lun 9.
func TestTGTConfSample(t *testing.T) {
	res, c := convertOK(t, "tgt-targets.conf", readTestdata(t, "tgt-targets.conf"), Options{})
	for _, w := range []struct {
		vol              string
		tid              uint32
		lun              uint64
		serial, deviceID string
		vendor           string
	}{
		{"mm", 1, 1, "SNMM0001", "myid-mm", "ACME"},
		{"aa", 1, 2, "SNAA", "", "TGTV"},
		{"zz", 1, 3, "beaf13", "", "TGTV"},
		{"direct1", 1, 4, "beaf14", "", "TGTV"},
		{"beta1", 7, 1, "beaf71", "", ""},
		{"beta2", 7, 2, "beaf72", "", ""},
		{"gamma1", 8, 9, "beaf89", "", ""},
	} {
		v := vol(t, c, w.vol)
		s := v.Identity
		if s.Style != identity.StyleTGT || s.TID != w.tid || s.LUN != w.lun || v.Serial != w.serial || s.DeviceID != w.deviceID || s.Vendor != w.vendor {
			t.Errorf("%s: serial %q identity %+v; want tid %d lun %d serial %q device_id %q vendor %q", w.vol, v.Serial, s, w.tid, w.lun, w.serial, w.deviceID, w.vendor)
		}
	}
	mm := vol(t, c, "mm")
	if !mm.ReadOnly || !mm.Removable || !mm.Thin || mm.WriteCache || mm.BlockSize != 4096 || mm.Identity.Product != "WIDGET" || mm.Identity.Revision != "1.2" {
		t.Errorf("mm = %+v", mm)
	}
	if aa := vol(t, c, "aa"); !aa.WriteCache || aa.Thin || aa.ReadOnly {
		t.Errorf("aa = %+v", aa)
	}
	if b := vol(t, c, "beta1"); b.WriteCache || b.Identity.Product != "BETA-DISK" {
		t.Errorf("beta1 = %+v", b)
	}
	alpha := tgt(t, c, "iqn.2026-11.test:alpha")
	if len(alpha.LUNs) != 4 || alpha.LUNs[0].LUN != 1 || alpha.LUNs[0].Volume != "mm" || alpha.LUNs[3].Volume != "direct1" {
		t.Errorf("alpha LUNs = %+v", alpha.LUNs)
	}
	if alpha.Access.All || len(alpha.Access.Initiators) != 1 || alpha.Access.Initiators[0].IQN != "iqn.1994-05.com.redhat:client1" {
		t.Errorf("alpha access = %+v", alpha.Access)
	}
	if alpha.CHAP == nil || alpha.CHAP.User != "alice" || alpha.CHAP.TargetUser != "tgtout" {
		t.Errorf("alpha chap = %v", alpha.CHAP)
	}
	if c.Discovery.CHAP == nil || c.Discovery.CHAP.User != "discuser" || c.Discovery.CHAP.TargetUser != "discout" {
		t.Errorf("discovery = %+v", c.Discovery)
	}
	if b := tgt(t, c, "iqn.2026-11.test:beta"); !b.Access.All {
		t.Errorf("beta access = %+v (tgt-admin bound ALL: no initiator-address)", b.Access)
	}
	wantFinding(t, res.Findings, Review, 45, "192.168.10.0/24", "by initiator name only")
	wantFinding(t, res.Findings, Review, 64, "did not restrict access", "client2")
	wantFinding(t, res.Findings, Review, 38, "direct-store", "sg_inq", "product_id, product_rev, scsi_sn")
	wantFinding(t, res.Findings, Review, 8, "include")
	wantFinding(t, res.Findings, Warn, 43, "incoming user bob")
	wantFinding(t, res.Findings, Warn, 72, "Scsi_id", "case-sensitive")
	wantFinding(t, res.Findings, Info, 69, "overridden by the target-level lun 9")
	if !strings.Contains(string(res.YAML), "are\n  # byte for byte tgt's. WWID 36000000000000000000000000000d000.") {
		t.Errorf("no identity note for mm:\n%s", res.YAML)
	}
}

// LUN numbering corner cases of tgt-admin's find_next_lun.
func TestTGTConfLUNs(t *testing.T) {
	conf := `<target iqn.2026-11.test:b>
    <backing-store /srv/tgt/c/zz.img>
    </backing-store>
    <backing-store /srv/tgt/c/aa.img>
        lun 1
    </backing-store>
    <backing-store /srv/tgt/c/mm.img>
        lun 3
    </backing-store>
    <direct-store /srv/tgt/c/direct1.img>
        scsi_sn D1
        vendor_id V
        product_id P
        product_rev R
        block-size 512
    </direct-store>
    <backing-store /srv/tgt/c/beta1.img>
    </backing-store>
</target>
<target iqn.2026-11.test:a>
    controller_tid 5
    backing-store /srv/tgt/c/gamma1.img
</target>
`
	res, c := convertOK(t, "targets.conf", []byte(conf), Options{})
	// Sorted: beta1 (free 2), zz (free 4); then direct1 (5). Target a sorts
	// first and takes controller_tid 5; b gets 6.
	for vol, want := range map[string][2]uint64{"aa": {6, 1}, "beta1": {6, 2}, "mm": {6, 3}, "zz": {6, 4}, "direct1": {6, 5}, "gamma1": {5, 1}} {
		s := vol2spec(t, c, vol)
		if uint64(s.TID) != want[0] || s.LUN != want[1] {
			t.Errorf("%s: tid %d lun %d, want %v", vol, s.TID, s.LUN, want)
		}
	}
	if d := vol(t, c, "direct1"); d.Serial != "D1" || d.Identity.Vendor != "V" {
		t.Errorf("direct1 = %+v", d)
	}
	if f := findingsWith(res.Findings, Review, "direct-store"); len(f) != 0 {
		t.Errorf("direct-store with every identity key set still flagged: %v", f)
	}
}

func vol2spec(t *testing.T, c *config.Config, name string) identity.Spec {
	t.Helper()
	return vol(t, c, name).Identity
}

// Identity edge cases: scsi_id set to the default is left to the style,
// over-long values are cut as tgt cuts them, params override keys, a
// shared scsi_id is a REVIEW (halun refuses two volumes with one
// designator), a serial halun cannot take is a REVIEW.
func TestTGTConfIdentityEdges(t *testing.T) {
	conv := func(conf string) *Result {
		t.Helper()
		res, err := Convert("targets.conf", []byte(conf), Options{Format: FormatTGT, Stat: fakeStat(hostFiles)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	t.Run("default scsi_id and truncation", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:a>\n  <backing-store /srv/tgt/c/aa.img>\n    scsi_id IET     00010001\n    vendor_id LONGVENDOR1\n    product_id PRODUCT-ID-LONGER-THAN-16\n    product_rev 12345\n  </backing-store>\n</target>\n")
		c, err := config.Parse("x", res.YAML)
		if err != nil {
			t.Fatalf("%v\n%s", err, res.YAML)
		}
		s := vol(t, c, "aa").Identity
		if s.DeviceID != "" || s.Vendor != "LONGVEND" || s.Product != "PRODUCT-ID-LONGE" || s.Revision != "1234" {
			t.Errorf("identity %+v", s)
		}
		wantFinding(t, res.Findings, Info, 4, "vendor_id", "LONGVEND")
	})
	t.Run("params override", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:a>\n  backing-store /srv/tgt/c/aa.img\n  scsi_sn A1\n  params scsi_sn=B2,thin_provisioning=1,foo=1\n</target>\n")
		c, err := config.Parse("x", res.YAML)
		if err != nil {
			t.Fatalf("%v\n%s", err, res.YAML)
		}
		if v := vol(t, c, "aa"); v.Serial != "B2" || !v.Thin {
			t.Errorf("aa = %+v", v)
		}
		wantFinding(t, res.Findings, Info, 4, "params scsi_sn=B2 overrides")
		wantFinding(t, res.Findings, Warn, 4, "foo=1")
		res = conv("<target iqn.2026-11.test:a>\n  <backing-store /srv/tgt/c/aa.img>\n    scsi_sn A1\n    params scsi_sn=B2\n  </backing-store>\n</target>\n")
		wantFinding(t, res.Findings, Review, 4, "params scsi_sn=B2", "hash order")
	})
	t.Run("shared scsi_id", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:beta>\n  backing-store /srv/tgt/c/beta1.img\n  backing-store /srv/tgt/c/beta2.img\n  scsi_id shared-id\n</target>\n")
		wantFinding(t, res.Findings, Review, -1, "beta2", "T10 vendor ID", "one disk")
		if res.ParseErr == nil {
			t.Error("halun accepted two volumes with one designator")
		}
	})
	t.Run("serial with a space", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:a>\n  backing-store /srv/tgt/c/aa.img\n  scsi_sn \"SN 1\"\n</target>\n")
		wantFinding(t, res.Findings, Review, 3, "scsi_sn")
	})
	t.Run("non-disk and odd stores", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:a>\n  <backing-store /srv/tgt/c/aa.img>\n    device-type cd\n  </backing-store>\n  <backing-store rbd/pool/img>\n    bs-type rbd\n  </backing-store>\n</target>\n")
		wantFinding(t, res.Findings, Warn, 2, "device-type cd")
		wantFinding(t, res.Findings, Review, 5, "rbd")
	})
	t.Run("address only", func(t *testing.T) {
		res := conv("<target iqn.2026-11.test:a>\n  backing-store /srv/tgt/c/aa.img\n  initiator-address 10.0.0.1\n</target>\n")
		wantFinding(t, res.Findings, Review, 3, "nobody could log in")
		if !strings.Contains(string(res.YAML), "  # - iqn: iqn.2026-11.test:a") {
			t.Errorf("target not commented out:\n%s", res.YAML)
		}
	})
}

// The show output sample: real tids and LUNs, controllers left out,
// live scsi_id/scsi_sn kept, flags carried, and what the output lacks
// reported.
func TestTGTShowSample(t *testing.T) {
	res, err := Convert("tgtadm-show.txt", readTestdata(t, "tgtadm-show.txt"), Options{Stat: fakeStat(hostFiles)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != FormatTGTAdm {
		t.Errorf("detected %s", res.Format)
	}
	wantFinding(t, res.Findings, Warn, 0, "vendor_id", "--params vendor_id=", "not visible")
	wantFinding(t, res.Findings, Review, 50, "alice", "does not show secrets")
	wantFinding(t, res.Findings, Review, -1, "disk9", "one disk")
	wantFinding(t, res.Findings, Warn, 102, "offline")
	y := string(res.YAML)
	for _, want := range []string{
		"    serial: SN0002\n    thin: true\n    read_only: true\n    identity:   # WWID 3600000000000000000000000d0000000\n      style: tgt\n      device_id: disk-two\n      tid: 1\n      lun: 2\n    removable: true\n",
		"      - { lun: 300, volume: disk7 }",
		"    serial: beaf16300\n",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("output lacks %q:\n%s", want, y)
		}
	}
	if strings.Contains(y, "Controller") || strings.Contains(y, "lun: 0,") {
		t.Errorf("a controller LUN was imported:\n%s", y)
	}
}

// tgtCapture is what tgtd 1.0.85 sent for one LUN (/tmp/research/tgt
// captures, also in internal/identity's golden vectors): the standard
// INQUIRY (66 bytes), VPD 0x80 and VPD 0x83, as hex.
type tgtCapture struct {
	vol               string
	std, vpd80, vpd83 string
}

// checkCaptures resolves each volume's identity from the parsed output and
// compares it with the bytes tgt sent: INQUIRY bytes 8..35, the whole VPD
// 0x80 page and the whole VPD 0x83 page (tgt sends logical-unit
// designators only).
func checkCaptures(t *testing.T, c *config.Config, caps []tgtCapture) {
	t.Helper()
	for _, cp := range caps {
		v := vol(t, c, cp.vol)
		id, err := v.ResolveIdentity()
		if err != nil {
			t.Errorf("%s: %v", cp.vol, err)
			continue
		}
		std, _ := hex.DecodeString(cp.std)
		inq := padSpaces(id.Vendor, 8) + padSpaces(id.Product, 16) + padSpaces(id.Revision, 4)
		if inq != string(std[8:36]) {
			t.Errorf("%s: INQUIRY 8..35 %q, tgt sent %q", cp.vol, inq, std[8:36])
		}
		p80 := append([]byte{0, 0x80, 0, byte(len(id.UnitSerial))}, id.UnitSerial...)
		if got := hex.EncodeToString(p80); got != cp.vpd80 {
			t.Errorf("%s: VPD 0x80\n got %s\nwant %s", cp.vol, got, cp.vpd80)
		}
		d := id.AppendDesignators(nil)
		p83 := append([]byte{0, 0x83, byte(len(d) >> 8), byte(len(d))}, d...)
		if got := hex.EncodeToString(p83); got != cp.vpd83 {
			t.Errorf("%s: VPD 0x83\n got %s\nwant %s", cp.vol, got, cp.vpd83)
		}
	}
}

func padSpaces(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

// Round trip: the imported YAML passes config.Parse and every volume's
// identity is, byte for byte, what tgtd sent for that LUN.
func TestTGTRoundTrip(t *testing.T) {
	const stdDefault = "000005123d00000249455420202020205649525455414c2d4449534b20202020303030310000000000000000000000000000000000000000000004c0096003000000"
	t.Run("show", func(t *testing.T) {
		show := `Target 1: iqn.2026-11.test:a
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Backing store type: null
            Backing store path: None
            Backing store flags: 
        LUN: 1
            Type: disk
            SCSI ID: IET     00010001
            SCSI SN: beaf11
            Size: 17 MB, Block size: 512
            Online: Yes
            Backing store type: rdwr
            Backing store path: /srv/tgt/disk1.img
            Backing store flags: 
    Account information:
    ACL information:
        ALL
Target 3: iqn.2026-11.test:params
    LUN information:
        LUN: 1
            Type: disk
            SCSI ID: myid01
            SCSI SN: SN0001
            Size: 17 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /srv/tgt/disk5.img
    ACL information:
        ALL
Target 16: iqn.2026-11.test:edge
    LUN information:
        LUN: 1
            Type: disk
            SCSI ID: 0123456789abcdefABCDEF0123456789abcd
            SCSI SN: SERIAL-0123456789-0123456789-0123456
            Size: 17 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /srv/tgt/disk8.img
        LUN: 300
            Type: disk
            SCSI ID: IET     0010012c
            SCSI SN: beaf16300
            Size: 17 MB, Block size: 512
            Backing store type: rdwr
            Backing store path: /srv/tgt/disk7.img
    ACL information:
        ALL
`
		_, c := convertOK(t, "show.txt", []byte(show), Options{})
		checkCaptures(t, c, []tgtCapture{
			{"disk1", stdDefault,
				"00800024202020202020202020202020202020202020202020202020202020202020626561663131",
				"00830048020100244945542020202020303030313030303100000000000000000000000000000000000000000103000830000001000000010103001060000000000000000e00000000010001"},
			{"disk5", stdDefault,
				"00800024202020202020202020202020202020202020202020202020202020202020534e30303031",
				"00830048020100246d79696430310000000000000000000000000000000000000000000000000000000000000103000830000003000000010103001060000000000000000000000000000d01"},
			{"disk8", stdDefault,
				"0080002453455249414c2d303132333435363738392d303132333435363738392d30313233343536",
				"008300480201002430313233343536373839616263646566414243444546303132333435363738396162636401030008300000100000000101030010656789abcdefabcdef0123456789abcd"},
			{"disk7", stdDefault,
				"00800024202020202020202020202020202020202020202020202020202020626561663136333030",
				"008300480201002449455420202020203030313030313263000000000000000000000000000000000000000001030008300000100000012c0103001060000000000000000e0000000010012c"},
		})
	})
	t.Run("targets.conf", func(t *testing.T) {
		// The research sample's alpha target (captured after tgt-admin -e).
		conf := `<target iqn.2026-11.test:alpha>
    <backing-store /srv/tgt/c/zz.img>
    </backing-store>
    <backing-store /srv/tgt/c/aa.img>
        scsi_sn SNAA
    </backing-store>
    <backing-store /srv/tgt/c/mm.img>
        lun 1
        scsi_id myid-mm
        scsi_sn SNMM0001
        vendor_id ACME
        product_id WIDGET
        product_rev 1.2
        removable 1
    </backing-store>
    vendor_id TGTV
</target>
<target iqn.2026-11.test:vendor>
    controller_tid 4
    backing-store /srv/tgt/disk6.img
    vendor_id ACME
    product_id WIDGET
    product_rev 1.2
</target>
`
		_, c := convertOK(t, "targets.conf", []byte(conf), Options{})
		tgtv := "000005123d00000254475456202020205649525455414c2d4449534b20202020303030310000000000000000000000000000000000000000000004c0096003000000"
		checkCaptures(t, c, []tgtCapture{
			{"mm", "008005123d00000241434d452020202057494447455420202020202020202020312e32200000000000000000000000000000000000000000000004c0096003000000",
				"0080002420202020202020202020202020202020202020202020202020202020534e4d4d30303031",
				"00830048020100246d7969642d6d6d0000000000000000000000000000000000000000000000000000000000010300083000000100000001010300106000000000000000000000000000d000"},
			{"aa", tgtv,
				"008000242020202020202020202020202020202020202020202020202020202020202020534e4141",
				"00830048020100244945542020202020303030313030303200000000000000000000000000000000000000000103000830000001000000020103001060000000000000000e00000000010002"},
			{"zz", tgtv,
				"00800024202020202020202020202020202020202020202020202020202020202020626561663133",
				"00830048020100244945542020202020303030313030303300000000000000000000000000000000000000000103000830000001000000030103001060000000000000000e00000000010003"},
			{"disk6", "000005123d00000241434d452020202057494447455420202020202020202020312e32200000000000000000000000000000000000000000000004c0096003000000",
				"00800024202020202020202020202020202020202020202020202020202020202020626561663431",
				"00830048020100244945542020202020303030343030303100000000000000000000000000000000000000000103000830000004000000010103001060000000000000000e00000000040001"},
		})
	})
}
