package scsi

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/halun/halun/internal/backend"
)

// waitingStore is a store whose writes wait, as a replicated store waits
// on its peers, until the command's context is done.
type waitingStore struct {
	backend.Store
	entered chan struct{}
}

func (s *waitingStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	close(s.entered)
	<-ctx.Done()
	return fmt.Errorf("replica: %w: %w", backend.ErrUnavailable, ctx.Err())
}

// TestSAM5_AbortReachesTheStore: a store call waiting on something else
// gives up when the transport no longer wants the command (Command.Done),
// and the command ends without a MEDIUM ERROR.
func TestSAM5_AbortReachesTheStore(t *testing.T) {
	st := &waitingStore{Store: backend.NewMemory(1 << 20), entered: make(chan struct{})}
	lu, err := NewLU(LUConfig{Serial: "waiting1"}, st)
	if err != nil {
		t.Fatal(err)
	}
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: lu})
	tgt.Execute(&Command{Nexus: nexusA, CDB: pad16([]byte{opTestUnitReady})}) // POWER ON
	done := make(chan struct{})
	res := make(chan Result)
	go func() {
		res <- tgt.Execute(&Command{Nexus: nexusA, CDB: pad16(cdb10(opWrite10, 0, 1, 1)), DataOut: make([]byte, 512), ExpectedDataLength: 512, Done: done})
	}()
	<-st.entered
	close(done)
	wantCheck(t, <-res, keyNotReady, ascALUATransitioning)
}

func TestCmdContext(t *testing.T) {
	var c cmdContext
	if c.Err() != nil || c.Done() != nil {
		t.Error("a command without Done is never done")
	}
	done := make(chan struct{})
	c = cmdContext{done: done}
	if c.Err() != nil {
		t.Error("done before Done closed")
	}
	close(done)
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err after Done closed: %v", c.Err())
	}
	if _, ok := c.Deadline(); ok || c.Value("k") != nil {
		t.Error("deadline or value")
	}
}
