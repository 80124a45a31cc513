package integration

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi"
)

// TestSlowReaderDropped checks that an initiator that stops reading its
// Data-In, or reads it at a byte a second, cannot pin the target's
// buffers and goroutines: once a socket write has blocked for the write
// timeout the connection is dropped, its session ends, every buffer charge
// is given back and the goroutine count returns to what it was.
func TestSlowReaderDropped(t *testing.T) {
	for _, c := range []struct {
		name     string
		trickle  bool
		interval time.Duration
	}{
		{"stops reading", false, 0},
		{"reads a byte a second", true, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			const writeTimeout = 2 * time.Second
			tt := startTarget(t, targetOpts{nopInterval: time.Hour, nopTimeout: time.Hour,
				tune: func(cfg *iscsi.Config) { cfg.WriteTimeout = writeTimeout }})
			// The baseline once the accept loop runs and a session has
			// come and gone.
			dial(t, tt, initiator.Options{}).Close()
			eventually(t, 5*time.Second, func() bool { return len(tt.Server.Sessions()) == 0 })
			base := runtime.NumGoroutine()
			rc := rawLogin(t, tt, initiator.Options{})
			goodTUR(t, rc)
			// 16 reads of 8 MiB (the largest READ): far more than the
			// socket buffers hold.
			const blocks = 8 << 20 / blockSize
			for i := 0; i < 16; i++ {
				sendCmd(t, rc, read10(uint32(i%8)*blocks, blocks), blocks*blockSize, false, true, nil)
			}
			done := make(chan struct{})
			var wg sync.WaitGroup
			if c.trickle {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := make([]byte, 1)
					for {
						select {
						case <-done:
							return
						case <-time.After(c.interval):
						}
						if _, err := rc.Conn().Read(b); err != nil {
							return
						}
					}
				}()
			}
			start := time.Now()
			eventually(t, 10*writeTimeout, func() bool { return len(tt.Server.Sessions()) == 0 })
			dropped := time.Since(start)
			// The initiator's side goes too, so only the target's
			// goroutines are counted.
			close(done)
			rc.Close()
			wg.Wait()
			// The goroutines of the connection and its tasks end; the
			// budget holds nothing.
			eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= base })
			if used := tt.Server.BufferStats().Used; used != 0 {
				t.Errorf("%d bytes still charged after the connection was dropped", used)
			}
			t.Logf("dropped %v after the reads were sent (write timeout %v); goroutines back to %d",
				dropped.Round(100*time.Millisecond), writeTimeout, runtime.NumGoroutine())
		})
	}
}
