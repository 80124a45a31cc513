package scsi

import (
	"bytes"
	"testing"
)

// The ALUA state of a target is one ALUAGroups shared by every view of it:
// these tests give two initiators views over different logical units, so
// that nothing reaches the other initiator through a shared LU.

var (
	// nexusB2 is initiator B's second path, through portal group 2.
	nexusB2 = Nexus{InitiatorName: nexusB.InitiatorName, ISID: [6]byte{0x80, 0, 0, 0, 0, 3}, TargetName: testTargetName, TPGT: 2}
	// nexusOther is a nexus of another target on initiator A's LU.
	nexusOther = Nexus{InitiatorName: nexusA.InitiatorName, ISID: nexusA.ISID, TargetName: "iqn.2026-11.org.halun:other", TPGT: 1}
)

type aluaViews struct {
	v     *Views
	other *LUNTarget // another target over A's LU
}

func newALUAViews(t *testing.T) *aluaViews {
	t.Helper()
	luA, luB := newViewLU(t, "aluaview-a"), newViewLU(t, "aluaview-b")
	av := &aluaViews{
		v: NewViews(testTargetName, nil, map[string]map[uint64]*LU{
			nexusA.InitiatorName: {0: luA},
			nexusB.InitiatorName: {0: luB},
		}),
		other: NewTarget(nexusOther.TargetName, map[uint64]*LU{0: luA}),
	}
	// Consume every nexus' POWER ON unit attention.
	for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
		av.v.Execute(&Command{Nexus: n, CDB: pad16(make([]byte, 6))})
	}
	av.other.Execute(&Command{Nexus: nexusOther, CDB: pad16(make([]byte, 6))})
	return av
}

func (av *aluaViews) do(n Nexus, cdb, dataOut []byte) Result {
	if n.TargetName == nexusOther.TargetName {
		return av.other.Execute(&Command{Nexus: n, CDB: pad16(cdb), DataOut: dataOut, ExpectedDataLength: uint32(len(dataOut))})
	}
	return av.v.Execute(&Command{Nexus: n, CDB: pad16(cdb), DataOut: dataOut, ExpectedDataLength: uint32(len(dataOut))})
}

func (av *aluaViews) rtpg(t *testing.T, n Nexus, format byte) []byte {
	t.Helper()
	r := av.do(n, rtpgCDB(format), nil)
	wantGood(t, r)
	return r.Data
}

// stpgFrom sends SET TARGET PORT GROUPS from n.
func (av *aluaViews) stpgFrom(n Nexus, descs ...[2]uint16) Result {
	p := stpgParams(descs...)
	return av.do(n, stpgCDB(len(p)), p)
}

// SPC-4 5.16: a change of the target's asymmetric access states, whoever
// makes it, raises ASYMMETRIC ACCESS STATE CHANGED on every I_T nexus of
// the target — in every view — except the one whose SET TARGET PORT
// GROUPS made it, and on no nexus of another target.
func TestSPC4_5_16_StateSharedByViews(t *testing.T) {
	cases := []struct {
		name   string
		change func(av *aluaViews) Result
		by     *Nexus // nexus that made the change: no unit attention
	}{
		{"management", func(av *aluaViews) Result {
			av.v.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAStandby}, {ID: 2}}, true)
			return Good
		}, nil},
		{"STPG from A", func(av *aluaViews) Result {
			return av.stpgFrom(nexusA, [2]uint16{1, uint16(ALUAStandby)})
		}, &nexusA},
		{"STPG from B", func(av *aluaViews) Result {
			return av.stpgFrom(nexusB, [2]uint16{1, uint16(ALUAStandby)})
		}, &nexusB},
		{"STPG from B's second path", func(av *aluaViews) Result {
			return av.stpgFrom(nexusB2, [2]uint16{1, uint16(ALUAStandby)})
		}, &nexusB2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			av := newALUAViews(t)
			av.v.SetALUA([]TargetPortGroup{{ID: 1}, {ID: 2}}, true)
			wantGood(t, c.change(av))
			inq := inquiryCDB(false, 0, 96)
			for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
				if c.by != nil && n == *c.by {
					wantGood(t, av.do(n, inq, nil))
					continue
				}
				wantCheck(t, av.do(n, make([]byte, 6), nil), keyUnitAttention, ascALUAStateChanged)
			}
			wantGood(t, av.do(nexusOther, make([]byte, 6), nil))
			// Every view and the management layer see the same state.
			for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
				if d := av.rtpg(t, n, 0); d[4]&0x0f != byte(ALUAStandby) || be16(d[6:]) != 1 {
					t.Errorf("%s: RTPG % x", n.InitiatorName, d)
				}
			}
			if gs, explicit := av.v.ALUA(); !explicit || len(gs) != 2 || gs[0].State != ALUAStandby {
				t.Errorf("ALUA() %+v %v", gs, explicit)
			}
			// A state set again unchanged raises nothing.
			av.v.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAStandby}, {ID: 2}}, true)
			for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
				av.do(n, inq, nil)
				wantGood(t, av.do(n, inq, nil))
			}
		})
	}
}

// SPC-4 5.16.2.4: command filtering follows the target port group's state
// for every initiator, whichever view it uses.
func TestSPC4_5_16_2_4_FilteringSharedByViews(t *testing.T) {
	read := cdb10(opRead10, 0, 0, 1)
	cases := []struct {
		n     Nexus
		cdb   []byte
		asc   uint16 // 0: allowed
		label string
	}{
		{nexusA, read, ascALUAStandby, "READ A"},
		{nexusB, read, ascALUAStandby, "READ B"},
		{nexusB2, read, 0, "READ B via group 2"},
		{nexusA, make([]byte, 6), ascALUAStandby, "TUR A"},
		{nexusB, make([]byte, 6), ascALUAStandby, "TUR B"},
		{nexusA, inquiryCDB(false, 0, 96), 0, "INQUIRY A"},
		{nexusB, inquiryCDB(true, 0x83, 255), 0, "VPD 0x83 B"},
		{nexusA, reportLUNs(0, 4096), 0, "REPORT LUNS A"},
		{nexusB, reportLUNs(0, 4096), 0, "REPORT LUNS B"},
		{nexusA, rtpgCDB(1), 0, "RTPG A"},
		{nexusB, rtpgCDB(0), 0, "RTPG B"},
		{nexusB, prIn(prInReadKeys), 0, "PR IN B"},
		{nexusOther, read, 0, "READ through another target"},
	}
	av := newALUAViews(t)
	av.v.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAStandby}, {ID: 2, State: ALUAActiveNonOptimized}}, false)
	for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
		wantCheck(t, av.do(n, make([]byte, 6), nil), keyUnitAttention, ascALUAStateChanged)
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			r := av.do(c.n, c.cdb, nil)
			if c.asc == 0 {
				wantGood(t, r)
				return
			}
			wantCheck(t, r, keyNotReady, c.asc)
		})
	}
}

// SPC-4 6.36: REPORT TARGET PORT GROUPS returns the same descriptors to
// every initiator of the target, in both formats, including the STATUS
// CODE of a change one of them made.
func TestSPC4_6_36_RTPGSameForEveryView(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(av *aluaViews)
		format byte
		want   []byte // first descriptor's bytes 0 and 5
	}{
		{"default, length only", func(av *aluaViews) {}, 0, []byte{0x00, 0}},
		{"default, extended", func(av *aluaViews) {}, 1, []byte{0x00, 0}},
		{"implicit change", func(av *aluaViews) {
			av.v.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAUnavailable, Preferred: true}, {ID: 2}}, false)
		}, 1, []byte{0x80 | byte(ALUAUnavailable), aluaStatusByImplicit}},
		{"explicit change by B", func(av *aluaViews) {
			av.v.SetALUA([]TargetPortGroup{{ID: 1}, {ID: 2}}, true)
			av.stpgFrom(nexusB, [2]uint16{1, uint16(ALUAActiveNonOptimized)})
		}, 0, []byte{byte(ALUAActiveNonOptimized), aluaStatusByExplicit}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			av := newALUAViews(t)
			c.setup(av)
			var first []byte
			for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
				av.do(n, make([]byte, 6), nil) // a unit attention, if any
				d := av.rtpg(t, n, c.format)
				hdr := 4
				if c.format == 1 {
					hdr = 8
				}
				if be16(d[hdr+2:]) != 1 || d[hdr] != c.want[0] || d[hdr+5] != c.want[1] {
					t.Errorf("%s: first descriptor % x, want state byte %#x status %d", n.InitiatorName, d[hdr:hdr+12], c.want[0], c.want[1])
				}
				if first == nil {
					first = d
				} else if !bytes.Equal(d, first) {
					t.Errorf("%s: RTPG % x, first initiator got % x", n.InitiatorName, d, first)
				}
			}
		})
	}
}

// SPC-4 6.49: SET TARGET PORT GROUPS from one initiator changes the
// target's state for every initiator; without explicit ALUA it is refused
// for every initiator.
func TestSPC4_6_49_STPGSharedByViews(t *testing.T) {
	cases := []struct {
		name     string
		explicit bool
		from     Nexus
		state    ALUAState
		wantOK   bool
	}{
		{"implicit only, A", false, nexusA, ALUAStandby, false},
		{"implicit only, B", false, nexusB, ALUAStandby, false},
		{"A sets standby", true, nexusA, ALUAStandby, true},
		{"B sets unavailable", true, nexusB, ALUAUnavailable, true},
		{"B2 sets non-optimized", true, nexusB2, ALUAActiveNonOptimized, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			av := newALUAViews(t)
			av.v.SetALUA([]TargetPortGroup{{ID: 1}, {ID: 2}}, c.explicit)
			r := av.stpgFrom(c.from, [2]uint16{1, uint16(c.state)})
			if !c.wantOK {
				wantCheck(t, r, keyIllegalRequest, ascInvalidFieldInCDB)
				if gs, _ := av.v.ALUA(); gs[0].State != ALUAActiveOptimized {
					t.Errorf("refused STPG changed the state: %+v", gs)
				}
				return
			}
			wantGood(t, r)
			for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
				av.do(n, make([]byte, 6), nil)
				if d := av.rtpg(t, n, 0); d[4]&0x0f != byte(c.state) || d[4+5] != aluaStatusByExplicit {
					t.Errorf("%s sees % x", n.InitiatorName, d[4:16])
				}
			}
			read := cdb10(opRead10, 0, 0, 1)
			for _, n := range []Nexus{nexusA, nexusB} {
				r := av.do(n, read, nil)
				switch c.state {
				case ALUAStandby:
					wantCheck(t, r, keyNotReady, ascALUAStandby)
				case ALUAUnavailable:
					wantCheck(t, r, keyNotReady, ascALUAUnavailable)
				default:
					wantGood(t, r)
				}
			}
		})
	}
}

// A LUN set rebuilt over the same ALUAGroups (reconfiguration, Views.Set)
// keeps the state, and changes made through either reach the nexuses of
// both.
func TestALUAGroupsSurviveRebuild(t *testing.T) {
	av := newALUAViews(t)
	av.v.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAStandby}, {ID: 2}}, true)
	for _, n := range []Nexus{nexusA, nexusB, nexusB2} {
		av.do(n, make([]byte, 6), nil)
	}
	luC := newViewLU(t, "aluaview-c")
	rebuilt := NewViewsALUA(testTargetName, av.v.ALUAGroups(), nil, map[string]map[uint64]*LU{
		nexusA.InitiatorName: {0: luC},
	})
	if gs, explicit := rebuilt.ALUA(); !explicit || len(gs) != 2 || gs[0].State != ALUAStandby {
		t.Fatalf("rebuilt views: %+v %v", gs, explicit)
	}
	rebuilt.Execute(&Command{Nexus: nexusA, CDB: pad16(make([]byte, 6))}) // POWER ON on luC
	wantCheck(t, rebuilt.Execute(&Command{Nexus: nexusA, CDB: pad16(cdb10(opRead10, 0, 0, 1))}), keyNotReady, ascALUAStandby)
	// A change through the new set reaches B, still on the old one.
	p := stpgParams([2]uint16{1, uint16(ALUAActiveOptimized)})
	wantGood(t, rebuilt.Execute(&Command{Nexus: nexusA, CDB: pad16(stpgCDB(len(p))), DataOut: p, ExpectedDataLength: uint32(len(p))}))
	wantCheck(t, av.do(nexusB, make([]byte, 6), nil), keyUnitAttention, ascALUAStateChanged)
	wantGood(t, av.do(nexusB, cdb10(opRead10, 0, 0, 1), nil))
	// Views.Set keeps the state too.
	av.v.Set(nil, map[string]map[uint64]*LU{nexusB.InitiatorName: {}})
	if gs, _ := av.v.ALUA(); len(gs) != 2 || gs[0].State != ALUAActiveOptimized {
		t.Errorf("after Set: %+v", gs)
	}
}

// A plain LUNTarget (access for every initiator) is its own ALUAGroups'
// member: its nexuses get the unit attention, another target's do not.
func TestALUAGroupsPlainTarget(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	other := NewTarget(nexusOther.TargetName, map[uint64]*LU{0: tl.lu})
	other.Execute(&Command{Nexus: nexusOther, CDB: pad16(make([]byte, 6))})
	tl.tgt.SetALUA([]TargetPortGroup{{ID: 1, State: ALUAActiveNonOptimized}}, false)
	for _, n := range []Nexus{nexusA, nexusB} {
		wantCheck(t, tl.as(n, make([]byte, 6), nil), keyUnitAttention, ascALUAStateChanged)
	}
	wantGood(t, other.Execute(&Command{Nexus: nexusOther, CDB: pad16(make([]byte, 6))}))
	if tl.tgt.ALUAGroups() == other.ALUAGroups() {
		t.Error("two targets share one ALUA state")
	}
}
