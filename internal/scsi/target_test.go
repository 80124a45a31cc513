package scsi

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/halun/halun/internal/backend"
)

func TestSAM5_4_7_DecodeLUN(t *testing.T) {
	cases := []struct {
		name string
		in   uint64
		lun  uint64
		ok   bool
	}{
		{"peripheral 0", 0, 0, true},
		{"peripheral 5", 0x0005 << 48, 5, true},
		{"flat 5", 0x4005 << 48, 5, true},
		{"flat 300", 0x412c << 48, 300, true},
		{"flat max", 0x7fff << 48, 0x3fff, true},
		{"logical unit addressing", 0x8005 << 48, 0, false},
		{"extended", 0xc005 << 48, 0, false},
		{"second level", 0x0005<<48 | 1<<32, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lun, ok := decodeLUN(c.in)
			if ok != c.ok || ok && lun != c.lun {
				t.Fatalf("decodeLUN(%#x) = %d, %v", c.in, lun, ok)
			}
			if ok {
				if back, _ := decodeLUN(encodeLUN(lun)); back != lun {
					t.Fatalf("encode/decode round trip %d -> %d", lun, back)
				}
			}
		})
	}
}

func newMultiTarget(t *testing.T, luns ...uint64) *LUNTarget {
	m := map[uint64]*LU{}
	for _, n := range luns {
		lu, err := NewLU(LUConfig{Serial: "serial-" + string(rune('a'+n%26))}, backend.NewMemory(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		m[n] = lu
	}
	return NewTarget(testTargetName, m)
}

func reportLUNs(sel byte, alloc uint32) []byte {
	b := make([]byte, 12)
	b[0] = opReportLUNs
	b[2] = sel
	put32(b[6:], alloc)
	return b
}

func TestSPC4_6_33_ReportLUNs(t *testing.T) {
	tgt := newMultiTarget(t, 0, 1, 300)
	exec := func(cdb []byte) Result { return tgt.execute(&Command{Nexus: nexusA, CDB: pad16(cdb)}) }
	for _, sel := range []byte{0, 2} {
		r := exec(reportLUNs(sel, 4096))
		wantGood(t, r)
		want := []byte{0, 0, 0, 24, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0,
			0, 1, 0, 0, 0, 0, 0, 0,
			0x41, 0x2c, 0, 0, 0, 0, 0, 0}
		if !bytes.Equal(r.Data, want) {
			t.Errorf("select %d: % x", sel, r.Data)
		}
	}
	r := exec(reportLUNs(1, 4096))
	wantGood(t, r)
	if !bytes.Equal(r.Data, make([]byte, 8)) {
		t.Errorf("well known LUNs: % x", r.Data)
	}
	r = exec(reportLUNs(0, 16))
	wantGood(t, r)
	if len(r.Data) != 16 || be32(r.Data) != 24 {
		t.Errorf("truncated report: % x", r.Data)
	}
	wantCheck(t, exec(reportLUNs(3, 4096)), keyIllegalRequest, ascInvalidFieldInCDB)
	wantCheck(t, exec(reportLUNs(0, 15)), keyIllegalRequest, ascInvalidFieldInCDB)
}

func TestSPC4_InvalidOpcode(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	for _, op := range []byte{0x01, 0x04, 0x7f, 0xff} {
		cdb := []byte{op, 0x1f}
		wantCheck(t, tl.do(cdb, nil), keyIllegalRequest, ascInvalidOpcode)
	}
	// A known opcode with an unknown service action: INVALID FIELD IN
	// CDB at the service action (SPC-4 4.2.5.1).
	s := wantCheck(t, tl.do([]byte{opServiceActionIn16, 0x1f}, nil), keyIllegalRequest, ascInvalidFieldInCDB)
	if s.sks != [3]byte{0xcc, 0, 1} {
		t.Errorf("field pointer % x", s.sks)
	}
	// UNMAP exists only on thin LUs.
	wantCheck(t, tl.do(cdb10(opUnmap, 0, 0, 24), nil), keyIllegalRequest, ascInvalidOpcode)
	wantCheck(t, tl.tgt.execute(&Command{Nexus: nexusA}), keyIllegalRequest, ascInvalidOpcode)
}

func TestSAM5_5_14_UnitAttention(t *testing.T) {
	st := backend.NewMemory(1 << 20)
	lu, _ := NewLU(LUConfig{Serial: "ua"}, st)
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: lu})
	exec := func(n Nexus, cdb []byte) Result { return tgt.execute(&Command{Nexus: n, CDB: pad16(cdb)}) }
	tur := []byte{opTestUnitReady}

	// INQUIRY and REPORT LUNS neither report nor clear the POWER ON
	// condition; the first other command reports it, once.
	wantGood(t, exec(nexusA, inquiryCDB(false, 0, 36)))
	wantGood(t, exec(nexusA, reportLUNs(0, 64)))
	wantCheck(t, exec(nexusA, tur), keyUnitAttention, ascPowerOnResetOccurred)
	wantGood(t, exec(nexusA, tur))

	// REQUEST SENSE returns the condition as data and clears it.
	r := exec(nexusB, []byte{opRequestSense, 0, 0, 0, 18, 0})
	wantGood(t, r)
	if s := parseSense(t, r.Data); s.key != keyUnitAttention || s.asc != ascPowerOnResetOccurred {
		t.Fatalf("REQUEST SENSE %+v", s)
	}
	wantGood(t, exec(nexusB, tur))
	r = exec(nexusB, []byte{opRequestSense, 1, 0, 0, 252, 0})
	if s := parseSense(t, r.Data); s.key != keyNoSense || !s.desc {
		t.Fatalf("REQUEST SENSE without condition, DESC: %+v", s)
	}

	// A LU reset establishes a condition for every nexus, the one it
	// came from included (SAM-5 6.3.3; libiscsi MultipathIO.Reset).
	tgt.LogicalUnitReset(nexusA, 0)
	wantCheck(t, exec(nexusA, tur), keyUnitAttention, ascBusDeviceResetOccurred)
	wantGood(t, exec(nexusA, tur))
	wantCheck(t, exec(nexusB, tur), keyUnitAttention, ascBusDeviceResetOccurred)
	wantGood(t, exec(nexusB, tur))

	// A target reset likewise.
	tgt.TargetReset(nexusB)
	wantCheck(t, exec(nexusA, cdb10(opRead10, 0, 0, 1)), keyUnitAttention, ascBusDeviceResetOccurred)
	wantCheck(t, exec(nexusB, tur), keyUnitAttention, ascBusDeviceResetOccurred)

	// A nexus that comes back after it was lost sees POWER ON again.
	tgt.NexusLost(nexusA)
	wantCheck(t, exec(nexusA, tur), keyUnitAttention, ascPowerOnResetOccurred)

	if tgt.LogicalUnitReset(nexusA, encodeLUN(9)) {
		t.Error("reset of a missing LUN reported success")
	}
}

func TestSPC2_7_21_ReserveRelease(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	b := func(cdb []byte) Result { return tl.tgt.execute(&Command{Nexus: nexusB, CDB: pad16(cdb)}) }
	for _, pair := range [][2]byte{{opReserve6, opRelease6}, {opReserve10, opRelease10}} {
		wantGood(t, tl.do([]byte{pair[0]}, nil))
		wantGood(t, tl.do([]byte{pair[0]}, nil)) // again by the holder
		if r := b([]byte{opTestUnitReady}); r.Status != StatusReservationConflict {
			t.Fatalf("TUR from other nexus: status %#x", r.Status)
		}
		if r := b([]byte{pair[0]}); r.Status != StatusReservationConflict {
			t.Fatalf("RESERVE from other nexus: status %#x", r.Status)
		}
		wantGood(t, b(inquiryCDB(false, 0, 36)))
		wantGood(t, b([]byte{pair[1]})) // not the holder: no effect
		if r := b(cdb10(opRead10, 0, 0, 1)); r.Status != StatusReservationConflict {
			t.Fatalf("READ from other nexus: status %#x", r.Status)
		}
		wantGood(t, tl.do([]byte{pair[1]}, nil))
		wantGood(t, b([]byte{opTestUnitReady}))
	}
	// Loss of the holder's nexus releases.
	wantGood(t, tl.do([]byte{opReserve6}, nil))
	tl.tgt.NexusLost(nexusA)
	wantGood(t, b([]byte{opTestUnitReady}))
	wantCheck(t, tl.do([]byte{opReserve6, 0x01}, nil), keyUnitAttention, ascPowerOnResetOccurred)
	wantCheck(t, tl.do([]byte{opReserve6, 0x01}, nil), keyIllegalRequest, ascInvalidFieldInCDB)
}

func TestSBC3_5_25_StartStopUnit(t *testing.T) {
	tl := newTestLU(t, LUConfig{Removable: true}, 100)
	tur := []byte{opTestUnitReady}
	// Stop and start without LOEJ leave the unit ready.
	before := tl.store.syncs.Load()
	wantGood(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, 0x00, 0}, nil))
	if tl.store.syncs.Load() == before {
		t.Error("stop did not flush the cache")
	}
	wantGood(t, tl.do(tur, nil))
	wantGood(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, 0x01, 0}, nil))
	wantGood(t, tl.do(tur, nil))

	// Eject is refused while any nexus prevents removal.
	wantGood(t, tl.tgt.execute(&Command{Nexus: nexusB, CDB: pad16([]byte{opPreventAllow, 0, 0, 0, 1, 0})}))
	wantCheck(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, 0x02, 0}, nil), keyIllegalRequest, ascMediumRemovalPrevented)
	tl.tgt.NexusLost(nexusB)
	wantGood(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, 0x02, 0}, nil))
	wantCheck(t, tl.do(tur, nil), keyNotReady, ascMediumNotPresent)
	wantCheck(t, tl.do(cdb10(opRead10, 0, 0, 1), nil), keyNotReady, ascMediumNotPresent)
	wantGood(t, tl.do(inquiryCDB(false, 0, 36), nil))
	wantGood(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, 0x03, 0}, nil)) // load
	wantGood(t, tl.do(tur, nil))

	// Every power condition is accepted, and START/LOEJ then ignored.
	for pc := byte(1); pc < 16; pc++ {
		wantGood(t, tl.do([]byte{opStartStopUnit, 0, 0, 0, pc<<4 | 0x02, 0}, nil))
		wantGood(t, tl.do(tur, nil))
	}
	wantCheck(t, tl.do([]byte{opPreventAllow, 0, 0, 0, 2, 0}, nil), keyIllegalRequest, ascInvalidFieldInCDB)

	fixed := newTestLU(t, LUConfig{}, 100)
	wantCheck(t, fixed.do([]byte{opStartStopUnit, 0, 0, 0, 0x02, 0}, nil), keyIllegalRequest, ascInvalidFieldInCDB)
}

func TestSBC3_5_15_ReadCapacity(t *testing.T) {
	tl := newTestLU(t, LUConfig{BlockSize: 4096, Thin: true}, 1000)
	r := tl.do([]byte{opReadCapacity10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil)
	wantGood(t, r)
	if be32(r.Data) != 999 || be32(r.Data[4:]) != 4096 {
		t.Fatalf("READ CAPACITY(10) % x", r.Data)
	}
	wantCheck(t, tl.do([]byte{opReadCapacity10, 0, 0, 0, 0, 1, 0, 0, 0, 0}, nil), keyIllegalRequest, ascInvalidFieldInCDB)
	wantGood(t, tl.do([]byte{opReadCapacity10, 0, 0, 0, 0, 1, 0, 0, 1, 0}, nil))

	rc16 := make([]byte, 16)
	rc16[0], rc16[1] = opServiceActionIn16, saReadCapacity16
	put32(rc16[10:], 32)
	r = tl.do(rc16, nil)
	wantGood(t, r)
	if len(r.Data) != 32 || be64(r.Data) != 999 || be32(r.Data[8:]) != 4096 || r.Data[14]&0xc0 != 0xc0 {
		t.Fatalf("READ CAPACITY(16) % x", r.Data)
	}
	put32(rc16[10:], 12)
	if r = tl.do(rc16, nil); len(r.Data) != 12 {
		t.Errorf("allocation length 12: %d bytes", len(r.Data))
	}
}

func TestSBC3_ReadDefectDataAndTMF(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	r := tl.do([]byte{opReadDefectData10, 0, 0x18 | 5, 0, 0, 0, 0, 0, 255, 0}, nil)
	wantGood(t, r)
	if !bytes.Equal(r.Data, []byte{0, 0x1d, 0, 0}) {
		t.Errorf("READ DEFECT DATA(10) % x", r.Data)
	}
	r = tl.do([]byte{opReadDefectData12, 0x0d, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0}, nil)
	wantGood(t, r)
	if len(r.Data) != 8 || be32(r.Data[4:]) != 0 {
		t.Errorf("READ DEFECT DATA(12) % x", r.Data)
	}
	r = tl.do([]byte{opMaintenanceIn, saReportTMF, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}, nil)
	wantGood(t, r)
	if len(r.Data) != 4 || r.Data[0]&0x08 == 0 {
		t.Errorf("REPORT SUPPORTED TMF % x", r.Data)
	}
}

// TestSAM5_ConcurrentExecute runs readers and writers of overlapping
// ranges from several nexuses with the race detector.
// TestSAM5_ConcurrentExecute runs writes, reads, COMPARE AND WRITE and
// WRITE SAME with UNMAP from eight nexuses at once, each on its own range
// of the LU: every command must succeed and every read must return what
// that nexus last wrote there (a shadow copy says what), so a lost,
// misplaced or torn write fails the test with or without -race.
func TestSAM5_ConcurrentExecute(t *testing.T) {
	const (
		workers = 8
		span    = 500 // blocks per worker
	)
	tl := newTestLU(t, LUConfig{Thin: true}, workers*span)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- concurrentWorker(tl, g, span)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// concurrentWorker drives one nexus over blocks [g*span, (g+1)*span) and
// checks every result against its shadow of that range.
func concurrentWorker(tl *testLU, g, span int) error {
	const bs = 512
	n := Nexus{InitiatorName: "iqn.c", ISID: [6]byte{byte(g)}, TargetName: testTargetName, TPGT: 1}
	shadow := make([]byte, span*bs)
	base := g * span
	run := func(cdb, d []byte) (Result, error) {
		r := tl.tgt.Execute(&Command{Nexus: n, CDB: pad16(cdb), DataOut: d, ExpectedDataLength: uint32(len(d))})
		if r.Status == StatusCheckCondition && len(r.Sense) > 13 && r.Sense[12] == 0x29 {
			// The first command of a new nexus reports POWER ON.
			r = tl.tgt.Execute(&Command{Nexus: n, CDB: pad16(cdb), DataOut: d, ExpectedDataLength: uint32(len(d))})
		}
		if r.Status != StatusGood {
			return r, fmt.Errorf("nexus %d: % x: status %#x sense % x", g, cdb[:10], r.Status, r.Sense)
		}
		return r, nil
	}
	for i := range 300 {
		rel := (i * 37) % (span - 8)
		lba := uint32(base + rel)
		at := shadow[rel*bs:]
		switch i % 5 {
		case 0, 1:
			d := bytes.Repeat([]byte{byte(g*31 + i)}, 8*bs)
			if _, err := run(cdb10(opWrite10, 0, lba, 8), d); err != nil {
				return err
			}
			copy(at, d)
		case 2:
			c := cdb10(opRead10, 0, lba, 8)
			r := tl.tgt.Execute(&Command{Nexus: n, CDB: pad16(c), ExpectedDataLength: 8 * bs})
			if r.Status != StatusGood {
				return fmt.Errorf("nexus %d: READ(10) LBA %d: status %#x", g, lba, r.Status)
			}
			if !bytes.Equal(r.Data[:8*bs], at[:8*bs]) {
				return fmt.Errorf("nexus %d: READ(10) LBA %d returned data this nexus did not write", g, lba)
			}
		case 3:
			c := cdb16(opCompareAndWrite, 0, uint64(lba), 0)
			c[13] = 1
			d := append(append([]byte(nil), at[:bs]...), bytes.Repeat([]byte{byte(0x80 | i)}, bs)...)
			if _, err := run(c, d); err != nil {
				return err
			}
			copy(at, d[bs:])
		default:
			if _, err := run(cdb10(opWriteSame10, 0x08, lba, 8), make([]byte, bs)); err != nil {
				return err
			}
			clear(at[:8*bs])
		}
	}
	return nil
}

func TestSAM5_5_10_NACANotSupported(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	for _, cdb := range [][]byte{{opTestUnitReady, 0, 0, 0, 0, 0x04}, append(cdb10(opRead10, 0, 0, 1)[:9], 0x04), append(cdb16(opRead16, 0, 0, 1)[:15], 0x04)} {
		s := wantCheck(t, tl.do(cdb, nil), keyIllegalRequest, ascInvalidFieldInCDB)
		if s.sks != fieldPointer(true, len(cdb)-1, 2) {
			t.Errorf("% x: field pointer % x", cdb, s.sks)
		}
	}
}

// TestSPC4_6_33_AccessControl checks that a LUN an initiator may not
// access does not exist for it (DESIGN: access decided by name).
func TestSPC4_6_33_AccessControl(t *testing.T) {
	tgt := newMultiTarget(t, 0, 1)
	tgt.SetAccess(func(n Nexus, lun uint64) bool { return lun == 0 || n.InitiatorName == nexusA.InitiatorName })
	exec := func(n Nexus, lun uint64, cdb []byte) Result {
		return tgt.execute(&Command{Nexus: n, LUN: encodeLUN(lun), CDB: pad16(cdb)})
	}
	if r := exec(nexusB, 0, reportLUNs(0, 64)); be32(r.Data) != 8 {
		t.Fatalf("B sees % x", r.Data)
	}
	if r := exec(nexusA, 0, reportLUNs(0, 64)); be32(r.Data) != 16 {
		t.Fatalf("A sees % x", r.Data)
	}
	wantCheck(t, exec(nexusB, 1, []byte{opTestUnitReady}), keyIllegalRequest, ascLUNotSupported)
	if r := exec(nexusB, 1, inquiryCDB(false, 0, 36)); r.Data[0] != 0x7f {
		t.Fatalf("INQUIRY of hidden LUN: %#x", r.Data[0])
	}
	if tgt.LogicalUnit(nexusB, encodeLUN(1)) != nil || tgt.LogicalUnit(nexusA, encodeLUN(1)) == nil {
		t.Fatal("LogicalUnit ignores access")
	}
	tgt.SetAccess(nil)
	if tgt.LogicalUnit(nexusB, encodeLUN(1)) == nil {
		t.Fatal("SetAccess(nil) did not open access")
	}
}
