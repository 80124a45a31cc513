package integration

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// ackedWrite is a write the target acknowledged with GOOD status.
type ackedWrite struct {
	lba  uint64
	data []byte
}

// TestShutdownAsksInitiatorsToLogOut: a graceful shutdown sends every
// session an Async Message asking for a logout within the logout wait
// (RFC 7143 §11.9.1, AsyncEvent 1, Parameter3 in seconds). A busy session
// that logs out is drained: each command it sent gets its response, and it
// is gone while the target still waits for the other. A session that
// ignores the request is still served, then closed when the wait is over.
// Every acknowledged write is in the store.
func TestShutdownAsksInitiatorsToLogOut(t *testing.T) {
	const wait = 5 * time.Second
	const deafIQN = "iqn.2026-11.io.halun.test:deaf"
	tt := startTarget(t, targetOpts{logoutWait: wait})

	// The ignoring session: a raw connection that answers nothing.
	rc := rawLogin(t, tt, initiator.Options{InitiatorName: deafIQN, ImmediateData: true})
	goodTUR(t, rc)

	// The busy session: writers at disjoint LBAs until the target asks
	// for the logout.
	events := make(chan initiator.AsyncEvent, 4)
	busy := dial(t, tt, initiator.Options{ImmediateData: true,
		OnAsyncEvent: func(ev initiator.AsyncEvent) { events <- ev }})
	var (
		mu    sync.Mutex
		acked []ackedWrite
		errs  []error
		wg    sync.WaitGroup
	)
	started := make(chan struct{}, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				lba := uint64(w*20000 + i*16)
				data := randomBytes(t, 16*blockSize)
				err := busy.Write(ctxT(t), 0, lba, data, blockSize)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				acked = append(acked, ackedWrite{lba, data})
				mu.Unlock()
				if i == 10 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 4 {
		<-started
	}

	tt.cancel() // what SIGTERM does in halun serve

	// The busy session gets the request, logs out and is gone while the
	// target still waits for the deaf one.
	select {
	case ev := <-events:
		if ev.Event != pdu.AsyncLogoutRequest || ev.Param3 != 5 {
			t.Errorf("async event %+v, want event 1 (logout request) with Parameter3 5", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no Async Message reached the busy session")
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, initiator.ErrLogoutRequested) {
			t.Errorf("a write of the busy session failed with %v; want each sent one answered and new ones refused for the logout", err)
		}
	}
	select {
	case <-busy.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the busy session did not end")
	}
	if err := busy.Err(); !errors.Is(err, initiator.ErrLogoutRequested) {
		t.Errorf("busy session ended with %v, want its logout", err)
	}
	if a := busy.Anomalies(); len(a) > 0 {
		t.Errorf("anomalies: %v", a)
	}
	// The target ends the session once the Logout Response is out: it
	// leaves the table while the deaf one (closed only at the end of the
	// wait) is still there.
	for deadline := time.Now().Add(30 * time.Second); ; {
		busyLeft, deafLeft := false, false
		for _, si := range tt.Server.Sessions() {
			busyLeft = busyLeft || si.Initiator == initiatorIQN
			deafLeft = deafLeft || si.Initiator == deafIQN
		}
		if !busyLeft {
			if !deafLeft {
				t.Errorf("the busy session was not gone before the logout wait ended")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the busy session is still listed 30s after its logout")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The deaf session gets the same request, is still served, and is
	// closed at the end of the wait.
	p := next(t, rc, pdu.OpAsyncMessage, 30*time.Second)
	var am pdu.AsyncMessage
	am.Decode(&p.Header)
	if am.Event != pdu.AsyncLogoutRequest || am.Param3 != 5 {
		t.Errorf("Async Message %+v, want event 1 with Parameter3 5", am)
	}
	if p.Header.ITT() != pdu.ReservedTag {
		t.Errorf("Async Message ITT %#x, want 0xffffffff", p.Header.ITT())
	}
	late := randomBytes(t, 2*blockSize)
	itt := sendCmd(t, rc, write10(100000, 2), uint32(len(late)), true, false, late)
	if st, key := status(t, rc, itt); st != 0 {
		t.Errorf("a write after the logout request: status %#x sense key %#x, want GOOD", st, key)
	} else {
		acked = append(acked, ackedWrite{100000, late})
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := rc.ReadPDUTimeout(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the deaf session's connection is open 30s after the shutdown began")
		}
		if err != nil {
			break
		}
	}

	select {
	case <-tt.done:
		if tt.serveErr != nil {
			t.Errorf("Serve: %v", tt.serveErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Serve did not return within 60s of the shutdown")
	}
	if len(tt.Server.Sessions()) != 0 {
		t.Errorf("sessions left after shutdown: %+v", tt.Server.Sessions())
	}

	for _, w := range acked {
		got := make([]byte, len(w.data))
		if err := tt.Store.ReadAt(context.Background(), got, int64(w.lba)*blockSize); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w.data) {
			t.Fatalf("acknowledged write at LBA %d is not in the store", w.lba)
		}
	}
	t.Logf("%d acknowledged writes verified", len(acked))
}
