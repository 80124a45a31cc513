package scsi

import (
	"bytes"
	"testing"

	"github.com/halun/halun/internal/backend"
)

// xcopyTarget serves two 512-byte-block LUs (LUN 0 and 1) and a 4096-byte
// one (LUN 2).
func xcopyTarget(t *testing.T) (*LUNTarget, []*LU) {
	var lus []*LU
	for _, c := range []LUConfig{{Serial: "6001405aaaaaaaaaaaaaaaaaaaaaaaa0"}, {Serial: "6001405bbbbbbbbbbbbbbbbbbbbbbbb1"}, {Serial: "6001405ccccccccccccccccccccccccc2", BlockSize: 4096}} {
		if c.BlockSize == 0 {
			c.BlockSize = 512
		}
		lu, err := NewLU(c, backend.NewMemory(4096*int64(c.BlockSize)))
		if err != nil {
			t.Fatal(err)
		}
		lus = append(lus, lu)
	}
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: lus[0], 1: lus[1], 2: lus[2]})
	for l := range 3 {
		tgt.execute(&Command{Nexus: nexusA, LUN: encodeLUN(uint64(l)), CDB: make([]byte, 16)})
	}
	return tgt, lus
}

// cscd is an identification CSCD descriptor naming lu by its NAA designator.
func cscd(lu *LU) []byte {
	d := make([]byte, 32)
	d[0] = cscdIdentification
	copy(d[4:], lu.luDesigs[:20]) // the NAA designation descriptor
	d[29], d[30], d[31] = byte(lu.bs>>16), byte(lu.bs>>8), byte(lu.bs)
	return d
}

func b2b(src, dst uint16, blocks uint16, srcLBA, dstLBA uint64) []byte {
	d := make([]byte, 28)
	d[0] = segBlockToBlock
	put16(d[2:], 24)
	put16(d[4:], src)
	put16(d[6:], dst)
	put16(d[10:], blocks)
	put64(d[12:], srcLBA)
	put64(d[20:], dstLBA)
	return d
}

func xcopyParams(listID, usage byte, targets [][]byte, segs [][]byte) []byte {
	tl := bytes.Join(targets, nil)
	sl := bytes.Join(segs, nil)
	h := make([]byte, 16)
	h[0], h[1] = listID, usage<<3
	put16(h[2:], uint16(len(tl)))
	put32(h[8:], uint32(len(sl)))
	return append(append(h, tl...), sl...)
}

func xcopyCDB(plen int) []byte {
	c := make([]byte, 16)
	c[0] = opExtendedCopy
	put32(c[10:], uint32(plen))
	return c
}

// SPC-4 6.4: EXTENDED COPY (LID1) parameter list checks and copies
// between LUs of the target.
func TestSPC4_6_4_ExtendedCopy(t *testing.T) {
	tgt, lus := xcopyTarget(t)
	run := func(p []byte, plen int) Result {
		return tgt.execute(&Command{Nexus: nexusA, CDB: xcopyCDB(plen), DataOut: p})
	}
	ok := xcopyParams(1, 0, [][]byte{cscd(lus[0]), cscd(lus[1])}, [][]byte{b2b(0, 1, 8, 0, 100)})
	many := func(nt, ns int) []byte {
		var ts, ss [][]byte
		for range nt {
			ts = append(ts, cscd(lus[0]))
		}
		for range ns {
			ss = append(ss, b2b(0, 0, 1, 0, 1))
		}
		return xcopyParams(1, 0, ts, ss)
	}
	bad := func(f func(p []byte)) []byte { p := bytes.Clone(ok); f(p); return p }
	cases := []struct {
		name string
		p    []byte
		plen int
		key  uint8
		asc  uint16
	}{
		{"copy between LUs", ok, len(ok), 0, 0},
		{"length zero", nil, 0, 0, 0},
		{"length truncates a CSCD", ok, 16 + 31, keyIllegalRequest, ascParameterListLengthError},
		{"length truncates a segment", ok, len(ok) - 1, keyIllegalRequest, ascParameterListLengthError},
		{"short data-out", ok[:40], len(ok), keyIllegalRequest, ascParameterListLengthError},
		{"too many CSCDs", many(xcopyMaxTargets+1, 1), len(many(xcopyMaxTargets+1, 1)), keyIllegalRequest, ascTooManyTargets},
		{"too many segments", many(1, xcopyMaxSegments+1), len(many(1, xcopyMaxSegments+1)), keyIllegalRequest, ascTooManySegments},
		{"descriptor lists too long", many(1, 40), len(many(1, 40)), keyIllegalRequest, ascParameterListLengthError},
		{"FC N_Port_Name CSCD", bad(func(p []byte) { p[16] = 0xe0 }), len(ok), keyIllegalRequest, ascUnsupportedTgt},
		{"stream segment", bad(func(p []byte) { p[80] = 0x03 }), len(ok), keyIllegalRequest, ascUnsupportedSeg},
		{"unknown designator", bad(func(p []byte) { p[16+10] ^= 0xff }), len(ok), keyCopyAborted, ascUnreachableCopy},
		{"CSCD index out of range", bad(func(p []byte) { p[80+7] = 2 }), len(ok), keyCopyAborted, ascUnreachableCopy},
		{"beyond the end", bad(func(p []byte) { put64(p[80+20:], 4090) }), len(ok), keyCopyAborted, ascCopyTargetNotRch},
		{"block length mismatch", bad(func(p []byte) { p[16+30] = 0x10 }), len(ok), keyIllegalRequest, ascInvalidFieldInParamList},
		{"inline data", bad(func(p []byte) { p[15] = 1 }), len(ok), keyIllegalRequest, ascInvalidFieldInParamList},
		{"LU ID TYPE is ignored", bad(func(p []byte) { p[17] = 0xc0 }), len(ok), 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(c.p, c.plen)
			if c.key == 0 {
				wantGood(t, r)
				return
			}
			wantCheck(t, r, c.key, c.asc)
		})
	}
}

func TestSPC4_6_4_ExtendedCopyData(t *testing.T) {
	tgt, lus := xcopyTarget(t)
	exec := func(lun uint64, cdb, d []byte) Result {
		return tgt.execute(&Command{Nexus: nexusA, LUN: encodeLUN(lun), CDB: pad16(cdb), DataOut: d})
	}
	src := make([]byte, 64*512)
	for i := range src {
		src[i] = byte(i / 512)
	}
	wantGood(t, exec(0, cdb10(opWrite10, 0, 10, 64), src))
	// LUN 0 → LUN 1, then an overlapping copy within LUN 1 upwards.
	p := xcopyParams(7, 0, [][]byte{cscd(lus[0]), cscd(lus[1])}, [][]byte{b2b(0, 1, 64, 10, 200), b2b(1, 1, 64, 200, 216)})
	wantGood(t, exec(0, xcopyCDB(len(p)), p))
	if got := exec(1, cdb10(opRead10, 0, 216, 64), nil).Data; !bytes.Equal(got, src) {
		t.Fatal("overlapping copy corrupted the data")
	}
	// SPC-4 6.18.3: the held status.
	rcr := make([]byte, 16)
	rcr[0], rcr[1], rcr[2] = opReceiveCopyResults, saCopyStatus, 7
	put32(rcr[10:], 1024)
	r := exec(0, rcr, nil)
	wantGood(t, r)
	if r.Data[4] != 1 || be16(r.Data[5:]) != 2 || be32(r.Data[8:]) != 2*64*512 {
		t.Fatalf("copy status % x", r.Data)
	}
	rcr[2] = 8
	wantCheck(t, exec(0, rcr, nil), keyIllegalRequest, ascInvalidFieldInCDB)
	// Different block sizes are refused.
	p = xcopyParams(1, 2, [][]byte{cscd(lus[0]), cscd(lus[2])}, [][]byte{b2b(0, 1, 1, 0, 0)})
	wantCheck(t, exec(0, xcopyCDB(len(p)), p), keyIllegalRequest, ascInvalidFieldInParamList)
	// A read-only destination.
	lus[1].cfg.ReadOnly = true
	p = xcopyParams(1, 2, [][]byte{cscd(lus[0]), cscd(lus[1])}, [][]byte{b2b(0, 1, 1, 0, 0)})
	wantCheck(t, exec(0, xcopyCDB(len(p)), p), keyDataProtect, ascWriteProtected)
}

// SPC-4 6.18.4: OPERATING PARAMETERS.
func TestSPC4_6_18_4_OperatingParameters(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	c := make([]byte, 16)
	c[0], c[1] = opReceiveCopyResults, saOperatingParams
	put32(c[10:], 1024)
	r := tl.do(c, nil)
	wantGood(t, r)
	d := r.Data
	if int(be32(d))+4 != len(d) || be16(d[8:]) != xcopyMaxTargets || be16(d[10:]) != xcopyMaxSegments || d[43] != 2 || d[44] != 0x02 || d[45] != 0xe4 {
		t.Fatalf("operating parameters % x", d)
	}
}
