package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// writeRetrying writes, retrying while the target answers TASK SET FULL
// or BUSY, as initiators do; it returns how many times it retried.
func writeRetrying(ctx context.Context, s *initiator.Session, lba uint64, data []byte) (int, error) {
	for retries := 0; ; retries++ {
		err := s.Write(ctx, 0, lba, data, blockSize)
		var se *initiator.SCSIError
		if errors.As(err, &se) && (se.Status == 0x28 || se.Status == 0x08) {
			time.Sleep(time.Millisecond)
			continue
		}
		return retries, err
	}
}

// TestBufferBudgetUnderLoad runs many sessions writing and reading at once
// against a budget a few commands wide, in every data-out mode: solicited
// only (writes wait for room before their R2Ts), immediate data, and
// immediate plus unsolicited data (writes wait by stopping the reader, or
// are answered TASK SET FULL). Every write lands, nothing deadlocks, the
// budget is never exceeded, and it is all given back at the end.
func TestBufferBudgetUnderLoad(t *testing.T) {
	const (
		sessions = 6
		depth    = 6
		xfer     = 256 << 10
		rounds   = 4
	)
	modes := []struct {
		name string
		o    initiator.Options
	}{
		{"solicited only", initiator.Options{InitialR2T: true}},
		{"immediate data", initiator.Options{InitialR2T: true, ImmediateData: true, FirstBurstLength: 65536}},
		{"immediate and unsolicited", initiator.Options{ImmediateData: true, FirstBurstLength: 131072,
			MaxRecvDataSegmentLength: 32768}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tt := startTarget(t, targetOpts{tune: func(c *iscsi.Config) {
				c.MaxTransferLength = 1 << 20
				c.MaxSessionBufferedData = 1 << 20
				c.MaxBufferedData = 2 << 20
			}})
			var wg sync.WaitGroup
			var mu sync.Mutex
			retried := 0
			errs := make(chan error, sessions*depth)
			for i := 0; i < sessions; i++ {
				o := m.o
				o.ISID = pdu.ISID{0x80, 0, 0, 0, 1, byte(i)}
				s := dial(t, tt, o)
				for j := 0; j < depth; j++ {
					wg.Add(1)
					go func(slot int) {
						defer wg.Done()
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
						defer cancel()
						lba := uint64(slot) * xfer / blockSize
						for r := 0; r < rounds; r++ {
							data := bytes.Repeat([]byte{byte(slot), byte(r)}, xfer/2)
							n, err := writeRetrying(ctx, s, lba, data)
							mu.Lock()
							retried += n
							mu.Unlock()
							if err != nil {
								errs <- fmt.Errorf("slot %d write %d: %w", slot, r, err)
								return
							}
							got, err := s.Read(ctx, 0, lba, xfer/blockSize, blockSize)
							if err != nil {
								errs <- fmt.Errorf("slot %d read %d: %w", slot, r, err)
								return
							}
							if !bytes.Equal(got, data) {
								errs <- fmt.Errorf("slot %d round %d: data read back differs", slot, r)
								return
							}
						}
					}(i*depth + j)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			st := tt.Server.BufferStats()
			if st.Peak > st.Limit {
				t.Errorf("peak %d bytes charged, above the limit %d", st.Peak, st.Limit)
			}
			eventually(t, 5*time.Second, func() bool { return tt.Server.BufferStats().Used == 0 })
			t.Logf("peak %d KiB of %d KiB; %d TASK SET FULL answers, %d retries", st.Peak>>10, st.Limit>>10,
				st.TaskSetFull, retried)
		})
	}
}

// TestBufferBudgetOverlapping mixes reads and writes of one LBA range per
// session, so that tasks wait for earlier ones (overlapping writes are
// ordered) while the budget is a command or two wide: charges taken in
// delivery order mean no task holds the room an earlier one needs, and
// everything completes.
func TestBufferBudgetOverlapping(t *testing.T) {
	const (
		sessions = 4
		depth    = 8
		xfer     = 512 << 10
		rounds   = 6
	)
	tt := startTarget(t, targetOpts{tune: func(c *iscsi.Config) {
		c.MaxTransferLength = 1 << 20
		c.MaxSessionBufferedData = 1 << 20
		c.MaxBufferedData = 2 << 20
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, sessions*depth)
	for i := 0; i < sessions; i++ {
		s := dial(t, tt, initiator.Options{ISID: pdu.ISID{0x80, 0, 0, 0, 2, byte(i)}, ImmediateData: true,
			FirstBurstLength: 65536})
		lba := uint64(i) * xfer / blockSize
		for j := 0; j < depth; j++ {
			wg.Add(1)
			go func(j int) {
				defer wg.Done()
				data := bytes.Repeat([]byte{byte(j)}, xfer)
				for r := 0; r < rounds; r++ {
					var err error
					if (j+r)%2 == 0 {
						_, err = writeRetrying(ctx, s, lba, data)
					} else {
						_, err = s.Read(ctx, 0, lba, xfer/blockSize, blockSize)
					}
					if err != nil {
						errs <- fmt.Errorf("session %d worker %d round %d: %w", i, j, r, err)
						return
					}
				}
			}(j)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, 5*time.Second, func() bool { return tt.Server.BufferStats().Used == 0 })
}
