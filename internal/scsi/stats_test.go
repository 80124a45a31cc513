package scsi

import (
	"encoding/binary"
	"testing"
	"time"
)

// Every command counts in its LU's statistics under the class the opcode
// table gives it, with the bytes it moved, in the latency histogram, and
// by sense key when it ends in CHECK CONDITION.
func TestStatsCountCommandsByClass(t *testing.T) {
	tl := newTestLU(t, LUConfig{Thin: true}, 1024)
	before := tl.lu.Stats()
	wantGood(t, tl.do(cdb10(opWrite10, 0, 0, 8), fill(8*512, 0xaa)))
	wantGood(t, tl.do(cdb16(opWrite16, 0, 8, 2), fill(2*512, 0xbb)))
	wantGood(t, tl.do(cdb10(opRead10, 0, 0, 4), nil))
	wantGood(t, tl.do(cdb10(opSyncCache10, 0, 0, 0), nil))
	wantGood(t, tl.do(cdb16(opWriteSame16, 0x08, 100, 16), fill(512, 0)))
	param := make([]byte, 24)
	binary.BigEndian.PutUint16(param[0:], 22)
	binary.BigEndian.PutUint16(param[2:], 16)
	binary.BigEndian.PutUint64(param[8:], 200)
	binary.BigEndian.PutUint32(param[16:], 8)
	unmap := make([]byte, 10)
	unmap[0] = opUnmap
	binary.BigEndian.PutUint16(unmap[7:], uint16(len(param)))
	wantGood(t, tl.do(unmap, param))
	// A read past the end: ILLEGAL REQUEST; an unknown opcode too.
	wantCheck(t, tl.do(cdb10(opRead10, 0, 2000, 1), nil), keyIllegalRequest, ascLBAOutOfRange)
	wantCheck(t, tl.do([]byte{0xff, 0, 0, 0, 0, 0}, nil), keyIllegalRequest, ascInvalidOpcode)
	after := tl.lu.Stats()

	for _, tc := range []struct {
		class           StatClass
		commands, bytes uint64
	}{
		{StatWrite, 2, 10 * 512},
		{StatRead, 2, 4 * 512},
		{StatSync, 1, 0},
		{StatWriteSame, 1, 512},
		{StatUnmap, 1, 24},
		{StatOther, 1, 0},
	} {
		a, b := after.Class[tc.class], before.Class[tc.class]
		if got := a.Commands - b.Commands; got != tc.commands {
			t.Errorf("%v: %d commands, want %d", tc.class, got, tc.commands)
		}
		if got := a.Bytes - b.Bytes; got != tc.bytes {
			t.Errorf("%v: %d bytes, want %d", tc.class, got, tc.bytes)
		}
		if last := a.Buckets[len(a.Buckets)-1] - b.Buckets[len(b.Buckets)-1]; last > a.Commands-b.Commands {
			t.Errorf("%v: histogram holds %d, more than the %d commands", tc.class, last, tc.commands)
		}
		if tc.commands > 0 && a.Seconds <= b.Seconds {
			t.Errorf("%v: no time recorded", tc.class)
		}
	}
	if got := after.SenseKeys[keyIllegalRequest] - before.SenseKeys[keyIllegalRequest]; got != 2 {
		t.Errorf("%d ILLEGAL REQUEST results counted, want 2", got)
	}
}

// The histogram is cumulative and every observation lands in exactly
// one bucket.
func TestStatsHistogramBuckets(t *testing.T) {
	lu := &LU{}
	good := &Result{}
	for _, d := range []int64{1, int64(LatencyBuckets[0]), int64(LatencyBuckets[0]) + 1, int64(LatencyBuckets[len(LatencyBuckets)-1]) * 2} {
		lu.stats.record(StatRead, 0, time.Duration(d), good)
	}
	snap := lu.Stats().Class[StatRead]
	if snap.Commands != 4 {
		t.Fatalf("%d commands, want 4", snap.Commands)
	}
	if snap.Buckets[0] != 2 || snap.Buckets[1] != 3 || snap.Buckets[len(snap.Buckets)-1] != 3 {
		t.Errorf("cumulative buckets %v, want 2 at ≤25µs, 3 at ≤50µs and at the last bound", snap.Buckets)
	}
}
