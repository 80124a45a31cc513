package scsi

import (
	"encoding/hex"
	"testing"

	"github.com/halun/halun/internal/backend"
)

func newViewLU(t *testing.T, serial string) *LU {
	t.Helper()
	lu, err := NewLU(LUConfig{Serial: serial}, backend.NewMemory(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return lu
}

func reportedLUNs(t *testing.T, v Target, n Nexus) []uint64 {
	t.Helper()
	r := v.Execute(&Command{Nexus: n, CDB: pad16(reportLUNs(0, 4096))})
	if r.Status != StatusGood {
		t.Fatalf("REPORT LUNS status %#x", r.Status)
	}
	var out []uint64
	for i := 8; i+8 <= 8+int(be32(r.Data)); i += 8 {
		out = append(out, (be64(r.Data[i:])>>48)&0x3fff)
	}
	return out
}

// TestViewsByInitiatorName: each initiator sees its own LUN map over
// shared LUs, numbered as mapped; an unknown initiator sees nothing.
func TestViewsByInitiatorName(t *testing.T) {
	v1, v2 := newViewLU(t, "viewserial-1"), newViewLU(t, "viewserial-2")
	views := NewViews(testTargetName, nil, map[string]map[uint64]*LU{
		"IQN.2026-11.org.halun:A": {0: v1, 5: v2},
		nexusB.InitiatorName:      {0: v2},
	})
	if got := reportedLUNs(t, views, nexusA); len(got) != 2 || got[0] != 0 || got[1] != 5 {
		t.Errorf("A sees %v", got)
	}
	if got := reportedLUNs(t, views, nexusB); len(got) != 1 || got[0] != 0 {
		t.Errorf("B sees %v", got)
	}
	stranger := Nexus{InitiatorName: "iqn.2026-11.org.halun:c", ISID: nexusA.ISID, TargetName: testTargetName, TPGT: 1}
	if got := reportedLUNs(t, views, stranger); len(got) != 0 {
		t.Errorf("unknown initiator sees %v", got)
	}
	wantCheck(t, views.Execute(&Command{Nexus: stranger, CDB: pad16([]byte{opTestUnitReady})}), keyIllegalRequest, ascLUNotSupported)
	if views.LogicalUnit(stranger, 0) != nil || views.LogicalUnit(nexusA, encodeLUN(5)) == nil || views.LogicalUnit(nexusB, encodeLUN(5)) != nil {
		t.Error("LogicalUnit ignores the views")
	}
	// B's LUN 0 is A's LUN 5: the same LU, so the same serial.
	serial := func(n Nexus, lun uint64) string {
		r := views.Execute(&Command{Nexus: n, LUN: encodeLUN(lun), CDB: pad16(inquiryCDB(true, 0x80, 255))})
		return string(r.Data[4:])
	}
	if a, b := serial(nexusA, 5), serial(nexusB, 0); a != "viewserial-2" || b != a {
		t.Errorf("A's LUN 5 serial %q, B's LUN 0 serial %q", a, b)
	}

	// Same ISID, different name: B does not hold A's reservation.
	sameISID := nexusB
	sameISID.ISID = nexusA.ISID
	// Consume each nexus' POWER ON unit attention on the shared LU.
	views.Execute(&Command{Nexus: nexusA, LUN: encodeLUN(5), CDB: pad16([]byte{opTestUnitReady})})
	views.Execute(&Command{Nexus: sameISID, CDB: pad16([]byte{opTestUnitReady})})
	if r := views.Execute(&Command{Nexus: nexusA, LUN: encodeLUN(5), CDB: pad16([]byte{opReserve6})}); r.Status != StatusGood {
		t.Fatalf("RESERVE: %#x", r.Status)
	}
	if r := views.Execute(&Command{Nexus: sameISID, CDB: pad16(cdb10(opRead10, 0, 0, 1)), ExpectedDataLength: 512}); r.Status != StatusReservationConflict {
		t.Errorf("B with A's ISID reads A's reserved LU: status %#x", r.Status)
	}
	views.NexusLost(nexusA)
	if r := views.Execute(&Command{Nexus: sameISID, CDB: pad16(cdb10(opRead10, 0, 0, 1)), ExpectedDataLength: 512}); r.Status != StatusGood {
		t.Errorf("reservation survived its nexus: status %#x", r.Status)
	}
}

func TestViewsAllAndSet(t *testing.T) {
	v1, v2 := newViewLU(t, "viewserial-1"), newViewLU(t, "viewserial-2")
	views := NewViews(testTargetName, map[uint64]*LU{0: v1}, map[string]map[uint64]*LU{nexusB.InitiatorName: {7: v2}})
	if got := reportedLUNs(t, views, nexusA); len(got) != 1 || got[0] != 0 {
		t.Errorf("A (no own view) sees %v", got)
	}
	if got := reportedLUNs(t, views, nexusB); len(got) != 1 || got[0] != 7 {
		t.Errorf("B sees %v", got)
	}
	views.Set(nil, map[string]map[uint64]*LU{nexusA.InitiatorName: {1: v1, 2: v2}})
	if got := reportedLUNs(t, views, nexusB); len(got) != 0 {
		t.Errorf("B after Set sees %v", got)
	}
	if got := reportedLUNs(t, views, nexusA); len(got) != 2 {
		t.Errorf("A after Set sees %v", got)
	}
}

// TestWWID: the LU's WWID is "3" + the NAA-6 designator its VPD 0x83
// page sends first, as scsi_id --whitelisted prints it.
func TestWWID(t *testing.T) {
	lu := newViewLU(t, "633c5643-9a1b-4c2d-8e3f-0123456789ab")
	w := lu.WWID()
	if w != "36001405633c56439a1b4c2d8e3f01234" {
		t.Errorf("WWID %s: want the serial's first 25 hex digits after the OUI", w)
	}
	r := NewTarget(testTargetName, map[uint64]*LU{0: lu}).Execute(&Command{Nexus: nexusA, CDB: pad16(inquiryCDB(true, 0x83, 255))})
	d := r.Data[4:]
	if d[1]&0x0f != desigNAA || d[3] != 16 {
		t.Fatalf("first designator is not NAA: % x", d[:4])
	}
	if got := "3" + hex.EncodeToString(d[4:20]); got != w {
		t.Errorf("VPD 0x83 NAA %s, WWID %s", got, w)
	}
}
