package scsi

import (
	"errors"
	"testing"
)

func prOut(sa, typ byte, key, saKey uint64, aptpl bool) ([]byte, []byte) {
	cdb := make([]byte, 10)
	cdb[0], cdb[1], cdb[2] = opPersistentReserveOu, sa, typ
	put32(cdb[5:], 24)
	p := make([]byte, 24)
	put64(p, key)
	put64(p[8:], saKey)
	if aptpl {
		p[20] = 1
	}
	return cdb, p
}

func prIn(sa byte) []byte {
	cdb := make([]byte, 10)
	cdb[0], cdb[1] = opPersistentReserveIn, sa
	put16(cdb[7:], 4096)
	return cdb
}

func (tl *testLU) as(n Nexus, cdb, d []byte) Result {
	return tl.tgt.execute(&Command{Nexus: n, CDB: pad16(cdb), DataOut: d})
}

func (tl *testLU) prOut(n Nexus, sa, typ byte, key, saKey uint64) Result {
	cdb, p := prOut(sa, typ, key, saKey, false)
	return tl.as(n, cdb, p)
}

func keysOf(t *testing.T, r Result) (gen uint32, keys []uint64) {
	t.Helper()
	wantGood(t, r)
	for p := 8; p+8 <= len(r.Data); p += 8 {
		keys = append(keys, be64(r.Data[p:]))
	}
	return be32(r.Data), keys
}

func TestSPC4_5_12_RegisterReserveRelease(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	read := cdb10(opRead10, 0, 0, 1)
	write := cdb10(opWrite10, 0, 0, 1)
	blk := make([]byte, 512)

	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0, 0xa))
	wantGood(t, tl.prOut(nexusB, prOutRegister, 0, 0, 0xb))
	if r := tl.prOut(nexusB, prOutRegister, 0, 0x99, 0xc); r.Status != StatusReservationConflict {
		t.Fatalf("REGISTER with wrong key: %#x", r.Status)
	}
	gen, keys := keysOf(t, tl.do(prIn(prInReadKeys), nil))
	if gen != 2 || len(keys) != 2 || keys[0] != 0xa || keys[1] != 0xb {
		t.Fatalf("READ KEYS gen %d keys %x", gen, keys)
	}

	wantGood(t, tl.prOut(nexusA, prOutReserve, prWriteExclusive, 0xa, 0))
	wantGood(t, tl.prOut(nexusA, prOutReserve, prWriteExclusive, 0xa, 0)) // again
	if r := tl.prOut(nexusB, prOutReserve, prWriteExclusive, 0xb, 0); r.Status != StatusReservationConflict {
		t.Fatalf("second holder: %#x", r.Status)
	}
	r := tl.do(prIn(prInReadReservation), nil)
	wantGood(t, r)
	if be32(r.Data[4:]) != 16 || be64(r.Data[8:]) != 0xa || r.Data[21] != prWriteExclusive {
		t.Fatalf("READ RESERVATION % x", r.Data)
	}
	// Write Exclusive: the other nexus may read, not write.
	wantGood(t, tl.as(nexusB, read, nil))
	if r := tl.as(nexusB, write, blk); r.Status != StatusReservationConflict {
		t.Fatalf("write under WE from non-holder: %#x", r.Status)
	}
	wantGood(t, tl.as(nexusA, write, blk))
	wantGood(t, tl.as(nexusB, inquiryCDB(false, 0, 36), nil))
	// SPC-2 RESERVE conflicts with registrations.
	if r := tl.as(nexusA, []byte{opReserve6}, nil); r.Status != StatusReservationConflict {
		t.Fatalf("RESERVE(6) with registrations: %#x", r.Status)
	}

	wantCheck(t, tl.prOut(nexusA, prOutRelease, prExclusiveAccess, 0xa, 0), keyIllegalRequest, ascInvalidReleaseOfPR)
	wantGood(t, tl.prOut(nexusB, prOutRelease, prWriteExclusive, 0xb, 0)) // not holder: no effect
	wantGood(t, tl.prOut(nexusA, prOutRelease, prWriteExclusive, 0xa, 0))
	wantGood(t, tl.as(nexusB, write, blk))

	// Exclusive Access, registrants only: registered B may read and
	// write, an unregistered nexus may do neither.
	c := Nexus{InitiatorName: "iqn.c"}
	tl.as(c, []byte{opTestUnitReady}, nil) // POWER ON
	wantGood(t, tl.prOut(nexusA, prOutReserve, prExclusiveAccessRegs, 0xa, 0))
	wantGood(t, tl.as(nexusB, write, blk))
	if r := tl.as(c, read, nil); r.Status != StatusReservationConflict {
		t.Fatalf("read by unregistered under EA-RO: %#x", r.Status)
	}
	wantGood(t, tl.as(c, []byte{opTestUnitReady}, nil))

	// The holder unregistering releases and tells the registrants.
	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0xa, 0))
	wantCheck(t, tl.as(nexusB, read, nil), keyUnitAttention, ascReservationsReleased)
	wantGood(t, tl.as(c, read, nil))
}

func TestSPC4_5_12_PreemptAndClear(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0, 0xa))
	wantGood(t, tl.prOut(nexusB, prOutRegisterIgnore, 0, 0x1234, 0xb))
	wantGood(t, tl.prOut(nexusA, prOutReserve, prExclusiveAccess, 0xa, 0))
	if r := tl.as(nexusB, cdb10(opRead10, 0, 0, 1), nil); r.Status != StatusReservationConflict {
		t.Fatalf("read under EA: %#x", r.Status)
	}
	// B preempts A's reservation.
	wantGood(t, tl.prOut(nexusB, prOutPreempt, prWriteExclusive, 0xb, 0xa))
	wantCheck(t, tl.do(cdb10(opRead10, 0, 0, 1), nil), keyUnitAttention, ascRegistrationsPreempted)
	_, keys := keysOf(t, tl.do(prIn(prInReadKeys), nil))
	if len(keys) != 1 || keys[0] != 0xb {
		t.Fatalf("keys after preempt %x", keys)
	}
	if r := tl.prOut(nexusA, prOutReserve, prWriteExclusive, 0xa, 0); r.Status != StatusReservationConflict {
		t.Fatalf("preempted nexus still registered: %#x", r.Status)
	}
	wantCheck(t, tl.prOut(nexusB, prOutPreempt, prWriteExclusive, 0xb, 0), keyIllegalRequest, ascInvalidFieldInParamList)

	// Full status names B as holder with an iSCSI TransportID.
	r := tl.do(prIn(prInReadFullStatus), nil)
	wantGood(t, r)
	d := r.Data[8:]
	if be64(d) != 0xb || d[12]&1 == 0 || d[13] != prWriteExclusive || d[24] != 0x45 {
		t.Fatalf("READ FULL STATUS % x", r.Data)
	}

	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0, 0xa))
	wantGood(t, tl.prOut(nexusB, prOutClear, 0, 0xb, 0))
	wantCheck(t, tl.do([]byte{opTestUnitReady}, nil), keyUnitAttention, ascReservationsPreempted)
	if _, keys := keysOf(t, tl.do(prIn(prInReadKeys), nil)); len(keys) != 0 {
		t.Fatalf("keys after CLEAR %x", keys)
	}
	r = tl.do(prIn(prInReportCapabilities), nil)
	wantGood(t, r)
	if be16(r.Data) != 8 || r.Data[4] == 0 {
		t.Fatalf("REPORT CAPABILITIES % x", r.Data)
	}
	wantCheck(t, tl.do(prIn(7), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	bad, p := prOut(prOutRegister, 0, 0, 1, false)
	put32(bad[5:], 20)
	wantCheck(t, tl.do(bad, p), keyIllegalRequest, ascParameterListLengthError)
	wantCheck(t, tl.prOut(nexusA, prOutReserve, 2, 0xa, 0), keyIllegalRequest, ascInvalidFieldInCDB)
}

type memPRStore struct {
	m    map[string]PRState
	fail bool
}

func (s *memPRStore) LoadPR(serial string) (PRState, bool, error) {
	st, ok := s.m[serial]
	return st, ok, nil
}

func (s *memPRStore) SavePR(serial string, st PRState) error {
	if s.fail {
		return errors.New("disk full")
	}
	s.m[serial] = st
	return nil
}

func TestSPC4_5_12_PRStore(t *testing.T) {
	store := &memPRStore{m: map[string]PRState{}}
	tl := newTestLU(t, LUConfig{Serial: "pr"}, 100)
	if err := tl.lu.SetPRStore(store); err != nil {
		t.Fatal(err)
	}
	wantGood(t, tl.prOut(nexusA, prOutRegister, 0, 0, 0xa))
	wantGood(t, tl.prOut(nexusA, prOutReserve, prWriteExclusive, 0xa, 0))
	if st := store.m["pr"]; st.Type != prWriteExclusive || len(st.Registrations) != 1 {
		t.Fatalf("saved %+v", st)
	}
	// A new LU with the same serial (another node, a restart) loads it.
	tl2 := newTestLU(t, LUConfig{Serial: "pr"}, 100)
	if err := tl2.lu.SetPRStore(store); err != nil {
		t.Fatal(err)
	}
	if r := tl2.as(nexusB, cdb10(opWrite10, 0, 0, 1), make([]byte, 512)); r.Status != StatusReservationConflict {
		t.Fatalf("reservation not restored: %#x", r.Status)
	}
	store.fail = true
	wantCheck(t, tl2.prOut(nexusB, prOutRegister, 0, 0, 0xb), keyAbortedCommand, ascInsufficientRegResources)
	if _, keys := keysOf(t, tl2.do(prIn(prInReadKeys), nil)); len(keys) != 1 {
		t.Fatalf("failed save changed state: %x", keys)
	}
}
