package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/initiator"
)

// slowStore is a store whose writes take a while (as a replicated
// volume's do: they wait for the replica), and that records how many ran
// at once.
type slowStore struct {
	backend.Store
	delay time.Duration
	cur   atomic.Int32
	most  atomic.Int32
}

func (s *slowStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(s.delay)
	return s.Store.WriteAt(ctx, p, off, durable)
}

// TestSlowCommandsRunInParallelAfterLoneOnes: a connection whose slow
// commands arrived one at a time runs them on its reader goroutine
// (lone.go); once the initiator sends several at once they must run in
// parallel again, not one after the other behind the reader.
func TestSlowCommandsRunInParallelAfterLoneOnes(t *testing.T) {
	slow := &slowStore{delay: 2 * time.Millisecond}
	tt := startTarget(t, targetOpts{store: func(st backend.Store) backend.Store { slow.Store = st; return slow }})
	s := dial(t, tt, initiator.Options{ImmediateData: true})
	data := randomBytes(t, 4096)
	for i := range 20 {
		if err := s.Write(ctxT(t), 0, uint64(i*8), data, blockSize); err != nil {
			t.Fatal(err)
		}
	}
	if m := slow.most.Load(); m != 1 {
		t.Fatalf("%d writes ran at once with one outstanding", m)
	}
	const depth = 8
	for round := range 5 {
		var wg sync.WaitGroup
		for w := range depth {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Write(ctxT(t), 0, uint64((round*depth+w)*8), data, blockSize); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if m := slow.most.Load(); m < depth/2 {
		t.Fatalf("at most %d of %d outstanding slow writes ran at once: the reader ran them one after the other", m, depth)
	}
}
