package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// The worked examples: the WWIDs the agent's settings gave each disk.
const (
	wwidLuDB    = "360014054997569400000000000000000"                 // lu_db, lio-t, default scsi_sn 49975694
	wwidLuVM    = "36001405633c564300000000000000000"                 // scsi_sn=633c5643, lio-t
	wwidIETDB01 = "1494554000000000064623030303100000000000000000000" // iet, ScsiId=db0001
	// tgt, lu_db with the agent's defaults (scsi_id lu_db, scsi_sn
	// 49975694), tid 1, lun 1: tgt's NAA 6h takes each character of the
	// scsi_id as a hex digit (0 for l, u and _), so "db" ends it.
	wwidTGTLuDB = "3600000000000000000000000000000db"
)

func TestPacemakerDefaults(t *testing.T) {
	for _, tc := range []struct{ id, sn, scsiID string }{
		{"lu_db", "49975694", "lu_db"},
		{"p_iscsi_lun_with_a_long_name", pcmkDefaultSN("p_iscsi_lun_with_a_long_name"), "p_iscsi_lun_with"},
	} {
		if got := pcmkDefaultSN(tc.id); got != tc.sn {
			t.Errorf("scsi_sn default of %s = %s, want %s", tc.id, got, tc.sn)
		}
		if got := pcmkDefaultID(tc.id); got != tc.scsiID {
			t.Errorf("scsi_id default of %s = %s, want %s", tc.id, got, tc.scsiID)
		}
	}
	// echo -n lu_db | md5sum
	if got := pcmkDefaultSN("lu_db"); got != "49975694" {
		t.Errorf("md5 prefix %s", got)
	}
}

// crmLU is a target and one LU in crm syntax.
func crmLU(targetParams, luID, luParams string) string {
	return "primitive p_target ocf:heartbeat:iSCSITarget \\\n" +
		"\tparams iqn=iqn.2019-03.com.example:t allowed_initiators=iqn.1993-08.org.debian:01:h1 " + targetParams + "\n" +
		"primitive " + luID + " ocf:heartbeat:iSCSILogicalUnit \\\n" +
		"\tparams target_iqn=iqn.2019-03.com.example:t path=/dev/drbd0 " + luParams + " \\\n" +
		"\top monitor interval=10s\n"
}

// Each implementation gets the identity its agent set, and the emitted
// config resolves to the same WWID.
func TestPacemakerIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, target, id, lu string
		style                identity.Style
		serial, devID, wwid  string
		review               []string // a REVIEW finding with these words
	}{
		{"lio-t default serial", "", "lu_db", "lun=0 implementation=lio-t", identity.StyleLIO, "49975694", "", wwidLuDB, nil},
		{"lio-t write-up case", "", "lu_vm", "lun=1 scsi_sn=633c5643 implementation=lio-t", identity.StyleLIO, "633c5643", "", wwidLuVM, nil},
		{"lio-utils", "", "lu_db", "lun=0 implementation=lio scsi_id=ignored", identity.StyleLIO, "49975694", "", wwidLuDB, nil},
		{"iet", "", "lu_iet", "lun=0 implementation=iet scsi_id=db0001 scsi_sn=SN0001", identity.StyleIET, "SN0001", "db0001", wwidIETDB01, nil},
		{"iet default scsi_id cut to 16", "", "p_iscsi_lun_with_a_long_name", "lun=0 implementation=iet", identity.StyleIET,
			pcmkDefaultSN("p_iscsi_lun_with_a_long_name"), "p_iscsi_lun_with", "", nil},
		{"tgt defaults", "tid=1 implementation=tgt", "lu_db", "lun=1 implementation=tgt", identity.StyleTGT, "49975694", "lu_db", wwidTGTLuDB, []string{"--initiator-address"}},
		{"no implementation", "", "lu_db", "lun=0", identity.StyleLIO, "49975694", "", wwidLuDB, []string{"no implementation", "assumed lio-t", "iet", "tgt", "scst"}},
		{"implementation from the target", "implementation=iet", "lu_iet", "lun=0 scsi_id=db0001 scsi_sn=SN0001", identity.StyleIET, "SN0001", "db0001", wwidIETDB01, []string{"assumed iet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, c := convertOK(t, "crm.txt", []byte(crmLU(tc.target, tc.id, tc.lu)), Options{Format: FormatPacemaker})
			v := vol(t, c, tc.id)
			if v.Serial != tc.serial || v.Identity.Style != tc.style || v.Identity.DeviceID != tc.devID {
				t.Errorf("volume = serial %q, identity %+v", v.Serial, v.Identity)
			}
			id, err := v.ResolveIdentity()
			if err != nil {
				t.Fatal(err)
			}
			if tc.wwid != "" && id.WWID() != tc.wwid {
				t.Errorf("WWID %s, want %s", id.WWID(), tc.wwid)
			}
			wantFinding(t, res.Findings, Info, 3, "identity carried", id.WWID())
			if strings.Contains(string(res.YAML), "VPD 0x83 changes") {
				t.Errorf("the output says VPD 0x83 changes:\n%s", res.YAML)
			}
			if tc.review != nil {
				wantFinding(t, res.Findings, Review, -1, tc.review...)
			} else if r := findingsWith(res.Findings, Review); len(r) > 0 {
				t.Errorf("unexpected REVIEW findings:\n%s", dump(r))
			}
		})
	}
}

// tgt's identity contains the tid of the iSCSITarget; without it the
// output asks for it.
func TestPacemakerTGTNoTID(t *testing.T) {
	res, err := Convert("crm.txt", []byte(crmLU("implementation=tgt", "lu_db", "lun=1 implementation=tgt")), Options{Stat: fakeStat(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantFinding(t, res.Findings, Review, 3, "no tid", "identity.tid")
	if res.ParseErr == nil {
		t.Error("tid 0 accepted")
	}
}

// SCST: usn, t10_vend_id and t10_dev_id come from the agent; SCST
// generated vend_specific_id from the device name (the resource id)
// before the agent set t10_dev_id; the revision depends on the SCST
// release (--scst-version, or a REVIEW finding).
func TestPacemakerSCST(t *testing.T) {
	src := []byte(crmLU("implementation=scst", "lu_db", "lun=0 implementation=scst vendor_id=ACME product_id=db-disk-01"))
	res, err := Convert("crm.txt", src, Options{Stat: fakeStat(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantFinding(t, res.Findings, Review, 3, "prod_rev_lvl", "--scst-version")
	res, c := convertOK(t, "crm.txt", src, Options{SCSTVersion: "3.6"})
	y := string(res.YAML)
	gen := scstDefaultT10DevID("lu_db", 0)
	for _, want := range []string{"style: scst", "vendor: ACME", "product: lu_db", "device_id: db-disk-01", `serial: "49975694"`, "vend_specific_id: " + gen} {
		if !strings.Contains(y, want) {
			t.Errorf("output lacks %q:\n%s", want, y)
		}
	}
	id, err := vol(t, c, "lu_db").ResolveIdentity()
	if err != nil || id.Vendor != "ACME" || id.Product != "lu_db" || id.Revision != "360 " || id.UnitSerial != "49975694" {
		t.Errorf("identity %+v, %v", id, err)
	}
	if d, _ := id.Find(identity.TypeT10Vendor); string(d.Value) != "ACME    "+gen {
		t.Errorf("T10 vendor ID designator %q, want the generated vend_specific_id", d.Value)
	}
	if id.WWID() != "2"+"64622d6469736b2d" { // EUI-64: the first 8 bytes of t10_dev_id "db-disk-"
		t.Errorf("WWID %s", id.WWID())
	}
}

// The sample cluster, as crm configure show and as the CIB XML, gives the
// same config, and each LU keeps its WWID.
func TestPacemakerSamples(t *testing.T) {
	var yamls []string
	for _, in := range []string{"crm-configure-show.txt", "cib.xml"} {
		t.Run(in, func(t *testing.T) {
			data := readTestdata(t, in)
			if f, err := Detect(data); err != nil || f != FormatPacemaker {
				t.Errorf("Detect = %v, %v", f, err)
			}
			res, c := convertOK(t, in, data, Options{})
			for name, wwid := range map[string]string{"lu_db": wwidLuDB, "lu_vm": wwidLuVM, "lu_scratch": "3600140532388c2000000000000000000"} {
				v := vol(t, c, name)
				id, err := v.ResolveIdentity()
				if err != nil || id.WWID() != wwid {
					t.Errorf("%s: WWID %s, %v; want %s", name, id.WWID(), err, wwid)
				}
			}
			if db := vol(t, c, "lu_db"); db.Backend != config.BackendBlock || db.Path != "/dev/drbd0" {
				t.Errorf("lu_db = %+v", db)
			}
			sc := vol(t, c, "lu_scratch")
			if sc.Backend != config.BackendFile || sc.Size != 8<<30 || !sc.WriteCache || sc.Identity.Product != "FILEIO" {
				t.Errorf("lu_scratch = %+v", sc)
			}
			x := tgt(t, c, "iqn.2019-03.com.example:san.r0")
			if x.Access.All || len(x.Access.Initiators) != 2 || len(x.LUNs) != 3 || x.CHAP == nil || x.CHAP.User != "kvmhosts" {
				t.Errorf("target = %+v", x)
			}
			if p := c.PortalGroup(x.PortalGroups[0]); len(p.Portals) != 1 || p.Portals[0].Port != 3260 {
				t.Errorf("portal group = %+v", p)
			}
			if r := findingsWith(res.Findings, Review); len(r) > 0 {
				t.Errorf("REVIEW findings:\n%s", dump(r))
			}
			wantFinding(t, res.Findings, Info, -1, "p_drbd_r0", "not imported")
			var b strings.Builder
			if err := WriteReport(&b, res.Findings); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "s3cret-chap-pass") {
				t.Error("the report shows the CHAP secret")
			}
			yamls = append(yamls, stripComments(string(res.YAML)))
		})
	}
	if len(yamls) == 2 && yamls[0] != yamls[1] {
		t.Errorf("crm and CIB XML give different configs:\n%s\n----\n%s", yamls[0], yamls[1])
	}
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Access is never widened silently: addresses, which halun's access
// cannot list, leave the target closed with a REVIEW.
func TestPacemakerAccess(t *testing.T) {
	t.Run("addresses only", func(t *testing.T) {
		in := "primitive t ocf:heartbeat:iSCSITarget params iqn=iqn.2019-03.com.example:t implementation=tgt tid=2 allowed_initiators=\"192.168.1.0/24 10.0.0.5\"\n" +
			"primitive lu ocf:heartbeat:iSCSILogicalUnit params target_iqn=iqn.2019-03.com.example:t lun=1 path=/dev/sdb implementation=tgt\n"
		res, err := Convert("crm.txt", []byte(in), Options{Stat: fakeStat(nil)})
		if err != nil {
			t.Fatal(err)
		}
		wantFinding(t, res.Findings, Review, 1, "192.168.1.0/24", "not an iSCSI name")
		if !strings.Contains(string(res.YAML), "  # - iqn: iqn.2019-03.com.example:t") {
			t.Errorf("target not commented out:\n%s", res.YAML)
		}
	})
	t.Run("open target", func(t *testing.T) {
		in := "primitive t ocf:heartbeat:iSCSITarget params iqn=iqn.2019-03.com.example:t implementation=lio-t\n" +
			"primitive lu ocf:heartbeat:iSCSILogicalUnit params target_iqn=iqn.2019-03.com.example:t lun=0 path=/dev/sdb implementation=lio-t allowed_initiators=iqn.1993-08.org.debian:01:h9\n"
		res, c := convertOK(t, "crm.txt", []byte(in), Options{})
		if !tgt(t, c, "iqn.2019-03.com.example:t").Access.All {
			t.Error("not all")
		}
		wantFinding(t, res.Findings, Info, 1, "no allowed_initiators")
		wantFinding(t, res.Findings, Review, 2, "see every LUN")
	})
	t.Run("LU ACL", func(t *testing.T) {
		in := "primitive t ocf:heartbeat:iSCSITarget params iqn=iqn.2019-03.com.example:t implementation=lio-t allowed_initiators=iqn.1993-08.org.debian:01:h1\n" +
			"primitive lu0 ocf:heartbeat:iSCSILogicalUnit params target_iqn=iqn.2019-03.com.example:t lun=0 path=/dev/sdb implementation=lio-t\n" +
			"primitive lu1 ocf:heartbeat:iSCSILogicalUnit params target_iqn=iqn.2019-03.com.example:t lun=1 path=/dev/sdc implementation=lio-t allowed_initiators=\"iqn.1993-08.org.debian:01:h1 iqn.1993-08.org.debian:01:h2\"\n"
		_, c := convertOK(t, "crm.txt", []byte(in), Options{})
		a := tgt(t, c, "iqn.2019-03.com.example:t").Access
		if a.All || len(a.Initiators) != 2 || a.Initiators[0].OwnLUNs || !a.Initiators[1].OwnLUNs ||
			len(a.Initiators[1].LUNs) != 1 || a.Initiators[1].LUNs[0].LUN != 1 {
			t.Errorf("access = %+v", a)
		}
	})
	t.Run("LU without target", func(t *testing.T) {
		in := "primitive lu ocf:heartbeat:iSCSILogicalUnit params target_iqn=iqn.2019-03.com.example:t lun=0 path=/dev/sdb implementation=lio-t\n"
		res, err := Convert("crm.txt", []byte(in), Options{Stat: fakeStat(nil)})
		if err != nil {
			t.Fatal(err)
		}
		wantFinding(t, res.Findings, Review, 1, "no iSCSITarget")
		if !strings.Contains(string(res.YAML), "  # - iqn: iqn.2019-03.com.example:t") {
			t.Errorf("target not commented out:\n%s", res.YAML)
		}
	})
}

// Unreadable input is an error naming file:line.
func TestPacemakerSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"crm unterminated quote", "node 1: a\nprimitive lu ocf:heartbeat:iSCSILogicalUnit \\\n\tparams path=\"/dev/sdb\n", 3, "unterminated"},
		{"crm param without value", "primitive lu ocf:heartbeat:iSCSILogicalUnit \\\n\tparams lun=0 \\\n\tpath\n", 3, "not name=value"},
		{"crm primitive without agent", "\n\nprimitive lu\n", 3, "resource agent"},
		{"crm word before params", "primitive lu ocf:heartbeat:iSCSILogicalUnit \\\n\tlun=0\n", 2, "before params"},
		{"xml syntax", "<cib>\n<configuration>\n<resources>\n<primitive id=\"a\" type=\"iSCSITarget\">\n</resources>\n", 5, "XML syntax"},
		{"xml nvpair without name", "<cib>\n<primitive id=\"a\" type=\"iSCSITarget\">\n<instance_attributes>\n<nvpair value=\"x\"/>\n</instance_attributes>\n</primitive>\n</cib>\n", 4, "without a name"},
		{"xml empty", "<", 1, "XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert("cib.in", []byte(tc.in), Options{Format: FormatPacemaker, Stat: fakeStat(nil)})
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("err = %v, want Errors", err)
			}
			e := es[0]
			if e.File != "cib.in" || e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("err = %v; want cib.in:%d: …%s…", e, tc.line, tc.msg)
			}
		})
	}
}
