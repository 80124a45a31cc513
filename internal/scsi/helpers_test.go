package scsi

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/halun/halun/internal/backend"
)

const testTargetName = "iqn.2026-11.org.halun:test"

var (
	nexusA = Nexus{InitiatorName: "iqn.2026-11.org.halun:a", ISID: [6]byte{0x80, 0, 0, 0, 0, 1}, TargetName: testTargetName, TPGT: 1}
	nexusB = Nexus{InitiatorName: "iqn.2026-11.org.halun:b", ISID: [6]byte{0x80, 0, 0, 0, 0, 2}, TargetName: testTargetName, TPGT: 1}
)

// countingStore counts durability requests: Sync calls and durable
// writes.
type countingStore struct {
	backend.Store
	syncs atomic.Int64
}

func (s *countingStore) Sync(ctx context.Context) error { s.syncs.Add(1); return s.Store.Sync(ctx) }

func (s *countingStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	if durable {
		s.syncs.Add(1)
	}
	return s.Store.WriteAt(ctx, p, off, durable)
}

func (s *countingStore) MapStatus(off, n int64) (bool, int64, error) {
	return s.Store.(backend.Mapper).MapStatus(off, n)
}

// testLU is a LU on a memory store of blocks blocks plus the target that
// serves it as LUN 0.
type testLU struct {
	t     *testing.T
	lu    *LU
	store *countingStore
	tgt   *LUNTarget
}

func newTestLU(t testing.TB, cfg LUConfig, blocks int64) *testLU {
	if cfg.Serial == "" {
		cfg.Serial = "6001405a1b2c3d4e5f60718293a4b5c6"
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 512
	}
	st := &countingStore{Store: backend.NewMemory(blocks * int64(cfg.BlockSize))}
	lu, err := NewLU(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLU{lu: lu, store: st, tgt: NewTarget(testTargetName, map[uint64]*LU{0: lu})}
	if tt, ok := t.(*testing.T); ok {
		tl.t = tt
	}
	// Consume the POWER ON unit attention of both test nexuses.
	for _, n := range []Nexus{nexusA, nexusB} {
		tl.tgt.execute(&Command{Nexus: n, CDB: make([]byte, 16)})
	}
	return tl
}

// do runs cdb from nexus A on LUN 0 with data-out d.
func (tl *testLU) do(cdb []byte, d []byte) Result {
	return tl.tgt.execute(&Command{Nexus: nexusA, CDB: pad16(cdb), DataOut: d, ExpectedDataLength: uint32(len(d))})
}

func pad16(cdb []byte) []byte {
	if len(cdb) >= 16 {
		return cdb
	}
	b := make([]byte, 16)
	copy(b, cdb)
	return b
}

// CDB builders.
func cdb6(op byte, lba uint32, n byte) []byte {
	return []byte{op, byte(lba>>16) & 0x1f, byte(lba >> 8), byte(lba), n, 0}
}

func cdb10(op, b1 byte, lba uint32, n uint16) []byte {
	b := make([]byte, 10)
	b[0], b[1] = op, b1
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint16(b[7:], n)
	return b
}

func cdb12(op, b1 byte, lba uint32, n uint32) []byte {
	b := make([]byte, 12)
	b[0], b[1] = op, b1
	binary.BigEndian.PutUint32(b[2:], lba)
	binary.BigEndian.PutUint32(b[6:], n)
	return b
}

func cdb16(op, b1 byte, lba uint64, n uint32) []byte {
	b := make([]byte, 16)
	b[0], b[1] = op, b1
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], n)
	return b
}

// senseInfo is decoded sense data.
type senseInfo struct {
	key       uint8
	asc       uint16
	info      uint64
	infoValid bool
	sks       [3]byte
	desc      bool
}

func parseSense(t testing.TB, b []byte) senseInfo {
	t.Helper()
	if len(b) < 8 {
		t.Fatalf("sense data too short: % x", b)
	}
	var s senseInfo
	switch b[0] & 0x7f {
	case 0x70:
		if len(b) < 18 || int(b[7])+8 != len(b) {
			t.Fatalf("bad fixed sense: % x", b)
		}
		s.key = b[2] & 0x0f
		s.asc = uint16(b[12])<<8 | uint16(b[13])
		s.infoValid = b[0]&0x80 != 0
		s.info = uint64(binary.BigEndian.Uint32(b[3:]))
		copy(s.sks[:], b[15:18])
	case 0x72:
		s.desc = true
		if int(b[7])+8 != len(b) {
			t.Fatalf("bad descriptor sense length: % x", b)
		}
		s.key = b[1] & 0x0f
		s.asc = uint16(b[2])<<8 | uint16(b[3])
		for p := 8; p+2 <= len(b); p += 2 + int(b[p+1]) {
			switch b[p] {
			case 0x00:
				s.infoValid = b[p+2]&0x80 != 0
				s.info = binary.BigEndian.Uint64(b[p+4:])
			case 0x02:
				copy(s.sks[:], b[p+4:p+7])
			}
		}
	default:
		t.Fatalf("unknown sense response code %#x", b[0])
	}
	return s
}

// wantGood fails unless r is GOOD.
func wantGood(t testing.TB, r Result) {
	t.Helper()
	if r.Status != StatusGood {
		var s senseInfo
		if len(r.Sense) > 0 {
			s = parseSense(t, r.Sense)
		}
		t.Fatalf("status %#x, sense key %#x asc %#04x; want GOOD", r.Status, s.key, s.asc)
	}
}

// wantCheck fails unless r is CHECK CONDITION with key and asc, and
// returns the sense.
func wantCheck(t testing.TB, r Result, key uint8, asc uint16) senseInfo {
	t.Helper()
	if r.Status != StatusCheckCondition {
		t.Fatalf("status %#x, want CHECK CONDITION (key %#x asc %#04x)", r.Status, key, asc)
	}
	s := parseSense(t, r.Sense)
	if s.key != key || s.asc != asc {
		t.Fatalf("sense key %#x asc %#04x, want key %#x asc %#04x", s.key, s.asc, key, asc)
	}
	return s
}

func fill(n int, c byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func (s *countingStore) Resize(n int64) error { return s.Store.(backend.Resizer).Resize(n) }
