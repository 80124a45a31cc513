package scsi

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/identity"
)

func inquiryCDB(evpd bool, page byte, alloc uint16) []byte {
	b := []byte{opInquiry, 0, page, byte(alloc >> 8), byte(alloc), 0}
	if evpd {
		b[1] = 1
	}
	return b
}

func TestSPC4_6_6_2_StandardInquiry(t *testing.T) {
	id, err := identity.Resolve(identity.Spec{Serial: "s1", Vendor: "ACME", Product: "disk", Revision: "9"})
	if err != nil {
		t.Fatal(err)
	}
	tl := newTestLU(t, LUConfig{Removable: true, Identity: id}, 100)
	r := tl.do(inquiryCDB(false, 0, 260), nil)
	wantGood(t, r)
	d := r.Data
	if len(d) < 36 || int(d[4]) != len(d)-5 {
		t.Fatalf("length %d, ADDITIONAL LENGTH %d", len(d), d[4])
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"peripheral qualifier 0, type 0", d[0] == 0},
		{"RMB", d[1]&0x80 != 0},
		{"version SPC-4", d[2] == 0x06},
		{"response data format 2", d[3]&0x0f == 2},
		{"no AERC/TRMTSK", d[3]&0xc0 == 0},
		{"CMDQUE", d[7]&0x02 != 0},
		{"vendor padded", string(d[8:16]) == "ACME    "},
		{"product padded", string(d[16:32]) == "disk            "},
		{"revision", string(d[32:36]) == "9   "},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: % x", c.name, d[:36])
		}
	}
	var got []uint16
	for i := 58; i < 74; i += 2 {
		got = append(got, binary.BigEndian.Uint16(d[i:]))
	}
	for _, want := range []uint16{0x0460, 0x04c0, 0x0960} {
		found := false
		for _, v := range got {
			found = found || v == want
		}
		if !found {
			t.Errorf("version descriptor %#04x missing from %x", want, got)
		}
	}
}

func TestSPC4_6_6_1_InquiryInvalidFields(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	cases := []struct {
		name string
		cdb  []byte
		off  int
	}{
		{"CMDDT", []byte{opInquiry, 0x02, 0, 0, 255, 0}, 1},
		{"page code without EVPD", inquiryCDB(false, 0x80, 255), 2},
		{"unsupported VPD page", inquiryCDB(true, 0x42, 255), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := wantCheck(t, tl.do(c.cdb, nil), keyIllegalRequest, ascInvalidFieldInCDB)
			if int(s.sks[1])<<8|int(s.sks[2]) != c.off || s.sks[0]&0xc0 != 0xc0 {
				t.Errorf("sense key specific % x, want CDB byte %d", s.sks, c.off)
			}
		})
	}
}

func TestSPC4_6_6_AllocationLength(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	for _, alloc := range []uint16{0, 1, 5, 36, 95, 96, 1000} {
		r := tl.do(inquiryCDB(false, 0, alloc), nil)
		wantGood(t, r)
		if want := min(int(alloc), stdInquiryLen); len(r.Data) != want {
			t.Errorf("alloc %d: %d bytes, want %d", alloc, len(r.Data), want)
		}
	}
	// The precomputed data must not be modifiable through a result.
	r := tl.do(inquiryCDB(false, 0, 96), nil)
	r.Data[8] = 'X'
	if r2 := tl.do(inquiryCDB(false, 0, 96), nil); r2.Data[8] == 'X' {
		t.Fatal("standard INQUIRY data shared with a result")
	}
}

func TestSPC4_7_8_VPDPages(t *testing.T) {
	cases := []struct {
		page byte
		len  int // total length, 0: variable
	}{
		{0x00, 0}, {0x80, 0}, {0x83, 0}, {0x86, 64}, {0xb0, 64}, {0xb1, 64}, {0xb2, 8},
	}
	tl := newTestLU(t, LUConfig{Thin: true}, 100)
	sup := tl.do(inquiryCDB(true, 0, 255), nil).Data
	for _, c := range cases {
		t.Run("page "+string("0123456789abcdef"[c.page>>4])+string("0123456789abcdef"[c.page&15]), func(t *testing.T) {
			r := tl.do(inquiryCDB(true, c.page, 255), nil)
			wantGood(t, r)
			d := r.Data
			if d[0] != 0 || d[1] != c.page || int(binary.BigEndian.Uint16(d[2:]))+4 != len(d) {
				t.Fatalf("bad header % x (length %d)", d[:4], len(d))
			}
			if c.len != 0 && len(d) != c.len {
				t.Errorf("length %d, want %d", len(d), c.len)
			}
			if bytes.IndexByte(sup[4:], c.page) < 0 {
				t.Errorf("page not listed in VPD 0x00 % x", sup)
			}
		})
	}
}

func TestSPC4_7_8_17_UnitSerial(t *testing.T) {
	tl := newTestLU(t, LUConfig{Serial: "halun-0001"}, 100)
	d := tl.do(inquiryCDB(true, 0x80, 255), nil).Data
	if string(d[4:]) != "halun-0001" {
		t.Fatalf("serial %q", d[4:])
	}
}

// designators splits a VPD 0x83 page into its designation descriptors.
func designators(t *testing.T, d []byte) [][]byte {
	var out [][]byte
	for p := 4; p < len(d); {
		if p+4 > len(d) || p+4+int(d[p+3]) > len(d) {
			t.Fatalf("designator at %d overruns page % x", p, d)
		}
		out = append(out, d[p:p+4+int(d[p+3])])
		p += 4 + int(d[p+3])
	}
	return out
}

func TestSPC4_7_8_6_DeviceIdentification(t *testing.T) {
	tl := newTestLU(t, LUConfig{Serial: "6001405a1b2c3d4e5f60718293a4b5c6"}, 100)
	r := tl.tgt.execute(&Command{Nexus: Nexus{InitiatorName: "i", TargetName: testTargetName, TPGT: 7}, CDB: pad16(inquiryCDB(true, 0x83, 1024))})
	// First command of this nexus: INQUIRY is not blocked by the UA.
	wantGood(t, r)
	ds := designators(t, r.Data)
	if len(ds) != 6 {
		t.Fatalf("%d designators, want 6", len(ds))
	}
	type want struct {
		codeSet, assocType byte
		piv                bool
		value              []byte
	}
	wants := []want{
		{codeSetBinary, assocLU | desigNAA, false, []byte{0x60, 0x01, 0x40, 0x56, 0x00, 0x14, 0x05, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29}},
		{codeSetASCII, assocLU | desigT10Vendor, false, []byte("HALUN   6001405a1b2c3d4e5f60718293a4b5c6")},
		{codeSetBinary, assocTargetPort | desigRelativePort, true, []byte{0, 0, 0, 7}}, // relative port = TPGT
		{codeSetBinary, assocTargetPort | desigTPG, true, []byte{0, 0, 0, 7}},
		{codeSetUTF8, assocTargetPort | desigSCSIName, true, scsiName(testTargetName + ",t,0x0007")},
		{codeSetUTF8, assocTarget | desigSCSIName, true, scsiName(testTargetName)},
	}
	for i, w := range wants {
		d := ds[i]
		if d[0]&0x0f != w.codeSet || d[1]&0x3f != w.assocType || (d[1]&0x80 != 0) != w.piv {
			t.Errorf("designator %d header % x", i, d[:4])
		}
		if w.piv && d[0]>>4 != protoISCSI {
			t.Errorf("designator %d protocol %d, want iSCSI", i, d[0]>>4)
		}
		if !bytes.Equal(d[4:], w.value) {
			t.Errorf("designator %d = % x, want % x", i, d[4:], w.value)
		}
		if w.assocType&0x0f == desigSCSIName && len(d[4:])%4 != 0 {
			t.Errorf("SCSI name string not padded to 4: %d", len(d[4:]))
		}
	}
}

// TestSPC4_7_8_6_IdentityDeterministic checks the property halun exists
// for: the logical unit designators depend on the configuration only, not
// on the store, LUN number, target or order of creation.
func TestSPC4_7_8_6_IdentityDeterministic(t *testing.T) {
	lu1, _ := NewLU(LUConfig{Serial: "disk-a"}, backend.NewMemory(1<<20))
	lu2, _ := NewLU(LUConfig{Serial: "disk-a", Thin: true, BlockSize: 4096}, backend.NewMemory(8<<20))
	lu3, _ := NewLU(LUConfig{Serial: "disk-b"}, backend.NewMemory(1<<20))
	if !bytes.Equal(lu1.luDesigs, lu2.luDesigs) {
		t.Fatal("same serial, different LU designators")
	}
	if bytes.Equal(lu1.luDesigs, lu3.luDesigs) {
		t.Fatal("different serials, same LU designators")
	}
	// Golden value: changing it breaks every deployed initiator's view
	// (internal/identity pins every style; this pins the LU's page).
	if got := strings.ToUpper(hexString(lu1.luDesigs[4:20])); got != "60014059E1C4864940E1D0B0DF724FEA" {
		t.Errorf("NAA for serial disk-a changed: %s", got)
	}
}

func hexString(b []byte) string {
	const h = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, h[c>>4], h[c&15])
	}
	return string(s)
}

func TestSBC3_6_6_3_BlockLimits(t *testing.T) {
	for _, thin := range []bool{false, true} {
		tl := newTestLU(t, LUConfig{Thin: thin}, 1000)
		d := tl.do(inquiryCDB(true, 0xb0, 64), nil).Data
		if len(d) != 64 || d[3] != 0x3c {
			t.Fatalf("page length %d", d[3])
		}
		maxUnmap := binary.BigEndian.Uint32(d[20:])
		maxDescs := binary.BigEndian.Uint32(d[24:])
		if thin != (maxUnmap != 0 && maxDescs != 0) {
			t.Errorf("thin %v: MAXIMUM UNMAP LBA COUNT %d, DESCRIPTORS %d", thin, maxUnmap, maxDescs)
		}
		lbp := tl.do(inquiryCDB(true, 0xb2, 64), nil).Data
		if (lbp[5]&0x80 != 0) != thin {
			t.Errorf("thin %v: LBPU %v", thin, lbp[5]&0x80 != 0)
		}
	}
}

func TestSPC4_6_6_NoLogicalUnit(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	lun5 := encodeLUN(5)
	r := tl.tgt.execute(&Command{Nexus: nexusA, LUN: lun5, CDB: pad16(inquiryCDB(false, 0, 96))})
	wantGood(t, r)
	if r.Data[0] != 0x7f {
		t.Fatalf("peripheral byte %#x, want qualifier 3 type 1Fh", r.Data[0])
	}
	for _, cdb := range [][]byte{{opTestUnitReady}, cdb10(opRead10, 0, 0, 1), {0xff}} {
		wantCheck(t, tl.tgt.execute(&Command{Nexus: nexusA, LUN: lun5, CDB: pad16(cdb)}), keyIllegalRequest, ascLUNotSupported)
	}
	// REQUEST SENSE reports the condition as parameter data.
	r = tl.tgt.execute(&Command{Nexus: nexusA, LUN: lun5, CDB: pad16([]byte{opRequestSense, 0, 0, 0, 252, 0})})
	wantGood(t, r)
	if s := parseSense(t, r.Data); s.key != keyIllegalRequest || s.asc != ascLUNotSupported {
		t.Fatalf("REQUEST SENSE data %+v", s)
	}
	// REPORT LUNS works on any LUN.
	r = tl.tgt.execute(&Command{Nexus: nexusA, LUN: lun5, CDB: pad16([]byte{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})})
	wantGood(t, r)
}

// TestSBC3_6_6_3_OptimalUnmapGranularity: thin 512-byte LUs report 4 KiB,
// LUs with larger blocks report none (0, UGAVALID clear), so QEMU keeps no
// allocation map it would query with GET LBA STATUS lengths that are not
// whole blocks (see optimalUnmapGranularity).
func TestSBC3_6_6_3_OptimalUnmapGranularity(t *testing.T) {
	for _, tc := range []struct {
		bs, phys uint32
		want     uint32
		ugavalid bool
	}{
		{512, 0, 8, true},
		{512, 4096, 8, true},
		{4096, 0, 0, false},
	} {
		tl := newTestLU(t, LUConfig{Thin: true, BlockSize: tc.bs, PhysicalBlockSize: tc.phys}, 1000)
		d := tl.do(inquiryCDB(true, 0xb0, 64), nil).Data
		if got := binary.BigEndian.Uint32(d[28:]); got != tc.want {
			t.Errorf("block size %d: OPTIMAL UNMAP GRANULARITY %d, want %d", tc.bs, got, tc.want)
		}
		if got := d[32]&0x80 != 0; got != tc.ugavalid {
			t.Errorf("block size %d: UGAVALID %v, want %v", tc.bs, got, tc.ugavalid)
		}
		if binary.BigEndian.Uint32(d[20:]) == 0 {
			t.Errorf("block size %d: UNMAP not offered", tc.bs)
		}
	}
}
