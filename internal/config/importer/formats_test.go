package importer

import (
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
)

// The sample configs carry the identity fields into serials, the LUN maps
// into targets and initiators, and the CHAP settings into chap.
func TestIETDSample(t *testing.T) {
	data := readTestdata(t, "ietd.conf")
	res, c := convertOK(t, "ietd.conf", data, Options{
		IETAllow: readTestdata(t, "initiators.allow"), IETAllowName: "initiators.allow",
		IETDeny: readTestdata(t, "initiators.deny"), IETDenyName: "initiators.deny",
	})
	sys := vol(t, c, "vg0-vm_sys1")
	if sys.Backend != config.BackendBlock || sys.Path != "/dev/vg0/vm_sys1" || sys.Serial != "VMSYS10001" {
		t.Errorf("vm_sys1 = %+v", sys)
	}
	data1 := vol(t, c, "vm_data1")
	if data1.Backend != config.BackendFile || data1.Size != 50<<30 || data1.Serial != "VMDATA1" || !data1.WriteCache {
		t.Errorf("vm_data1 = %+v", data1)
	}
	backup := vol(t, c, "backup")
	if backup.BlockSize != 4096 || !backup.ReadOnly || backup.Size != 2<<40 || backup.Serial != "BACKUP0001" {
		t.Errorf("backup = %+v", backup)
	}
	vm := tgt(t, c, "iqn.2001-04.com.example:storage.vm.sys1")
	if vm.Alias != "VM sys1" || len(vm.LUNs) != 2 || vm.LUNs[1].Volume != "vm_data1" {
		t.Errorf("vm target = %+v", vm)
	}
	if vm.Access.All || len(vm.Access.Initiators) != 2 || vm.Access.Initiators[0].IQN != "iqn.1993-08.org.debian:01:vmhost1" || vm.Access.Initiators[0].OwnLUNs {
		t.Errorf("vm access = %+v", vm.Access)
	}
	if vm.CHAP == nil || vm.CHAP.User != "vmhost" || vm.CHAP.TargetUser != "storage" || !vm.CHAP.Mutual() {
		t.Errorf("vm chap = %v", vm.CHAP)
	}
	p := vm.Params
	if p.InitialR2T == nil || *p.InitialR2T || *p.MaxOutstandingR2T != 8 || *p.FirstBurstLength != 262144 || p.HeaderDigest[0] != "CRC32C" {
		t.Errorf("vm params = %+v", p.Effective())
	}
	if c.Discovery.CHAP == nil || c.Discovery.CHAP.User != "discovery" {
		t.Errorf("discovery = %+v", c.Discovery)
	}
	// The same Path in two targets is one volume.
	backupT := tgt(t, c, "iqn.2001-04.com.example:storage.backup")
	if len(backupT.LUNs) != 2 || backupT.LUNs[1].LUN != 4 || backupT.LUNs[1].Volume != "vm_data1" {
		t.Errorf("backup LUNs = %+v", backupT.LUNs)
	}
	if open := tgt(t, c, "iqn.2001-04.com.example:storage.open"); !open.Access.All {
		t.Errorf("open target access = %+v", open.Access)
	}
	wantFinding(t, res.Findings, Warn, 29, "Type=nullio")
	wantFinding(t, res.Findings, Warn, 10, "IOMode=wb")
	wantFinding(t, res.Findings, Review, 2, "192.168.10.0/24")
	wantFinding(t, res.Findings, Info, 35, "no ScsiSN", "IET 1.4.20 sent the ScsiId in hex")
	if !strings.Contains(string(res.YAML), `WWID 14945540000000000766d737973312d303030310000000000`) {
		t.Error("the output does not give vm_sys1's WWID (T10 vendor ID IET + ScsiId)")
	}
}

func TestSCSTSample(t *testing.T) {
	res, c := convertOK(t, "scst.conf", readTestdata(t, "scst.conf"), Options{SCSTVersion: "3.6"})
	db := vol(t, c, "db01")
	if db.Backend != config.BackendBlock || db.BlockSize != 4096 || db.Serial != "b2c3d4e5" || !db.Thin || db.WriteCache {
		t.Errorf("db01 = %+v", db)
	}
	esx := vol(t, c, "esx_ds1")
	if esx.Size != 100<<30 || esx.Serial != "9f8e7d6c" || esx.WriteCache || esx.Thin {
		t.Errorf("esx_ds1 = %+v", esx)
	}
	iso := vol(t, c, "iso_lib")
	if iso.Size != 20<<30 || !iso.ReadOnly || iso.Serial != "0a1b2c3d4e5f60718293" || !iso.WriteCache {
		t.Errorf("iso_lib = %+v", iso)
	}
	esxT := tgt(t, c, "iqn.2006-10.net.example:san.esx")
	if len(esxT.LUNs) != 0 || len(esxT.Access.Initiators) != 2 {
		t.Fatalf("esx target = %+v", esxT)
	}
	in := esxT.Access.Initiators[1]
	if in.IQN != "iqn.1998-01.com.vmware:esx2-7b3c4d5e" || !in.OwnLUNs || len(in.LUNs) != 2 || in.LUNs[1] != (config.LUN{LUN: 1, Volume: "iso_lib"}) {
		t.Errorf("esx2 = %+v", in)
	}
	if esxT.CHAP == nil || esxT.CHAP.User != "esxchap" || esxT.CHAP.TargetSecret != "sanchapsecret12" {
		t.Errorf("esx chap = %v", esxT.CHAP)
	}
	if *esxT.Params.MaxOutstandingR2T != 32 || *esxT.Params.MaxRecvDataSegmentLength != 1048576 {
		t.Errorf("esx params = %+v", esxT.Params.Effective())
	}
	dbT := tgt(t, c, "iqn.2006-10.net.example:san.db")
	if !dbT.Access.All || len(dbT.LUNs) != 2 || dbT.LUNs[1].LUN != 5 {
		t.Errorf("db target = %+v", dbT)
	}
	wantFinding(t, res.Findings, Warn, 25, "nv_cache")
	wantFinding(t, res.Findings, Review, 67, "esx3-*")
	wantFinding(t, res.Findings, Warn, 73, "rel_tgt_id 2")
	wantFinding(t, res.Findings, Review, 74, "allowed_portal")
	wantFinding(t, res.Findings, Warn, 83, "DEVICE_GROUP", "ALUA")
	// SCST's EUI-64 compatibility designator: the first 8 bytes of
	// t10_dev_id; naa_id replaces it.
	for _, w := range []string{"WWID 26462303120623263", "WWID 36001405abcdef0123456789abcdef012"} {
		if !strings.Contains(string(res.YAML), w) {
			t.Errorf("the output does not give SCST's %s", w)
		}
	}
}

func TestTargetcliSample(t *testing.T) {
	res, c := convertOK(t, "saveconfig.json", readTestdata(t, "saveconfig.json"), Options{DataDir: "/var/lib/halun"})
	if c.Node.DataDir != "/var/lib/halun" {
		t.Errorf("data_dir = %q", c.Node.DataDir)
	}
	web := vol(t, c, "web01")
	if web.Serial != "4e2a4b1c-7d3f-4a6b-9c8d-0e1f2a3b4c5d" || web.Size != 20<<30 || !web.WriteCache || !web.Thin || web.Path != "/var/lib/iscsi_disks/web01.img" {
		t.Errorf("web01 = %+v", web)
	}
	pg := vol(t, c, "pg_data")
	if pg.Backend != config.BackendBlock || pg.BlockSize != 4096 || pg.Serial != "b9e7d0a3-5c21-4f8e-a6d2-3f4e5a6b7c8d" || pg.WriteCache {
		t.Errorf("pg_data = %+v", pg)
	}
	if s := vol(t, c, "scratch"); s.Backend != config.BackendMemory || s.Size != 1<<30 {
		t.Errorf("scratch = %+v", s)
	}
	if c.Volume("ceph01") != nil {
		t.Error("user:rbd imported")
	}
	main := tgt(t, c, "iqn.2003-01.org.linux-iscsi.san2.x8664:sn.8a1b2c3d4e5f")
	if len(main.Access.Initiators) != 2 {
		t.Fatalf("ACLs = %+v", main.Access)
	}
	db := main.Access.Initiator("iqn.1994-05.com.redhat:db1")
	if db == nil || !db.OwnLUNs || len(db.LUNs) != 2 || db.LUNs[0] != (config.LUN{LUN: 0, Volume: "pg_data"}) || db.LUNs[1] != (config.LUN{LUN: 1, Volume: "web01"}) {
		t.Errorf("db1 mapped LUNs = %+v", db)
	}
	web1 := main.Access.Initiator("iqn.1994-05.com.redhat:web1")
	if web1 == nil || web1.CHAP == nil || web1.CHAP.User != "web1" || web1.CHAP.TargetUser != "target01" {
		t.Errorf("web1 = %+v", web1)
	}
	if p := main.Params; p.InitialR2T == nil || !*p.InitialR2T || *p.MaxRecvDataSegmentLength != 8192 || *p.MaxBurstLength != 262144 {
		t.Errorf("params = %+v", main.Params.Effective())
	}
	scratch := tgt(t, c, "iqn.2003-01.org.linux-iscsi.san2.x8664:sn.scratch")
	if !scratch.Access.All || scratch.Alias != "scratch space" || len(scratch.LUNs) != 1 || len(scratch.PortalGroups) != 1 {
		t.Errorf("scratch target = %+v", scratch)
	}
	if g := c.PortalGroup(scratch.PortalGroups[0]); g == nil || len(g.Portals) != 2 || g.Portals[1].Host != "fd00::5" {
		t.Errorf("scratch portals = %+v", g)
	}
	if c.Target("naa.5001405e1b2c3d4f") != nil {
		t.Error("loopback target imported")
	}
	if c.Discovery.CHAP == nil || c.Discovery.CHAP.User != "discovery" {
		t.Errorf("discovery = %+v", c.Discovery)
	}
	// LIO's NAA from a UUID serial is what halun derives: same WWID.
	for _, w := range []string{"WWID 360014054e2a4b1c7d3f4a6b9c8d0e1f2", "WWID 36001405cac100000000000000000000"} {
		if !strings.Contains(string(res.YAML), w) {
			t.Errorf("the output does not give LIO's %s", w)
		}
	}
	wantFinding(t, res.Findings, Review, 192, "write-protected")
	wantFinding(t, res.Findings, Warn, 107, "user:rbd")
	wantFinding(t, res.Findings, Warn, 276, "loopback")
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{"  {\"targets\": []}", FormatTargetcli},
		{"HANDLER vdisk_fileio {\n}\n", FormatSCST},
		{"# c\nTARGET_DRIVER iscsi {\n}", FormatSCST},
		{"Target iqn.2001-04.com.example:a\n  Lun 0 Path=/x\n", FormatIETD},
		{"IncomingUser a b\ntarget iqn.x:y\r\n", FormatIETD},
		{"node 1: a\nprimitive lu ocf:heartbeat:iSCSILogicalUnit \\\n\tparams lun=1\n", FormatPacemaker},
		{"primitive t ocf:heartbeat:iSCSITarget params iqn=iqn.x:y\n", FormatPacemaker},
		{"<?xml version=\"1.0\"?>\n<cib epoch=\"1\"><configuration/></cib>", FormatPacemaker},
		{"<resources><primitive id=\"lu\" class=\"ocf\" provider=\"heartbeat\" type=\"iSCSILogicalUnit\"/></resources>", FormatPacemaker},
		{"default-driver iscsi\n<target iqn.2026-11.test:a>\n  backing-store /x\n</target>\n", FormatTGT},
		{"  <target iqn.x:y>\n</target>", FormatTGT},
		{"Target 1: iqn.2026-11.test:a\n    System information:\n", FormatTGTAdm},
	} {
		if got, err := Detect([]byte(tc.in)); err != nil || got != tc.want {
			t.Errorf("Detect(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := Detect([]byte("hello")); err == nil {
		t.Error("Detect(hello) succeeded")
	}
}

// TestSCSTDefaults: SCST's generated usn and t10_dev_id
// (scst_vdisk.c vdisk_gen_dev_id_num: crc32c of the name and its NUL,
// seeded 0, not inverted; setup_id in the high half).
func TestSCSTDefaults(t *testing.T) {
	for _, c := range []struct {
		name     string
		setup    uint32
		usn, t10 string
	}{
		{"disk1", 0, "b8fdbd32", "b8fdbd32-disk1"},
		{"disk1", 0x1234, "1234b8fdbd32", "1234b8fdbd32-disk1"},
		{"disk01", 0, "27cddc71", "27cddc71-disk01"},
		{"vol0", 0, "609bbc13", "609bbc13-vol0"},
		{"a-rather-long-device-name", 0, scstDefaultUSN("a-rather-long-device-name", 0), (scstDefaultUSN("a-rather-long-device-name", 0) + "-a-rather-long-device-name")[:25]},
	} {
		if got := scstDefaultUSN(c.name, c.setup); got != c.usn {
			t.Errorf("usn(%s, %#x) = %s, want %s", c.name, c.setup, got, c.usn)
		}
		if got := scstDefaultT10DevID(c.name, c.setup); got != c.t10 || len(got) > 25 {
			t.Errorf("t10_dev_id(%s, %#x) = %s, want %s", c.name, c.setup, got, c.t10)
		}
	}
	if r, err := SCSTRevision("3.6"); err != nil || r != "360 " {
		t.Errorf("SCSTRevision(3.6) = %q, %v", r, err)
	}
	if _, err := SCSTRevision("2.2"); err == nil {
		t.Error("SCSTRevision(2.2) accepted")
	}
}
