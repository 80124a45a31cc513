package scale

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

func write16(lba uint64, blocks uint32) []byte {
	c := make([]byte, 16)
	c[0] = 0x8a
	binary.BigEndian.PutUint64(c[2:], lba)
	binary.BigEndian.PutUint32(c[10:], blocks)
	return c
}

// clearUA consumes the unit attention a new I_T nexus sees first.
func clearUA(ctx context.Context, s *initiator.Session) error {
	var err error
	for i := 0; i < 4; i++ {
		if err = s.TestUnitReady(ctx, 0); err == nil {
			return nil
		}
	}
	return err
}

// TestWriteFloodMemoryBound floods one in-process node with writes from
// 500 sessions and checks that the process's resident memory stays under
// floodRSSLimitMiB above what it was with the sessions logged in and idle:
// three times the buffered-data limit, which is the limit itself plus the
// Go runtime's headroom (GOGC=100 lets the heap grow to twice the live
// data before a collection) and freed buffers waiting in their pools for
// reuse. README "Resource limits" has the measured figures.
//
// Each session keeps floodDepth writes of 8 MiB (the largest WRITE) in
// flight, with immediate data and unsolicited data (InitialR2T=No), and
// holds back each write's Data-Out for 50 ms, so that buffers sit
// allocated while their data trickles in: without a bound, the node would
// hold 500 × 4 × 8 MiB = 16 GiB of write buffers. The node runs with the
// default buffered-data limit (max_buffered_data 1GiB); RSS is sampled
// every 50 ms during the flood. The initiators run in the same process
// and share one data buffer, so they add little.
func TestWriteFloodMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for tens of seconds")
	}
	const (
		floodDepth       = 4
		xfer             = 8 << 20
		blockSize        = 512
		floodRSSLimitMiB = 3072
	)
	sessions := envInt(t, "HALUN_FLOOD_SESSIONS", 500)
	seconds := envInt(t, "HALUN_FLOOD_SECONDS", 20)
	node, addr := startNode(t, "  max_connections_per_address: 1024")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	base := settledRSSKiB(t)
	ss := make([]*initiator.Session, 0, sessions)
	defer func() {
		for _, s := range ss {
			s.Close()
		}
	}()
	for i := 0; i < sessions; i++ {
		s, err := initiator.Dial(ctx, addr, initiator.Options{
			InitiatorName: fmt.Sprintf("iqn.2026-11.io.halun.test:flood%04d", i),
			ISID:          pdu.ISID{0x80, 0, 0, 0, byte(i >> 8), byte(i)},
			TargetName:    inprocIQN, ImmediateData: true, FirstBurstLength: 262144,
			MaxBurstLength: 1 << 20, MaxRecvDataSegmentLength: 262144})
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		ss = append(ss, s)
		if err := clearUA(ctx, s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
	}
	idle := settledRSSKiB(t)

	var peakRSS atomic.Int64
	stopSampler := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := int64(selfRSSKiB(t)); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			select {
			case <-stopSampler:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	data := make([]byte, xfer)
	for i := range data {
		data[i] = byte(i)
	}
	var writes, full, failed atomic.Int64
	var firstErr atomic.Value
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	var wg sync.WaitGroup
	for _, s := range ss {
		for j := 0; j < floodDepth; j++ {
			wg.Add(1)
			go func(s *initiator.Session) {
				defer wg.Done()
				for time.Now().Before(end) {
					lba := uint64(rand.IntN(64<<20/xfer)) * xfer / blockSize
					gate := make(chan struct{})
					time.AfterFunc(50*time.Millisecond, func() { close(gate) })
					task, err := s.Start(ctx, initiator.Command{CDB: write16(lba, xfer/blockSize), DataOut: data,
						Attr: pdu.AttrSimple, DataOutGate: gate})
					var r *initiator.Response
					if err == nil {
						r, err = task.Wait(ctx)
					}
					switch {
					case err != nil:
					case r.Status == 0x28 || r.Status == 0x08:
						full.Add(1)
						continue
					case r.Status != 0:
						err = fmt.Errorf("status %#x sense %x", r.Status, r.Sense)
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
						return
					}
					writes.Add(1)
				}
			}(s)
		}
	}
	wg.Wait()
	close(stopSampler)
	<-sampled
	st := node.Server.BufferStats()
	if err := firstErr.Load(); err != nil {
		t.Errorf("%d writers failed, the first with: %v", failed.Load(), err)
	}
	peak := int(peakRSS.Load())
	t.Logf("%d sessions × %d writes of %d MiB in flight for %ds: %d writes done (%.0f MiB/s), %d TASK SET FULL",
		sessions, floodDepth, xfer>>20, seconds, writes.Load(), float64(writes.Load()*xfer>>20)/float64(seconds), full.Load())
	t.Logf("RSS: %d MiB at start, %d MiB with the sessions idle, peak %d MiB during the flood (%d MiB above idle; limit %d MiB)",
		base>>10, idle>>10, peak>>10, (peak-idle)>>10, floodRSSLimitMiB)
	t.Logf("buffer budget: peak %d MiB charged of %d MiB", st.Peak>>20, st.Limit>>20)
	if st.Peak > st.Limit {
		t.Errorf("buffer charges peaked at %d bytes, above the limit %d", st.Peak, st.Limit)
	}
	if (peak-idle)>>10 > floodRSSLimitMiB {
		t.Errorf("RSS grew %d MiB during the flood, above the documented %d MiB", (peak-idle)>>10, floodRSSLimitMiB)
	}
	if writes.Load() == 0 {
		t.Error("no write completed")
	}
}
