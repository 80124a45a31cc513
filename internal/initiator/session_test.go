package initiator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

func dialFake(t *testing.T, ft *fakeTarget, o Options) *Session {
	t.Helper()
	o.InitiatorName = "iqn.2026-11.test:unit"
	o.TargetName = "iqn.2026-11.test:fake"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dial(ctx, ft.addr(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func noAnomalies(t *testing.T, s *Session) {
	t.Helper()
	if a := s.Anomalies(); len(a) > 0 {
		t.Errorf("anomalies: %v", a)
	}
}

// TestSessionMatrix writes and reads back data concurrently under every
// combination of digests, InitialR2T, ImmediateData, tiny and default
// MaxRecvDataSegmentLength on both sides, status delivery, R2T sizes and
// CmdSN windows; the fake target checks every PDU it receives.
func TestSessionMatrix(t *testing.T) {
	before := goroutines()
	sizes := []int{1, 2, 3, 16, 17, 64, 129, 300}
	for _, dig := range []bool{false, true} {
		for _, r2t := range []bool{false, true} {
			for _, imm := range []bool{false, true} {
				for _, small := range []bool{false, true} {
					cfg := fakeConfig{window: 32, statusSep: small, r2tLen: 0, dataInSeg: 65536}
					o := Options{HeaderDigest: dig, DataDigest: dig, InitialR2T: r2t, ImmediateData: imm,
						FirstBurstLength: 16384, MaxBurstLength: 65536, MaxOutstandingR2T: 3}
					if small {
						cfg.maxRecv, cfg.window, cfg.r2tLen = 512, 1, 5000
						o.MaxRecvDataSegmentLength = 512
					}
					name := fmt.Sprintf("digest=%v/r2t=%v/imm=%v/small=%v", dig, r2t, imm, small)
					t.Run(name, func(t *testing.T) {
						ft := newFakeTarget(t, cfg)
						s := dialFake(t, ft, o)
						ctx := testCtx(t)
						var wg sync.WaitGroup
						for i, n := range sizes {
							wg.Add(1)
							go func() {
								defer wg.Done()
								rng := rand.New(rand.NewPCG(uint64(i), 1))
								data := make([]byte, n*512)
								for j := range data {
									data[j] = byte(rng.Uint32())
								}
								lba := uint64(i) * 512
								if err := s.Write(ctx, 1, lba, data, 512); err != nil {
									t.Errorf("write %d blocks: %v", n, err)
									return
								}
								got, err := s.Read(ctx, 1, lba, uint32(n), 512)
								if err != nil {
									t.Errorf("read %d blocks: %v", n, err)
									return
								}
								if !bytes.Equal(got, data) {
									t.Errorf("%d blocks read back differ", n)
								}
							}()
						}
						wg.Wait()
						if err := s.Logout(ctx); err != nil {
							t.Error(err)
						}
						noAnomalies(t, s)
						if !errors.Is(s.Err(), ErrLoggedOut) {
							t.Errorf("session error after logout: %v", s.Err())
						}
					})
				}
			}
		}
	}
	waitGoroutines(t, before)
}

func TestSessionBasics(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{maxRecv: 65536})
	s := dialFake(t, ft, Options{ImmediateData: true})
	ctx := testCtx(t)
	p := s.Negotiated()
	if p.TargetMaxRecvDataSegmentLength != 65536 || p.TSIH != 1 || p.ISID[0] != 0x80 {
		t.Fatalf("%+v", p)
	}
	if err := s.TestUnitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Ping(ctx, []byte("ping"))
	if err != nil || string(got) != "ping" {
		t.Fatal(got, err)
	}
	_, err = s.Read(ctx, 1, 4096, 1, 512)
	var se *SCSIError
	if !errors.As(err, &se) || se.SenseKey != 5 || se.ASC != 0x21 {
		t.Fatalf("read past end: %v", err)
	}
	// A CDB longer than 16 bytes travels in an AHS; the fake does not know
	// the opcode and answers CHECK CONDITION.
	long := make([]byte, 32)
	long[0] = 0x7f
	r, err := s.Execute(ctx, 1, long, nil, 0)
	if err == nil {
		err = r.Err()
	}
	if !errors.As(err, &se) {
		t.Fatalf("32-byte CDB: %v", err)
	}
	noAnomalies(t, s)
}

// TestSessionTargetPing checks RFC 7143 §11.18.3: a NOP-In with a TTT gets a
// NOP-Out echoing it, with the reserved ITT.
func TestSessionTargetPing(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	s := dialFake(t, ft, Options{})
	fc := ft.conn(0)
	for ttt := uint32(1); ttt <= 3; ttt++ {
		fc.injectPing(ttt * 100)
		select {
		case got := <-fc.pongs:
			if got != ttt*100 {
				t.Fatalf("pong TTT %d, want %d", got, ttt*100)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no NOP-Out answered the ping")
		}
	}
	if err := s.Nop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestSessionAsyncLogout checks RFC 7143 §11.9.1 event 1: the initiator
// logs out and the session ends with ErrLogoutRequested.
func TestSessionAsyncLogout(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	var events []AsyncEvent
	var mu sync.Mutex
	s := dialFake(t, ft, Options{OnAsyncEvent: func(e AsyncEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	fc := ft.conn(0)
	fc.injectAsync(pdu.AsyncLogoutRequest)
	select {
	case <-fc.logouts:
	case <-time.After(5 * time.Second):
		t.Fatal("no Logout Request after the Async Message")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if !errors.Is(s.Err(), ErrLogoutRequested) {
		t.Fatalf("session error %v", s.Err())
	}
	if err := s.TestUnitReady(testCtx(t), 1); !errors.Is(err, ErrLogoutRequested) {
		t.Fatalf("command after logout: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].Event != pdu.AsyncLogoutRequest || events[0].Param3 != 2 {
		t.Fatalf("events %+v", events)
	}
}

func TestSessionAsyncDrop(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	s := dialFake(t, ft, Options{})
	ft.conn(0).injectAsync(pdu.AsyncDropConnection)
	<-s.Done()
	if !errors.Is(s.Err(), ErrTargetDropped) {
		t.Fatal(s.Err())
	}
}

// TestSessionAbort aborts a write whose R2Ts never come, then resets the LUN
// under another: both end with ErrTaskAborted (RFC 7143 §11.5.1).
func TestSessionAbort(t *testing.T) {
	before := goroutines()
	ft := newFakeTarget(t, fakeConfig{holdWrites: true})
	s := dialFake(t, ft, Options{InitialR2T: true})
	ctx := testCtx(t)
	task, err := s.SendCommand(ctx, 1, rw16(0x8a, 0, 64, false), make([]byte, 64*512), 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.AbortTask(ctx, 1, task.ITT())
	if err != nil || resp != pdu.TMFRespComplete {
		t.Fatal(resp, err)
	}
	if _, err := task.Wait(ctx); !errors.Is(err, ErrTaskAborted) {
		t.Fatalf("aborted task: %v", err)
	}
	if resp, err := s.AbortTask(ctx, 1, task.ITT()); err != nil || resp != pdu.TMFRespNoTask {
		t.Fatal(resp, err)
	}
	t1, _ := s.SendCommand(ctx, 1, rw16(0x8a, 0, 8, false), make([]byte, 8*512), 0)
	t2, _ := s.SendCommand(ctx, 2, rw16(0x8a, 0, 8, false), make([]byte, 8*512), 0)
	if resp, err := s.LUNReset(ctx, 1); err != nil || resp != pdu.TMFRespComplete {
		t.Fatal(resp, err)
	}
	if _, err := t1.Wait(ctx); !errors.Is(err, ErrTaskAborted) {
		t.Fatalf("task on the reset LUN: %v", err)
	}
	select {
	case <-t2.Done():
		t.Fatal("task on another LUN ended by the LUN reset")
	default:
	}
	if resp, err := s.TargetColdReset(ctx); err != nil || resp != pdu.TMFRespNotSupported {
		t.Fatal(resp, err)
	}
	s.Close()
	if _, err := t2.Wait(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("task outstanding at Close: %v", err)
	}
	waitGoroutines(t, before)
}

func TestSessionReject(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{rejectOpcode: 0xee})
	s := dialFake(t, ft, Options{})
	ctx := testCtx(t)
	_, err := s.Execute(ctx, 1, []byte{0xee, 0, 0, 0, 0, 0}, nil, 0)
	var re *RejectError
	if !errors.As(err, &re) || re.Reason != pdu.RejectCommandNotSupported || re.Header.Opcode() != pdu.OpSCSICommand {
		t.Fatalf("%v", err)
	}
	if err := s.TestUnitReady(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// TestSessionProtocolViolation: a Data-In numbered from 1 ends the session
// with ErrProtocol (ERL 0: the connection is dropped).
func TestSessionProtocolViolation(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{badDataSN: true})
	s := dialFake(t, ft, Options{})
	_, err := s.Read(testCtx(t), 1, 0, 1, 512)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("%v", err)
	}
	if !errors.Is(s.Err(), ErrProtocol) {
		t.Fatal(s.Err())
	}
}

func TestSessionMaxBurstViolation(t *testing.T) {
	// The target answers a larger MaxBurstLength than offered: login fails.
	ft := newFakeTarget(t, fakeConfig{offerMaxBurst: "1048576"})
	_, err := Dial(testCtx(t), ft.addr(), Options{InitiatorName: "iqn.i", TargetName: "iqn.t", MaxBurstLength: 65536})
	if err == nil {
		t.Fatal("login accepted")
	}
}

func TestLoginRefused(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{refuse: true})
	_, err := Dial(testCtx(t), ft.addr(), Options{InitiatorName: "iqn.i", TargetName: "iqn.t"})
	var le *LoginError
	if !errors.As(err, &le) || le.Class != 2 || le.Detail != 3 {
		t.Fatalf("%v", err)
	}
}

func TestSkipSecurityStage(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	s := dialFake(t, ft, Options{SkipSecurityStage: true})
	if err := s.TestUnitReady(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverFake(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	ts, err := Discover(testCtx(t), ft.addr(), "iqn.2026-11.test:unit")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "iqn.2026-11.test:fake" || ts[0].Portals[0] != (Portal{Addr: ft.addr(), TPGT: 1}) {
		t.Fatalf("%+v", ts)
	}
	if !ft.conn(0).isDiscovery() {
		t.Fatal("not a discovery session")
	}
}

// TestSessionContextCancel: a cancelled Wait leaves the task running; its
// response is consumed and the session goes on.
func TestSessionContextCancel(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{holdWrites: true})
	s := dialFake(t, ft, Options{InitialR2T: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Execute(ctx, 1, make([]byte, 6), nil, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	task, err := s.SendCommand(testCtx(t), 1, rw16(0x8a, 0, 1, false), make([]byte, 512), 0)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := task.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if err := s.TestUnitReady(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
}

// TestSessionWindow: with MaxCmdSN = ExpCmdSN (a window of one), many
// concurrent commands wait their turn; the fake target checks each CmdSN.
func TestSessionWindow(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{window: 1})
	s := dialFake(t, ft, Options{})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.TestUnitReady(ctx, 1); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	noAnomalies(t, s)
}

// TestSessionRaw detaches the reader and speaks by hand.
func TestSessionRaw(t *testing.T) {
	before := goroutines()
	ft := newFakeTarget(t, fakeConfig{})
	s := dialFake(t, ft, Options{HeaderDigest: true, DataDigest: true})
	if err := s.Nop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Raw()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	waitGoroutines(t, before)
	if err := s.Nop(testCtx(t)); !errors.Is(err, ErrDetached) {
		t.Fatalf("Nop on a detached session: %v", err)
	}
	m := pdu.NOPOut{Immediate: true, ITT: rc.NextITT, TTT: pdu.ReservedTag, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, []byte("raw")); err != nil {
		t.Fatal(err)
	}
	p, err := rc.ReadPDUTimeout(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Opcode() != pdu.OpNOPIn || p.Header.ITT() != m.ITT || string(p.Data) != "raw" || rc.ExpStatSN != p.Header.Field32(24)+1 {
		t.Fatalf("%v %q", p.Header.Opcode(), p.Data)
	}
}

// TestRawLogin logs in over a RawConn.
func TestRawLogin(t *testing.T) {
	ft := newFakeTarget(t, fakeConfig{})
	rc, err := DialRaw(testCtx(t), ft.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p, err := rc.Login(testCtx(t), Options{InitiatorName: "iqn.i", TargetName: "iqn.t", DataDigest: true})
	if err != nil || !p.DataDigest {
		t.Fatal(p, err)
	}
	m := pdu.NOPOut{Immediate: true, ITT: 7, TTT: pdu.ReservedTag, CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
	var h pdu.Header
	m.Encode(&h)
	if err := rc.SendPDU(&h, nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if p, err := rc.ReadPDUTimeout(5 * time.Second); err != nil || p.Header.ITT() != 7 {
		t.Fatal(p, err)
	}
}

func TestCloseIdempotentNoLeak(t *testing.T) {
	before := goroutines()
	ft := newFakeTarget(t, fakeConfig{})
	s := dialFake(t, ft, Options{})
	s.Close()
	s.Close()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Fatal(s.Err())
	}
	waitGoroutines(t, before)
}
