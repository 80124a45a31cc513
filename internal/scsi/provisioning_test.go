package scsi

import (
	"bytes"
	"testing"
)

func unmapList(descs ...[2]uint64) []byte {
	p := make([]byte, 8+16*len(descs))
	put16(p, uint16(len(p)-2))
	put16(p[2:], uint16(16*len(descs)))
	for i, d := range descs {
		put64(p[8+16*i:], d[0])
		put32(p[16+16*i:], uint32(d[1]))
	}
	return p
}

func TestSBC3_5_28_Unmap(t *testing.T) {
	tl := newTestLU(t, LUConfig{Thin: true}, 8192)
	wantGood(t, tl.do(cdb16(opWrite16, 0, 0, 8192), fill(8192*512, 0xee)))
	p := unmapList([2]uint64{0, 2048}, [2]uint64{4096, 100})
	r := tl.do(cdb10(opUnmap, 0, 0, uint16(len(p))), p)
	wantGood(t, r)
	if r.DataOutLength != uint32(len(p)) {
		t.Errorf("DataOutLength %d", r.DataOutLength)
	}
	d := tl.do(cdb16(opRead16, 0, 0, 8192), nil).Data
	for i := 0; i < len(d); i += 512 {
		lba := i / 512
		zero := lba < 2048 || lba >= 4096 && lba < 4196
		if (d[i] == 0) != zero {
			t.Fatalf("LBA %d first byte %#x", lba, d[i])
		}
	}

	cases := []struct {
		name string
		cdb  []byte
		data []byte
		key  uint8
		asc  uint16
	}{
		{"past end", cdb10(opUnmap, 0, 0, 24), unmapList([2]uint64{8190, 3}), keyIllegalRequest, ascLBAOutOfRange},
		{"short list", cdb10(opUnmap, 0, 0, 4), make([]byte, 4), keyIllegalRequest, ascParameterListLengthError},
		{"data length too big", cdb10(opUnmap, 0, 0, 24), func() []byte { p := unmapList([2]uint64{0, 1}); put16(p, 100); return p }(), keyIllegalRequest, ascParameterListLengthError},
		{"anchor", cdb10(opUnmap, 0x01, 0, 24), unmapList([2]uint64{0, 1}), keyIllegalRequest, ascInvalidFieldInCDB},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCheck(t, tl.do(c.cdb, c.data), c.key, c.asc)
		})
	}
	wantGood(t, tl.do(cdb10(opUnmap, 0, 0, 0), nil))
}

func TestSBC3_5_43_WriteSame(t *testing.T) {
	tl := newTestLU(t, LUConfig{Thin: true}, 4096)
	pat := fill(512, 0x5a)
	r := tl.do(cdb10(opWriteSame10, 0, 10, 100), pat)
	wantGood(t, r)
	if r.DataOutLength != 512 {
		t.Errorf("DataOutLength %d", r.DataOutLength)
	}
	d := tl.do(cdb10(opRead10, 0, 9, 102), nil).Data
	if d[0] != 0 || d[101*512] != 0 || !bytes.Equal(d[512:101*512], fill(100*512, 0x5a)) {
		t.Fatal("WRITE SAME pattern not in place")
	}
	// UNMAP with a zero block deallocates; reads return zeros.
	wantGood(t, tl.do(cdb16(opWriteSame16, 0x08, 10, 100), make([]byte, 512)))
	if d := tl.do(cdb10(opRead10, 0, 10, 100), nil).Data; !bytes.Equal(d, make([]byte, 100*512)) {
		t.Fatal("WRITE SAME UNMAP left data")
	}
	// NDOB writes zeros without data-out.
	wantGood(t, tl.do(cdb10(opWriteSame10, 0, 0, 1), pat))
	r = tl.do(cdb16(opWriteSame16, 0x09, 0, 1), nil)
	wantGood(t, r)
	if r.DataOutLength != 0 {
		t.Errorf("NDOB DataOutLength %d", r.DataOutLength)
	}
	if d := tl.do(cdb10(opRead10, 0, 0, 1), nil).Data; !bytes.Equal(d, make([]byte, 512)) {
		t.Fatal("NDOB did not zero")
	}
	wantCheck(t, tl.do(cdb10(opWriteSame10, 0, 0, 0), pat), keyIllegalRequest, ascInvalidFieldInCDB) // WSNZ on thin LUs
	thick := newTestLU(t, LUConfig{}, 4096)
	wantCheck(t, thick.do(cdb10(opWriteSame10, 0x08, 0, 1), pat), keyIllegalRequest, ascInvalidFieldInCDB) // UNMAP needs LBPME
	wantGood(t, thick.do(cdb10(opWriteSame10, 0, 4000, 0), pat))                                           // WSNZ 0: to the end of the medium
	if d := thick.do(cdb10(opRead10, 0, 4095, 1), nil).Data; !bytes.Equal(d, pat) {
		t.Fatal("WRITE SAME with zero blocks did not reach the last block")
	}
	wantCheck(t, newTestLU(t, LUConfig{}, 1<<17).do(cdb10(opWriteSame10, 0, 0, 0), pat), keyIllegalRequest, ascInvalidFieldInCDB) // beyond MAXIMUM WRITE SAME LENGTH
	wantCheck(t, tl.do(cdb10(opWriteSame10, 0, 0, 1), append(pat, pat...)), keyIllegalRequest, ascInvalidFieldInCommandIU)
	wantCheck(t, tl.do(cdb10(opWriteSame10, 0, 4095, 2), pat), keyIllegalRequest, ascLBAOutOfRange)
	wantCheck(t, tl.do(cdb16(opWriteSame16, 0x10, 0, 1), pat), keyIllegalRequest, ascInvalidFieldInCDB) // ANCHOR
	wantCheck(t, tl.do(cdb10(opWriteSame10, 0, 0, 1), pat[:100]), keyIllegalRequest, ascInvalidFieldInCommandIU)
}

func TestSBC3_5_17_GetLBAStatus(t *testing.T) {
	tl := newTestLU(t, LUConfig{Thin: true, BlockSize: 4096}, 1024) // 4 MiB: four 1 MiB chunks
	wantGood(t, tl.do(cdb10(opWrite10, 0, 256, 1), make([]byte, 4096)))
	cdb := make([]byte, 16)
	cdb[0], cdb[1] = opServiceActionIn16, saGetLBAStatus
	put32(cdb[10:], 1024)
	r := tl.do(cdb, nil)
	wantGood(t, r)
	d := r.Data
	if int(be32(d))+4 != len(d) || len(d) != 8+3*16 {
		t.Fatalf("GET LBA STATUS % x", d)
	}
	want := []struct {
		lba    uint64
		n      uint32
		status byte
	}{{0, 256, 1}, {256, 256, 0}, {512, 512, 1}}
	for i, w := range want {
		e := d[8+16*i:]
		if be64(e) != w.lba || be32(e[8:]) != w.n || e[12] != w.status {
			t.Errorf("descriptor %d: lba %d n %d status %d, want %+v", i, be64(e), be32(e[8:]), e[12], w)
		}
	}
	put64(cdb[2:], 1024)
	wantCheck(t, tl.do(cdb, nil), keyIllegalRequest, ascLBAOutOfRange)
}

func TestSBC3_5_2_CompareAndWrite(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	old := fill(512, 'o')
	wantGood(t, tl.do(cdb10(opWrite10, 0, 5, 1), old))
	caw := cdb16(opCompareAndWrite, 0, 5, 0)
	caw[13] = 1
	r := tl.do(caw, append(append([]byte(nil), old...), fill(512, 'n')...))
	wantGood(t, r)
	if r.DataOutLength != 1024 {
		t.Errorf("DataOutLength %d", r.DataOutLength)
	}
	if d := tl.do(cdb10(opRead10, 0, 5, 1), nil).Data; d[0] != 'n' {
		t.Fatal("COMPARE AND WRITE did not write")
	}
	verify := fill(512, 'n')
	verify[77] = 'x'
	s := wantCheck(t, tl.do(caw, append(verify, fill(512, 'z')...)), keyMiscompare, ascMiscompareDuringVerify)
	if !s.infoValid || s.info != 77 {
		t.Errorf("INFORMATION %d", s.info)
	}
	if d := tl.do(cdb10(opRead10, 0, 5, 1), nil).Data; d[0] != 'n' {
		t.Fatal("miscompare wrote data")
	}
	// Data-out must be exactly verify + write data (libiscsi
	// CompareAndWrite.InvalidDataOutSize).
	wantCheck(t, tl.do(caw, append(fill(512, 'n'), fill(3*512, 'n')...)), keyIllegalRequest, ascInvalidFieldInCommandIU)
	wantCheck(t, tl.do(caw, fill(512, 'n')), keyIllegalRequest, ascInvalidFieldInCommandIU)
	caw[13] = 2
	wantCheck(t, tl.do(caw, make([]byte, 2048)), keyIllegalRequest, ascInvalidFieldInCDB)
	// 256 blocks truncated to 0 in the one-byte field, with the data
	// (libiscsi CompareAndWrite.Simple); without data 0 is a no-op.
	caw[13] = 0
	wantCheck(t, tl.do(caw, make([]byte, 256*1024)), keyIllegalRequest, ascInvalidFieldInCDB)
	wantGood(t, tl.do(caw, nil))
	caw = cdb16(opCompareAndWrite, 0, 100, 0)
	caw[13] = 1
	wantCheck(t, tl.do(caw, make([]byte, 1024)), keyIllegalRequest, ascLBAOutOfRange)
}

func TestSBC3_5_9_OrWrite(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	wantGood(t, tl.do(cdb10(opWrite10, 0, 0, 1), fill(512, 0x0f)))
	wantGood(t, tl.do(cdb16(opOrWrite16, 0, 0, 1), fill(512, 0xf0)))
	if d := tl.do(cdb10(opRead10, 0, 0, 1), nil).Data; !bytes.Equal(d, fill(512, 0xff)) {
		t.Fatalf("ORWRITE result %#x", d[0])
	}
}

func TestSPC4_6_35_ReportSupportedOperationCodes(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	rsoc := func(opts, op byte, sa uint16, rctd bool) []byte {
		b := make([]byte, 12)
		b[0], b[1] = opMaintenanceIn, saReportOpcodes
		b[2] = opts
		if rctd {
			b[2] |= 0x80
		}
		b[3] = op
		put16(b[4:], sa)
		put32(b[6:], 65536)
		return b
	}
	r := tl.do(rsoc(0, 0, 0, false), nil)
	wantGood(t, r)
	d := r.Data
	if int(be32(d))+4 != len(d) || (len(d)-4)%8 != 0 {
		t.Fatalf("all commands: length %d / %d", be32(d), len(d))
	}
	seen := map[[2]uint16]bool{}
	for p := 4; p < len(d); p += 8 {
		seen[[2]uint16{uint16(d[p]), be16(d[p+2:])}] = true
		if d[p] == opUnmap {
			t.Error("UNMAP reported on a LU that is not thin")
		}
	}
	for _, k := range [][2]uint16{{opRead10, 0}, {opWrite16, 0}, {opServiceActionIn16, saReadCapacity16}, {opInquiry, 0}} {
		if !seen[k] {
			t.Errorf("%x/%x not reported", k[0], k[1])
		}
	}
	r = tl.do(rsoc(0, 0, 0, true), nil)
	if (len(r.Data)-4)%20 != 0 {
		t.Errorf("RCTD: %d bytes", len(r.Data))
	}

	r = tl.do(rsoc(1, opRead10, 0, false), nil)
	wantGood(t, r)
	if r.Data[1]&7 != 3 || be16(r.Data[2:]) != 10 || r.Data[4] != opRead10 {
		t.Errorf("one command READ(10): % x", r.Data)
	}
	r = tl.do(rsoc(1, 0x01, 0, false), nil)
	if r.Data[1]&7 != 1 {
		t.Errorf("unsupported opcode reported as % x", r.Data)
	}
	r = tl.do(rsoc(2, opServiceActionIn16, saReadCapacity16, false), nil)
	if r.Data[1]&7 != 3 || be16(r.Data[2:]) != 16 {
		t.Errorf("READ CAPACITY(16): % x", r.Data)
	}
	wantCheck(t, tl.do(rsoc(1, opServiceActionIn16, 0, false), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	wantCheck(t, tl.do(rsoc(2, opRead10, 0, false), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	wantCheck(t, tl.do(rsoc(5, 0, 0, false), nil), keyIllegalRequest, ascInvalidFieldInCDB)
}

// TestSPC4_6_35_UsageMatchesCDBLength keeps the opcode table honest.
func TestSPC4_6_35_UsageMatchesCDBLength(t *testing.T) {
	for _, d := range opList() {
		if len(d.usage) != cdbLength(d.op) || d.usage[0] != d.op {
			t.Errorf("%s: usage data of %d bytes for a %d-byte CDB", d.name, len(d.usage), cdbLength(d.op))
		}
		if d.hasSA && d.usage[1]&0x1f != byte(d.sa) {
			t.Errorf("%s: usage byte 1 %#x, service action %#x", d.name, d.usage[1], d.sa)
		}
	}
}
