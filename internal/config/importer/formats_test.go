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
	wantFinding(t, res.Findings, Warn, 9, `ScsiId "vmsys1-0001" not carried`, "T10 vendor")
	wantFinding(t, res.Findings, Warn, 29, "Type=nullio")
	wantFinding(t, res.Findings, Warn, 10, "IOMode=wb")
	wantFinding(t, res.Findings, Review, 2, "192.168.10.0/24")
	wantFinding(t, res.Findings, Warn, 35, "no ScsiSN")
	if !strings.Contains(string(res.YAML), `IET ScsiId "vmsys1-0001" is not carried`) {
		t.Error("the output does not say ScsiId is not carried")
	}
}

func TestSCSTSample(t *testing.T) {
	res, c := convertOK(t, "scst.conf", readTestdata(t, "scst.conf"), Options{})
	db := vol(t, c, "db01")
	if db.Backend != config.BackendBlock || db.BlockSize != 4096 || db.Serial != "b2c3d4e5" || !db.Thin || db.WriteCache {
		t.Errorf("db01 = %+v", db)
	}
	esx := vol(t, c, "esx_ds1")
	if esx.Size != 100<<30 || esx.Serial != "9f8e7d6c" || esx.WriteCache || esx.Thin {
		t.Errorf("esx_ds1 = %+v", esx)
	}
	iso := vol(t, c, "iso_lib")
	if iso.Size != 20<<30 || !iso.ReadOnly || iso.Serial != "0a1b2c3d4e5f60718293a4b5" || !iso.WriteCache {
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
	wantFinding(t, res.Findings, Warn, 15, `t10_dev_id "db01 b2c3d4e5" not carried`)
	wantFinding(t, res.Findings, Warn, 36, "naa_id", "36001405abcdef0123456789abcdef012")
	wantFinding(t, res.Findings, Warn, 25, "nv_cache")
	wantFinding(t, res.Findings, Review, 67, "esx3-*")
	wantFinding(t, res.Findings, Warn, 73, "rel_tgt_id 2")
	wantFinding(t, res.Findings, Review, 74, "allowed_portal")
	wantFinding(t, res.Findings, Warn, 83, "DEVICE_GROUP", "ALUA")
	// SCST's EUI-64 compatibility designator: the first 8 bytes of t10_dev_id.
	if !strings.Contains(string(res.YAML), "Linux WWID: 26462303120623263 ->") {
		t.Error("the output does not give SCST's old WWID")
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
	if !strings.Contains(string(res.YAML), "Linux WWID 360014054e2a4b1c7d3f4a6b9c8d0e1f2") {
		t.Error("the output does not give web01's unchanged WWID")
	}
	wantFinding(t, res.Findings, Warn, 105, "fewer than 16 hex digits")
	wantFinding(t, res.Findings, Review, 192, "write-protected")
	wantFinding(t, res.Findings, Warn, 107, "user:rbd")
	wantFinding(t, res.Findings, Warn, 276, "loopback")
}

func TestLIONAA(t *testing.T) {
	for _, tc := range []struct{ serial, naa string }{
		{"4e2a4b1c-7d3f-4a6b-9c8d-0e1f2a3b4c5d", "60014054e2a4b1c7d3f4a6b9c8d0e1f2"},
		{"scratch1", "6001405cac10000000000000000000000"[:32]},
		{"", "60014050000000000000000000000000"},
	} {
		if got := lioNAA(tc.serial); got != tc.naa {
			t.Errorf("lioNAA(%q) = %s, want %s", tc.serial, got, tc.naa)
		}
	}
	if _, ok := halunWWID("VMSYS10001"); ok {
		t.Error("a serial with fewer than 16 hex digits has a predictable WWID")
	}
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
