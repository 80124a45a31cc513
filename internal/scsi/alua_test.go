package scsi

import (
	"testing"

	"github.com/halun/halun/internal/backend"
)

func rtpgCDB(format byte) []byte {
	c := make([]byte, 12)
	c[0], c[1] = opMaintenanceIn, format<<5|saReportTPG
	put32(c[6:], 1024)
	return c
}

func stpgParams(descs ...[2]uint16) []byte {
	p := make([]byte, 4)
	for _, d := range descs {
		e := make([]byte, 4)
		e[0] = byte(d[1])
		put16(e[2:], d[0])
		p = append(p, e...)
	}
	return p
}

func stpgCDB(plen int) []byte {
	c := make([]byte, 12)
	c[0], c[1] = opMaintenanceOut, saSetTPG
	put32(c[6:], uint32(plen))
	return c
}

// SPC-4 6.6.2: TPGS is implicit by default, both with explicit ALUA.
func TestSPC4_6_6_2_TPGS(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	if d := tl.do(inquiryCDB(false, 0, 96), nil).Data; d[5]&0x30 != 0x10 {
		t.Fatalf("default TPGS %#x", d[5]&0x30)
	}
	tl.tgt.SetALUA([]TargetPortGroup{{ID: 1}}, true)
	if d := tl.do(inquiryCDB(false, 0, 96), nil).Data; d[5]&0x30 != 0x30 {
		t.Fatalf("explicit TPGS %#x", d[5]&0x30)
	}
}

// SPC-4 6.36: REPORT TARGET PORT GROUPS in both formats.
func TestSPC4_6_36_ReportTargetPortGroups(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	r := tl.do(rtpgCDB(0), nil)
	wantGood(t, r)
	if be32(r.Data) != 12 || be16(r.Data[6:]) != 1 || r.Data[4]&0x0f != 0 || be16(r.Data[14:]) != 1 {
		t.Fatalf("default RTPG % x", r.Data)
	}
	tl.tgt.SetALUA([]TargetPortGroup{{ID: 2, State: ALUAStandby}, {ID: 1, State: ALUAActiveOptimized, Preferred: true}}, false)
	wantCheck(t, tl.do(rtpgCDB(1), nil), keyUnitAttention, ascALUAStateChanged)
	r = tl.do(rtpgCDB(1), nil)
	wantGood(t, r)
	d := r.Data
	if d[4] != 0x10 || be32(d) != 4+24 {
		t.Fatalf("extended header % x", d[:8])
	}
	g1, g2 := d[8:20], d[20:32]
	if be16(g1[2:]) != 1 || g1[0] != 0x80 || be16(g2[2:]) != 2 || g2[0]&0x0f != byte(ALUAStandby) || g2[5] != aluaStatusByImplicit || be16(g2[10:]) != 2 {
		t.Fatalf("descriptors % x", d[8:])
	}
	wantCheck(t, tl.do(rtpgCDB(2), nil), keyIllegalRequest, ascInvalidFieldInCDB)
}

// SPC-4 5.16.2.4: per-state command filtering.
func TestSPC4_5_16_2_4_StateFiltering(t *testing.T) {
	read := cdb10(opRead10, 0, 0, 1)
	tur := make([]byte, 6)
	modeSense := []byte{opModeSense6, 0, 0x3f, 0, 255, 0}
	prin := prIn(prInReadKeys)
	inq := inquiryCDB(false, 0, 96)
	cases := []struct {
		state ALUAState
		cdb   []byte
		asc   uint16 // 0: allowed
	}{
		{ALUAActiveNonOptimized, read, 0},
		{ALUAStandby, read, ascALUAStandby},
		{ALUAStandby, tur, ascALUAStandby},
		{ALUAStandby, modeSense, 0},
		{ALUAStandby, prin, 0},
		{ALUAStandby, inq, 0},
		{ALUAStandby, rtpgCDB(0), 0},
		{ALUAUnavailable, read, ascALUAUnavailable},
		{ALUAUnavailable, modeSense, ascALUAUnavailable},
		{ALUAUnavailable, prin, ascALUAUnavailable},
		{ALUAUnavailable, inq, 0},
		{ALUAUnavailable, rtpgCDB(1), 0},
		{ALUATransitioning, read, ascALUATransitioning},
		{ALUATransitioning, inq, 0},
	}
	for _, c := range cases {
		tl := newTestLU(t, LUConfig{}, 64)
		tl.tgt.SetALUA([]TargetPortGroup{{ID: 1, State: c.state}}, false)
		wantCheck(t, tl.do(tur, nil), keyUnitAttention, ascALUAStateChanged)
		r := tl.do(c.cdb, nil)
		if c.asc == 0 {
			wantGood(t, r)
			continue
		}
		wantCheck(t, r, keyNotReady, c.asc)
		// Another port group is not affected.
		other := nexusB
		other.TPGT = 2
		tl.tgt.execute(&Command{Nexus: other, CDB: pad16(tur)})
		wantGood(t, tl.tgt.execute(&Command{Nexus: other, CDB: pad16(c.cdb)}))
	}
}

// SPC-4 6.49: SET TARGET PORT GROUPS, only with explicit ALUA; the other
// nexuses get ASYMMETRIC ACCESS STATE CHANGED.
func TestSPC4_6_49_SetTargetPortGroups(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	p := stpgParams([2]uint16{1, uint16(ALUAStandby)})
	wantCheck(t, tl.do(stpgCDB(len(p)), p), keyIllegalRequest, ascInvalidFieldInCDB)
	tl.tgt.SetALUA([]TargetPortGroup{{ID: 1}, {ID: 2}}, true)
	wantGood(t, tl.do(stpgCDB(len(p)), p))
	if gs, _ := tl.tgt.ALUA(); gs[0].State != ALUAStandby {
		t.Fatalf("groups %+v", gs)
	}
	wantCheck(t, tl.as(nexusB, make([]byte, 6), nil), keyUnitAttention, ascALUAStateChanged)
	bad := stpgParams([2]uint16{1, uint16(ALUATransitioning)})
	wantCheck(t, tl.do(stpgCDB(len(bad)), bad), keyIllegalRequest, ascInvalidFieldInParamList)
	bad = stpgParams([2]uint16{9, uint16(ALUAStandby)})
	wantCheck(t, tl.do(stpgCDB(len(bad)), bad), keyIllegalRequest, ascInvalidFieldInParamList)
	wantCheck(t, tl.do(stpgCDB(6), make([]byte, 6)), keyIllegalRequest, ascParameterListLengthError)
}

// SPC-4 6.33: REPORTED LUNS DATA HAS CHANGED on every nexus.
func TestSPC4_6_33_ReportedLUNsChanged(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	tl.tgt.ReportedLUNsChanged()
	for _, n := range []Nexus{nexusA, nexusB} {
		wantCheck(t, tl.as(n, make([]byte, 6), nil), keyUnitAttention, ascReportedLUNsDataChanged)
		wantGood(t, tl.as(n, make([]byte, 6), nil))
	}
}

// SPC-4 5.16.2.1: a logical unit with ALUA state of its own (a cluster
// volume with its own primary) reports and enforces the same states
// through every target that reaches it, whatever the targets' states;
// a change reaches every nexus of the LU, through any target.
func TestSPC4_5_16_2_1_PerLogicalUnitALUA(t *testing.T) {
	lu, err := NewLU(LUConfig{Serial: "perlu0001"}, backend.NewMemory(64*512))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewLU(LUConfig{Serial: "perlu0002"}, backend.NewMemory(64*512))
	if err != nil {
		t.Fatal(err)
	}
	// Node A's target reaches the LU through port group 1, node B's
	// through port group 2; the targets themselves say nothing.
	ta := NewTarget("iqn.2026-12.io.halun.test:a", map[uint64]*LU{0: lu, 1: other})
	tb := NewTarget("iqn.2026-12.io.halun.test:b", map[uint64]*LU{0: lu})
	na := Nexus{InitiatorName: nexusA.InitiatorName, ISID: nexusA.ISID, TargetName: "iqn.2026-12.io.halun.test:a", TPGT: 1}
	nb := Nexus{InitiatorName: nexusA.InitiatorName, ISID: nexusA.ISID, TargetName: "iqn.2026-12.io.halun.test:b", TPGT: 2}
	do := func(tg *LUNTarget, n Nexus, lun uint64, cdb []byte) Result {
		return tg.execute(&Command{Nexus: n, LUN: encodeLUN(lun), CDB: pad16(cdb)})
	}
	tur := make([]byte, 6)
	read := cdb10(opRead10, 0, 0, 1)
	do(ta, na, 0, tur)
	do(tb, nb, 0, tur)
	do(ta, na, 1, tur)

	g := NewLUALUAGroups()
	g.Set([]TargetPortGroup{{ID: 1, State: ALUAActiveOptimized}, {ID: 2, State: ALUAStandby}}, false)
	lu.SetALUAGroups(g)
	wantCheck(t, do(ta, na, 0, tur), keyUnitAttention, ascALUAStateChanged)
	wantCheck(t, do(tb, nb, 0, tur), keyUnitAttention, ascALUAStateChanged)
	wantGood(t, do(ta, na, 1, tur)) // another LU: no change, no unit attention

	// Both targets report the LU's groups identically.
	ra, rb := do(ta, na, 0, rtpgCDB(0)), do(tb, nb, 0, rtpgCDB(0))
	wantGood(t, ra)
	wantGood(t, rb)
	if string(ra.Data) != string(rb.Data) || be16(ra.Data[6:]) != 1 || ra.Data[16]&0x0f != byte(ALUAStandby) || be16(ra.Data[18:]) != 2 {
		t.Fatalf("RTPG through A % x, through B % x", ra.Data, rb.Data)
	}
	// Active through A, standby through B; standby still answers INQUIRY
	// and REPORT TARGET PORT GROUPS.
	wantGood(t, do(ta, na, 0, read))
	wantCheck(t, do(tb, nb, 0, read), keyNotReady, ascALUAStandby)
	wantGood(t, do(tb, nb, 0, inquiryCDB(false, 0, 96)))
	// The other LU keeps its target's (default) state.
	wantGood(t, do(ta, na, 1, read))

	// A failover: B's group becomes active, A's standby.
	g.Set([]TargetPortGroup{{ID: 1, State: ALUAStandby}, {ID: 2, State: ALUAActiveOptimized}}, false)
	wantCheck(t, do(ta, na, 0, read), keyUnitAttention, ascALUAStateChanged)
	wantCheck(t, do(tb, nb, 0, read), keyUnitAttention, ascALUAStateChanged)
	wantCheck(t, do(ta, na, 0, read), keyNotReady, ascALUAStandby)
	wantGood(t, do(tb, nb, 0, read))

	// Back to the targets' states.
	lu.SetALUAGroups(nil)
	wantCheck(t, do(ta, na, 0, read), keyUnitAttention, ascALUAStateChanged)
	wantGood(t, do(ta, na, 0, read))
}
