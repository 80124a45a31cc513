package importer

import (
	"errors"
	"strings"
	"testing"
)

// Unreadable input is an error naming file:line; it is never a panic.
func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		line   int
		msg    string
	}{
		{"iet lun outside target", FormatIETD, "# x\nLun 0 Path=/a\n", 2, "outside a Target"},
		{"iet bad lun", FormatIETD, "Target iqn.2001-04.com.example:a\n\tLun zero Path=/a\n", 2, "not a number"},
		{"iet lun out of range", FormatIETD, "Target iqn.2001-04.com.example:a\n\tLun 16384 Path=/a\n", 2, "0..16383"},
		{"iet no path", FormatIETD, "Target iqn.2001-04.com.example:a\n\n\tLun 0 Type=fileio\n", 3, "needs Path="},
		{"iet bad type", FormatIETD, "Target iqn.2001-04.com.example:a\n\tLun 0 Path=/a,Type=rdma\n", 2, "Type=rdma"},
		{"iet duplicate lun", FormatIETD, "Target iqn.2001-04.com.example:a\n\tLun 0 Path=/a\n\tLun 0 Path=/b\n", 3, "twice"},
		{"iet user without password", FormatIETD, "Target iqn.2001-04.com.example:a\n\tIncomingUser joe\n", 2, "password"},
		{"iet continued line", FormatIETD, "Target iqn.2001-04.com.example:a\n\tLun 0 \\\nPath=/a,\\\nType=x\n", 2, "Type=x"},
		{"scst unclosed block", FormatSCST, "HANDLER vdisk_fileio {\n\tDEVICE a {\n\t\tfilename /a\n}\n", 1, "not closed"},
		{"scst stray brace", FormatSCST, "HANDLER vdisk_fileio {\n}\n}\n", 3, "without an open block"},
		{"scst unterminated quote", FormatSCST, "TARGET_DRIVER iscsi {\n\tIncomingUser \"joe secret\n}\n", 2, "unterminated"},
		{"json syntax", FormatTargetcli, "{\n  \"targets\": [\n    {\"wwn\": }\n  ]\n}\n", 3, "JSON syntax"},
		{"json truncated", FormatTargetcli, "{\n  \"targets\": [\n", 3, "JSON"},
		{"json not object", FormatTargetcli, "[1, 2]", 1, "not a JSON object"},
		{"json not saveconfig", FormatTargetcli, "{\n \"a\": 1\n}", 1, "no storage_objects or targets"},
		{"json trailing", FormatTargetcli, "{\"targets\": []}\n{}", 2, "more data"},
		{"tgt unclosed block", FormatTGT, "<target iqn.2026-11.test:a>\n  <backing-store /a>\n  </backing-store>\n", 1, "not closed"},
		{"tgt stray close", FormatTGT, "# c\n</target>\n", 2, "without an open"},
		{"tgt mismatched close", FormatTGT, "<target iqn.2026-11.test:a>\n  <backing-store /a>\n</target>\n", 3, "closes <backing-store>"},
		{"tgt mixed store forms", FormatTGT, "<target iqn.2026-11.test:a>\n  backing-store /a\n  <backing-store /b>\n  </backing-store>\n</target>\n", 3, "cannot mix"},
		{"tgt key twice", FormatTGT, "<target iqn.2026-11.test:a>\n  backing-store /a\n  scsi_id x\n  scsi_id y\n</target>\n", 4, "twice"},
		{"tgt bad lun", FormatTGT, "<target iqn.2026-11.test:a>\n  <backing-store /a>\n    lun x\n  </backing-store>\n</target>\n", 3, "not a number"},
		{"tgt user without password", FormatTGT, "<target iqn.2026-11.test:a>\n  incominguser joe\n</target>\n", 2, "password"},
		{"tgt bad controller_tid", FormatTGT, "<target iqn.2026-11.test:a>\n  controller_tid 0\n</target>\n", 2, "controller_tid"},
		{"tgtadm no target", FormatTGTAdm, "hello\n", 1, "Target N: IQN"},
		{"tgtadm indented before target", FormatTGTAdm, "\n    LUN information:\n", 2, "before the first"},
		{"tgtadm bad lun", FormatTGTAdm, "Target 1: iqn.2026-11.test:a\n    LUN information:\n        LUN: x\n", 3, "not a number"},
		{"tgtadm key before lun", FormatTGTAdm, "Target 1: iqn.2026-11.test:a\n    LUN information:\n            SCSI ID: x\n", 3, "before the first"},
		{"tgtadm bad size", FormatTGTAdm, "Target 1: iqn.2026-11.test:a\n    LUN information:\n        LUN: 1\n            Size: big\n", 4, "Size"},
		{"tgtadm bad yes", FormatTGTAdm, "Target 1: iqn.2026-11.test:a\n    LUN information:\n        LUN: 1\n            Readonly: maybe\n", 4, "Yes or No"},
		{"tgtadm tid twice", FormatTGTAdm, "Target 1: iqn.2026-11.test:a\nTarget 1: iqn.2026-11.test:b\n", 2, "twice"},
		{"tgtadm tid zero", FormatTGTAdm, "Target 0: iqn.2026-11.test:a\n", 1, "target id"},
		{"tgtadm empty", FormatTGTAdm, "\n\n", 0, "no \"Target N: IQN\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert("in.conf", []byte(tc.in), Options{Format: tc.format, Stat: fakeStat(nil)})
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("err = %v, want Errors", err)
			}
			e := es[0]
			if e.File != "in.conf" || e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("err = %v; want in.conf:%d: …%s…", e, tc.line, tc.msg)
			}
		})
	}
}

// Access rules halun cannot express exactly are narrowed or flagged, never
// silently widened.
func TestAccessEdges(t *testing.T) {
	const iet = "Target iqn.2001-04.com.example:a\n\tLun 0 Path=/dev/sdb,Type=blockio,ScsiSN=A1\n"
	t.Run("iet deny without ALL opens with a review", func(t *testing.T) {
		res, c := convertOK(t, "ietd.conf", []byte(iet), Options{IETDeny: []byte("iqn.2001-04.com.example:a iqn.1993-08.org.debian:01:bad\n")})
		if !tgt(t, c, "iqn.2001-04.com.example:a").Access.All {
			t.Error("not all")
		}
		wantFinding(t, res.Findings, Review, 1, "no deny list")
	})
	t.Run("iet nobody allowed by name comments the target out", func(t *testing.T) {
		res, err := Convert("ietd.conf", []byte(iet), Options{Stat: fakeStat(nil),
			IETAllow: []byte("ALL 10.0.0.0/8\n"), IETDeny: []byte("ALL ALL\n")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(res.YAML), "  # - iqn: iqn.2001-04.com.example:a") {
			t.Errorf("target not commented out:\n%s", res.YAML)
		}
		wantFinding(t, res.Findings, Review, 1, "nobody could log in")
	})
	t.Run("scst default LUNs and groups", func(t *testing.T) {
		conf := `HANDLER vdisk_blockio {
	DEVICE d1 {
		filename /dev/sdb
		usn D1
	}
}
TARGET_DRIVER iscsi {
	TARGET iqn.2006-10.net.example:t {
		enabled 1
		LUN 0 d1
		GROUP g {
			LUN 3 d1
			INITIATOR iqn.1993-08.org.debian:01:host
		}
	}
}
`
		res, c := convertOK(t, "scst.conf", []byte(conf), Options{SCSTVersion: "3.10"})
		a := tgt(t, c, "iqn.2006-10.net.example:t").Access
		if a.All || len(a.Initiators) != 1 || a.Initiators[0].LUNs[0].LUN != 3 {
			t.Errorf("access = %+v", a)
		}
		wantFinding(t, res.Findings, Review, 8, "default LUNs", "only the GROUP initiators")
	})
	t.Run("lio demo mode write protect", func(t *testing.T) {
		conf := `{"storage_objects": [{"plugin": "block", "name": "b", "dev": "/dev/sdc", "wwn": "0123456789abcdef0123"}],
"targets": [{"wwn": "iqn.2003-01.org.linux-iscsi.h:sn.1", "fabric": "iscsi", "tpgs": [{"tag": 1, "enable": true,
 "attributes": {"generate_node_acls": 1, "authentication": 0},
 "luns": [{"index": 0, "storage_object": "/backstores/block/b"}], "portals": [{"ip_address": "10.1.1.1", "port": 3261}]}]}]}`
		res, c := convertOK(t, "saveconfig.json", []byte(conf), Options{})
		x := tgt(t, c, "iqn.2003-01.org.linux-iscsi.h:sn.1")
		if !x.Access.All || c.PortalGroup(x.PortalGroups[0]).Portals[0].Port != 3261 {
			t.Errorf("target = %+v", x)
		}
		wantFinding(t, res.Findings, Review, 3, "demo_mode_write_protect")
	})
}

func TestCHAPChecks(t *testing.T) {
	conf := "IncomingUser disc short\nTarget iqn.2001-04.com.example:a\n\tIncomingUser joe samesecret123\n\tOutgoingUser tgt samesecret123\n\tLun 0 Path=/dev/sdb\n"
	res, err := Convert("ietd.conf", []byte(conf), Options{Stat: fakeStat(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantFinding(t, res.Findings, Review, 0, "discovery", "5 bytes")
	wantFinding(t, res.Findings, Review, 2, "one secret both ways")
	if res.ParseErr == nil {
		t.Error("halun accepted a 5-byte secret")
	}
	var b strings.Builder
	if err := WriteReport(&b, res.Findings); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"short", "samesecret123"} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("the report shows the secret %q:\n%s", secret, b.String())
		}
	}
}

// A file volume whose size neither the config nor this host knows is a
// review finding, and the output says where to fill it in.
func TestUnknownSize(t *testing.T) {
	res, err := Convert("ietd.conf", []byte("Target iqn.2001-04.com.example:a\n\tLun 0 Path=/srv/gone.img,ScsiSN=G1\n"), Options{Stat: fakeStat(nil)})
	if err != nil {
		t.Fatal(err)
	}
	wantFinding(t, res.Findings, Review, 2, "size", "/srv/gone.img")
	if res.ParseErr == nil || !strings.Contains(string(res.YAML), "size: 0   # REVIEW") {
		t.Errorf("ParseErr = %v\n%s", res.ParseErr, res.YAML)
	}
}
