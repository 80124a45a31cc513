package scsi

import (
	"os"
	"path/filepath"
	"testing"
)

// iscsiTID is an iSCSI TransportID, with ISID (format 01b) or without.
func iscsiTID(n Nexus, withISID bool) []byte {
	r := PRRegistration{Nexus: n, AnyISID: !withISID}
	return transportID(r)
}

func prOutParams(key, saKey uint64, flags byte, tids ...[]byte) []byte {
	p := make([]byte, 28)
	put64(p, key)
	put64(p[8:], saKey)
	p[20] = flags
	var l int
	for _, t := range tids {
		p = append(p, t...)
		l += len(t)
	}
	put32(p[24:], uint32(l))
	return p
}

func prOutCDB(sa, typ byte, plen int) []byte {
	c := make([]byte, 10)
	c[0], c[1], c[2] = opPersistentReserveOu, sa, typ
	put32(c[5:], uint32(plen))
	return c
}

func moveParams(key, saKey uint64, unreg bool, rtpi uint16, tid []byte) []byte {
	p := make([]byte, 24)
	put64(p, key)
	put64(p[8:], saKey)
	if unreg {
		p[17] = 0x02
	}
	put16(p[18:], rtpi)
	put32(p[20:], uint32(len(tid)))
	return append(p, tid...)
}

var nexusA2 = Nexus{InitiatorName: nexusA.InitiatorName, ISID: [6]byte{0x80, 0, 0, 0, 0, 9}, TargetName: testTargetName, TPGT: 1}
var nexusAOtherPort = Nexus{InitiatorName: nexusA.InitiatorName, ISID: nexusA.ISID, TargetName: testTargetName, TPGT: 2}

// SPC-4 5.12.7, 6.16.4: SPEC_I_PT registers the ports the TransportIDs
// name; ALL_TG_PT registers through every target port.
func TestSPC4_6_16_4_SpecIPTAndAllTgPt(t *testing.T) {
	cases := []struct {
		name    string
		flags   byte
		tids    [][]byte
		sa      byte
		want    uint8 // status
		asc     uint16
		covered []Nexus // nexuses registered afterwards
		not     []Nexus
	}{
		{"SPEC_I_PT with ISID", 0x08, [][]byte{iscsiTID(nexusB, true)}, prOutRegister, StatusGood, 0, []Nexus{nexusA, nexusB}, []Nexus{nexusA2}},
		{"SPEC_I_PT name only", 0x08, [][]byte{iscsiTID(nexusB, false)}, prOutRegister, StatusGood, 0, []Nexus{nexusA, nexusB, {InitiatorName: nexusB.InitiatorName, ISID: [6]byte{1}, TargetName: testTargetName, TPGT: 1}}, nil},
		{"ALL_TG_PT", 0x04, nil, prOutRegister, StatusGood, 0, []Nexus{nexusA, nexusAOtherPort}, []Nexus{nexusA2}},
		{"without ALL_TG_PT", 0, nil, prOutRegister, StatusGood, 0, []Nexus{nexusA}, []Nexus{nexusAOtherPort}},
		{"SPEC_I_PT naming the issuer", 0x08, [][]byte{iscsiTID(nexusA, true)}, prOutRegister, StatusReservationConflict, 0, nil, []Nexus{nexusA}},
		{"SPEC_I_PT with REGISTER AND IGNORE", 0x08, [][]byte{iscsiTID(nexusB, true)}, prOutRegisterIgnore, StatusCheckCondition, ascInvalidFieldInParamList, nil, nil},
		{"bad TransportID", 0x08, [][]byte{{0x45, 0, 0, 4, 'x', 0, 0, 0}}, prOutRegister, StatusCheckCondition, ascInvalidFieldInParamList, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{}, 64)
			p := prOutParams(0, 0xa, c.flags, c.tids...)
			if c.flags&0x08 == 0 {
				p = p[:24]
			}
			r := tl.as(nexusA, prOutCDB(c.sa, 0, len(p)), p)
			if r.Status != c.want {
				t.Fatalf("status %#x, want %#x", r.Status, c.want)
			}
			if c.asc != 0 {
				wantCheck(t, r, keyIllegalRequest, c.asc)
			}
			for _, n := range c.covered {
				if tl.lu.pr.find(n) < 0 {
					t.Errorf("%v not registered", n)
				}
			}
			for _, n := range c.not {
				if tl.lu.pr.find(n) >= 0 {
					t.Errorf("%v registered", n)
				}
			}
		})
	}
}

// SPC-4 5.12.8: REGISTER AND MOVE.
func TestSPC4_5_12_8_RegisterAndMove(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0, 0xa))
	mv := moveParams(0xa, 0xb, true, 1, iscsiTID(nexusB, true))
	// Not the holder yet.
	if r := tl.as(nexusA, prOutCDB(prOutRegisterMove, prWriteExclusive, len(mv)), mv); r.Status != StatusReservationConflict {
		t.Fatalf("move without reservation: %#x", r.Status)
	}
	wantGood(t, tl.prOut(nexusA, prOutReserve, prWriteExclusive, 0xa, 0))
	bad := moveParams(0xa, 0, false, 1, iscsiTID(nexusB, true))
	wantCheck(t, tl.as(nexusA, prOutCDB(prOutRegisterMove, prWriteExclusive, len(bad)), bad), keyIllegalRequest, ascInvalidFieldInParamList)
	self := moveParams(0xa, 0xb, false, 1, iscsiTID(nexusA, true))
	wantCheck(t, tl.as(nexusA, prOutCDB(prOutRegisterMove, prWriteExclusive, len(self)), self), keyIllegalRequest, ascInvalidFieldInParamList)
	wantGood(t, tl.as(nexusA, prOutCDB(prOutRegisterMove, prExclusiveAccess, len(mv)), mv))
	st := tl.lu.pr
	if st.Type != prExclusiveAccess || !st.Holder.matches(nexusB) || st.find(nexusA) >= 0 || st.Registrations[st.find(nexusB)].Key != 0xb {
		t.Fatalf("after move: %+v", st)
	}
	// B holds it now: A is shut out, B may write.
	if r := tl.do(cdb10(opRead10, 0, 0, 1), nil); r.Status != StatusReservationConflict {
		t.Fatalf("A after move: %#x", r.Status)
	}
	wantGood(t, tl.as(nexusB, cdb10(opWrite10, 0, 0, 1), make([]byte, 512)))
}

// SPC-4 5.12.5: with APTPL the state survives a restart through the
// FilePRStore; without, it is not kept.
func TestSPC4_5_12_5_APTPLFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pr")
	s, err := NewFilePRStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	tl := newTestLU(t, LUConfig{}, 64)
	if err := tl.lu.SetPRStore(s); err != nil {
		t.Fatal(err)
	}
	cdb, p := prOut(prOutRegister, 0, 0, 0xa, true)
	wantGood(t, tl.as(nexusA, cdb, p))
	wantGood(t, tl.prOut(nexusA, prOutReserve, prWriteExclusiveRegs, 0xa, 0))
	// "Restart": a new LU with the same serial and a new store.
	s2, _ := NewFilePRStore(dir)
	tl2 := newTestLU(t, LUConfig{}, 64)
	if err := tl2.lu.SetPRStore(s2); err != nil {
		t.Fatal(err)
	}
	if st := tl2.lu.pr; st.Type != prWriteExclusiveRegs || len(st.Registrations) != 1 || st.Registrations[0].Key != 0xa || !st.APTPL {
		t.Fatalf("restored %+v", st)
	}
	// REGISTER without APTPL: nothing kept.
	cdb, p = prOut(prOutRegister, 0, 0xa, 0xc, false)
	wantGood(t, tl2.as(nexusA, cdb, p))
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left without APTPL: %v", ents)
	}
	if _, ok, err := s2.LoadPR(tl2.lu.cfg.Serial); ok || err != nil {
		t.Fatalf("load without APTPL: %v %v", ok, err)
	}
	// A serial with odd characters gets a safe file name.
	if err := s2.SavePR("a/b c", PRState{APTPL: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s2.LoadPR("a/b c"); !ok || err != nil {
		t.Fatalf("odd serial: %v %v", ok, err)
	}
}

// SPC-4 6.15.4: REPORT CAPABILITIES advertises SIP_C, ATP_C and, with a
// store, PTPL_C.
func TestSPC4_6_15_4_Capabilities(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 64)
	r := tl.do(prIn(prInReportCapabilities), nil)
	wantGood(t, r)
	if r.Data[2]&0x0c != 0x0c || r.Data[2]&0x01 != 0 {
		t.Fatalf("capabilities % x", r.Data)
	}
}
