package scsi

import (
	"testing"

	"github.com/halun/halun/internal/backend"
)

// benchLU is a 1 GiB thin memory LU, written once so reads copy data.
func benchTarget(b *testing.B, bs uint32) *LUNTarget {
	lu, err := NewLU(LUConfig{Serial: "bench", BlockSize: bs, WriteCache: true}, backend.NewMemory(1<<30))
	if err != nil {
		b.Fatal(err)
	}
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: lu})
	tgt.execute(&Command{Nexus: nexusA, CDB: make([]byte, 16)}) // POWER ON UA
	return tgt
}

func benchRW(b *testing.B, cdbFor func(lba uint64, n uint32) []byte, size int, write bool) {
	tgt := benchTarget(b, 512)
	n := uint32(size / 512)
	var d []byte
	if write {
		d = make([]byte, size)
	}
	span := (1 << 30) / size
	cmd := &Command{Nexus: nexusA, DataOut: d, ExpectedDataLength: uint32(size)}
	// Build every CDB up front so the loop measures only Execute.
	cdbs := make([][]byte, min(span, 4096))
	for i := range cdbs {
		cdbs[i] = pad16(cdbFor(uint64(i)*uint64(n), n))
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cmd.CDB = cdbs[i%len(cdbs)]
		if r := tgt.execute(cmd); r.Status != StatusGood {
			b.Fatalf("status %#x", r.Status)
		}
	}
}

func read10(lba uint64, n uint32) []byte  { return cdb10(opRead10, 0, uint32(lba), uint16(n)) }
func write10(lba uint64, n uint32) []byte { return cdb10(opWrite10, 0, uint32(lba), uint16(n)) }
func read16(lba uint64, n uint32) []byte  { return cdb16(opRead16, 0, lba, n) }
func write16(lba uint64, n uint32) []byte { return cdb16(opWrite16, 0, lba, n) }

func BenchmarkRead10_4K(b *testing.B)   { benchRW(b, read10, 4096, false) }
func BenchmarkRead10_64K(b *testing.B)  { benchRW(b, read10, 64<<10, false) }
func BenchmarkRead16_1M(b *testing.B)   { benchRW(b, read16, 1<<20, false) }
func BenchmarkWrite10_4K(b *testing.B)  { benchRW(b, write10, 4096, true) }
func BenchmarkWrite10_64K(b *testing.B) { benchRW(b, write10, 64<<10, true) }
func BenchmarkWrite16_1M(b *testing.B)  { benchRW(b, write16, 1<<20, true) }

func BenchmarkTestUnitReady(b *testing.B) {
	tgt := benchTarget(b, 512)
	cmd := &Command{Nexus: nexusA, CDB: make([]byte, 16)}
	b.ReportAllocs()
	for b.Loop() {
		tgt.execute(cmd)
	}
}

func BenchmarkRead10_4K_Parallel(b *testing.B) {
	tgt := benchTarget(b, 512)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		cmd := &Command{Nexus: nexusA, CDB: read10(0, 8)}
		for pb.Next() {
			tgt.execute(cmd)
		}
	})
}
