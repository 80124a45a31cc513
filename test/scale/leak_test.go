package scale

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// Tolerances of TestNoLeaks, after the cycles against the baseline taken
// after a warm-up: goroutines and file descriptors exactly back, RSS
// within leakRSSToleranceMiB after a collection that returns free memory
// to the kernel (the heap's own bookkeeping and size-class pools move a
// little between two settled points).
const leakRSSToleranceMiB = 16

// leakWorkers is how many cycles run at once.
const leakWorkers = 8

// TestNoLeaks runs login/logout cycles, connections dropped in the middle
// of the login and connections dropped with a write waiting for its
// R2T-solicited data against an in-process node, then checks that the
// goroutine count, open file descriptors and resident memory are back
// where they were. HALUN_LEAK_CYCLES sets the cycles of each kind
// (default 10,000, some 15 s on 2 cores).
func TestNoLeaks(t *testing.T) {
	cycles := envInt(t, "HALUN_LEAK_CYCLES", 10000)
	node, addr := startNode(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	kinds := []struct {
		name string
		run  func(i int) error
	}{
		{"login/logout", func(i int) error { return loginLogout(ctx, addr, i) }},
		{"dropped mid-login", func(i int) error { return dropMidLogin(addr, i) }},
		{"dropped mid-command", func(i int) error { return dropMidCommand(ctx, addr, i) }},
	}
	runAll := func(n int) {
		for _, k := range kinds {
			start := time.Now()
			if err := runCycles(n, k.run); err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			if n == cycles {
				t.Logf("%d × %s in %v", n, k.name, time.Since(start).Round(time.Millisecond))
			}
		}
	}
	// Warm-up: pools, the runtime's own goroutines, the log of the first
	// sessions.
	runAll(50)
	waitNoSessions(t, node.Server.Sessions)
	g0 := settle(-1)
	f0 := openFDs(t)
	r0 := settledRSSKiB(t)

	runAll(cycles)
	waitNoSessions(t, node.Server.Sessions)
	g1 := settle(g0)
	f1 := openFDs(t)
	r1 := settledRSSKiB(t)
	t.Logf("goroutines %d -> %d, open fds %d -> %d, RSS %d KiB -> %d KiB (%+d KiB); buffer charges %d bytes",
		g0, g1, f0, f1, r0, r1, r1-r0, node.Server.BufferStats().Used)
	if g1 > g0 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left over:\n%s", g1-g0, buf[:runtime.Stack(buf, true)])
	}
	if f1 > f0 {
		t.Errorf("%d file descriptors left open", f1-f0)
	}
	if (r1-r0)>>10 > leakRSSToleranceMiB {
		t.Errorf("RSS grew %d KiB over %d cycles of each kind, above the %d MiB tolerance", r1-r0, cycles, leakRSSToleranceMiB)
	}
	if u := node.Server.BufferStats().Used; u != 0 {
		t.Errorf("%d bytes of buffers still charged", u)
	}
}

// runCycles runs fn(0..n-1) on leakWorkers goroutines and returns the
// first error.
func runCycles(n int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < leakWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("cycle %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func waitNoSessions[T any](t *testing.T, sessions func() []T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(sessions()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open", len(sessions()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leakOptions(i int) initiator.Options {
	return initiator.Options{InitiatorName: fmt.Sprintf("iqn.2026-11.io.halun.test:leak%d", i%64),
		TargetName: inprocIQN}
}

// loginLogout logs in, runs one command and logs out.
func loginLogout(ctx context.Context, addr string, i int) error {
	s, err := initiator.Dial(ctx, addr, leakOptions(i))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Nop(ctx); err != nil {
		return err
	}
	return s.Logout(ctx)
}

// dropMidLogin opens a connection and closes it inside the login: after
// part of the first header, after the first Login Request, or after its
// response.
func dropMidLogin(addr string, i int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	o := leakOptions(i)
	req := pdu.LoginReq{Transit: true, CSG: 0, NSG: 1, ISID: pdu.ISID{0x80, 0, 0, 0, byte(i >> 8), byte(i)}, CmdSN: 1}
	var h pdu.Header
	req.Encode(&h)
	data := pdu.AppendText(nil, []pdu.KV{{Key: "InitiatorName", Value: o.InitiatorName},
		{Key: "TargetName", Value: o.TargetName}, {Key: "SessionType", Value: "Normal"},
		{Key: "AuthMethod", Value: "None"}})
	if i%3 == 0 {
		_, err := c.Write(h[:20])
		return err
	}
	w := pdu.NewWriter(c)
	if err := w.Write(&h, nil, data); err != nil {
		return err
	}
	if i%3 == 2 {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var p pdu.PDU
		r := pdu.NewReader(c)
		if err := r.ReadHeader(&p); err != nil {
			return fmt.Errorf("login response: %w", err)
		}
	}
	return nil
}

// dropMidCommand logs in, sends a 1 MiB WRITE without data, waits for the
// target's R2T (its buffer is allocated and charged) and closes the
// connection.
func dropMidCommand(ctx context.Context, addr string, i int) error {
	rc, err := initiator.DialRaw(ctx, addr)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := rc.Login(ctx, leakOptions(i)); err != nil {
		return err
	}
	const blocks = 2048
	cdb := [16]byte{0x2a}
	binary.BigEndian.PutUint32(cdb[2:], uint32(i%64)*blocks)
	binary.BigEndian.PutUint16(cdb[7:], blocks)
	m := pdu.SCSICommand{Final: true, Write: true, Attr: pdu.AttrSimple, ITT: 1,
		ExpectedDataTransferLength: blocks * 512, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN, CDB: cdb}
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, nil); err != nil {
		return err
	}
	for {
		p, err := rc.ReadPDUTimeout(10 * time.Second)
		if err != nil {
			return fmt.Errorf("waiting for the R2T: %w", err)
		}
		switch p.Header.Opcode() {
		case pdu.OpR2T:
			return nil
		case pdu.OpNOPIn:
		default:
			return fmt.Errorf("got %v instead of an R2T", p.Header.Opcode())
		}
	}
}
