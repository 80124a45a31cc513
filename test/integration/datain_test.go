package integration

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
)

// TestLargeReadSmallSegments reads 8 MiB at a time through a session that
// takes Data-In segments of 4 KiB, so one read's 2,048 PDUs fill the
// writer's batch several times over, while other reads run beside it: every
// byte must arrive as written (a read's buffer must not go back to its pool
// before its last PDU is sent, or another read reuses it under it).
func TestLargeReadSmallSegments(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{MaxRecvDataSegmentLength: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size = 8 << 20
	regions := make([][]byte, 4)
	for i := range regions {
		regions[i] = bytes.Repeat([]byte{byte(0x11 * (i + 1))}, size)
		if err := s.Write(ctx, 0, uint64(i)*size/blockSize, regions[i], blockSize); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(regions))
	for i := range regions {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < 6; r++ {
				got, err := s.Read(ctx, 0, uint64(i)*size/blockSize, size/blockSize, blockSize)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, regions[i]) {
					off := 0
					for off < size && got[off] == regions[i][off] {
						off++
					}
					errs <- fmt.Errorf("region %d round %d: byte %d is %#x, want %#x", i, r, off, got[off], regions[i][off])
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
