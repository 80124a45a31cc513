package integration

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/login"
)

// TestDataTransferMatrix writes and reads back data under every combination
// of the negotiation choices that change how data moves (RFC 7143 §13:
// digests, InitialR2T, ImmediateData, MaxRecvDataSegmentLength in both
// directions, MaxBurstLength, FirstBurstLength, MaxOutstandingR2T), and
// checks the bytes against the store itself.
func TestDataTransferMatrix(t *testing.T) {
	type side struct {
		name                       string
		digests, initialR2T, immed bool
		mrdsl, burst, first, r2ts  int
	}
	initiators := []side{
		{name: "defaults", immed: true},
		{name: "digests", digests: true, immed: true},
		{name: "InitialR2T", initialR2T: true},
		{name: "no-immediate", immed: false},
		{name: "tiny-pdus", mrdsl: 512, burst: 4096, first: 1024, immed: true, r2ts: 4},
		{name: "many-r2t", initialR2T: true, burst: 8192, r2ts: 16, digests: true},
	}
	targets := []side{
		{name: "fast", mrdsl: 262144, burst: 1 << 20, first: 65536, r2ts: 1, immed: true},
		{name: "small", mrdsl: 512, burst: 2048, first: 512, r2ts: 8, immed: true, initialR2T: true},
	}
	sizes := []int{512, 4096, 65536 + 1024, 1<<20 + 4096}
	for _, ts := range targets {
		settings := login.DefaultSettings()
		settings.MaxRecvDataSegmentLength = ts.mrdsl
		settings.MaxBurstLength = ts.burst
		settings.FirstBurstLength = ts.first
		settings.MaxOutstandingR2T = ts.r2ts
		settings.ImmediateData = ts.immed
		settings.InitialR2T = ts.initialR2T
		tt := startTarget(t, targetOpts{settings: &settings})
		for _, is := range initiators {
			t.Run(ts.name+"/"+is.name, func(t *testing.T) {
				s := dial(t, tt, initiator.Options{HeaderDigest: is.digests, DataDigest: is.digests,
					InitialR2T: is.initialR2T, ImmediateData: is.immed, MaxRecvDataSegmentLength: is.mrdsl,
					MaxBurstLength: is.burst, FirstBurstLength: is.first, MaxOutstandingR2T: is.r2ts})
				p := s.Negotiated()
				if p.HeaderDigest != is.digests || p.DataDigest != is.digests {
					t.Fatalf("digests negotiated %v/%v, want %v", p.HeaderDigest, p.DataDigest, is.digests)
				}
				lba := uint64(0)
				for _, n := range sizes {
					data := randomBytes(t, n)
					if err := s.Write(ctxT(t), 0, lba, data, blockSize); err != nil {
						t.Fatalf("write %d bytes at %d: %v", n, lba, err)
					}
					got, err := s.Read(ctxT(t), 0, lba, uint32(n/blockSize), blockSize)
					if err != nil {
						t.Fatalf("read %d bytes at %d: %v", n, lba, err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("read back %d bytes at LBA %d: data differs", n, lba)
					}
					onDisk := make([]byte, n)
					tt.Store.ReadAt(context.Background(), onDisk, int64(lba)*blockSize)
					if !bytes.Equal(onDisk, data) {
						t.Fatalf("store holds other bytes than written at LBA %d", lba)
					}
					lba += uint64(n/blockSize) + 7
				}
				if a := s.Anomalies(); len(a) > 0 {
					t.Errorf("initiator saw protocol anomalies: %v", a)
				}
			})
		}
	}
}

// TestConcurrentCommands keeps many commands in flight on one session
// (the CmdSN window at work) and checks every region afterwards.
func TestConcurrentCommands(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{ImmediateData: true, MaxBurstLength: 1 << 20})
	const workers, per, region = 32, 8, 64 << 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	want := make([][]byte, workers)
	for w := 0; w < workers; w++ {
		want[w] = randomBytes(t, region)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lba := uint64(w * region / blockSize)
			for i := 0; i < per; i++ {
				if err := s.Write(ctxT(t), 0, lba, want[w], blockSize); err != nil {
					errs <- fmt.Errorf("worker %d write: %w", w, err)
					return
				}
				got, err := s.Read(ctxT(t), 0, lba, region/blockSize, blockSize)
				if err != nil {
					errs <- fmt.Errorf("worker %d read: %w", w, err)
					return
				}
				if !bytes.Equal(got, want[w]) {
					errs <- fmt.Errorf("worker %d: data differs", w)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
