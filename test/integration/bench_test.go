package integration

import (
	"sync"
	"testing"

	"github.com/halun/halun/internal/initiator"
)

// End-to-end benchmarks: the Go initiator against an in-process target on
// a memory volume over loopback TCP. They measure the whole command path
// (framing, CmdSN window, SCSI, Data-In/R2T) including the initiator's
// share, so compare runs of the same benchmark, not with other targets —
// scripts/bench.sh does that with real clients.
func benchIO(b *testing.B, size, qd int, write bool) {
	tt := startTarget(b, targetOpts{})
	s := dial(b, tt, initiator.Options{ImmediateData: true, MaxRecvDataSegmentLength: 262144,
		MaxBurstLength: 1 << 20, FirstBurstLength: 262144})
	t := b
	data := make([]byte, size)
	blocks := uint32(size / blockSize)
	span := uint64(volumeSize/size) * uint64(blocks)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / qd
	for w := 0; w < qd; w++ {
		n := per
		if w == 0 {
			n += b.N % qd
		}
		wg.Add(1)
		go func(w, n int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				lba := (uint64(w*n+i) * uint64(blocks)) % span
				var err error
				if write {
					err = s.Write(ctxT(t), 0, lba, data, blockSize)
				} else {
					_, err = s.Read(ctxT(t), 0, lba, blocks, blockSize)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}(w, n)
	}
	wg.Wait()
}

func BenchmarkRead4KQD1(b *testing.B)   { benchIO(b, 4096, 1, false) }
func BenchmarkRead4KQD32(b *testing.B)  { benchIO(b, 4096, 32, false) }
func BenchmarkWrite4KQD32(b *testing.B) { benchIO(b, 4096, 32, true) }
func BenchmarkRead1MQD8(b *testing.B)   { benchIO(b, 1<<20, 8, false) }
func BenchmarkWrite1MQD8(b *testing.B)  { benchIO(b, 1<<20, 8, true) }
