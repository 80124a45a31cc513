package integration

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// TestRFC7143_3_2_2_1_CmdSNWindow: commands outside [ExpCmdSN, MaxCmdSN] are
// silently ignored; one ahead of ExpCmdSN waits for the gap to fill and then
// both run in CmdSN order.
func TestRFC7143_3_2_2_1_CmdSNWindow(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, initiator.Options{})
	goodTUR(t, rc)
	sendCmdSN(t, rc, tur(), 0, false, false, nil, rc.MaxCmdSN+1, false)
	sendCmdSN(t, rc, tur(), 0, false, false, nil, rc.CmdSN-1, false)
	silent(t, rc, 300*time.Millisecond)

	ahead := sendCmdSN(t, rc, tur(), 0, false, false, nil, rc.CmdSN+1, false)
	silent(t, rc, 200*time.Millisecond)
	first := sendCmdSN(t, rc, tur(), 0, false, false, nil, rc.CmdSN, false)
	rc.CmdSN += 2
	got := map[uint32]bool{}
	for i := 0; i < 2; i++ {
		p := next(t, rc, pdu.OpSCSIResponse, 5*time.Second)
		got[p.Header.ITT()] = true
	}
	if !got[ahead] || !got[first] {
		t.Fatalf("responses for %v, want ITTs %#x and %#x", got, first, ahead)
	}
	if rc.ExpCmdSN != rc.CmdSN {
		t.Fatalf("target ExpCmdSN %d, want %d", rc.ExpCmdSN, rc.CmdSN)
	}
	goodTUR(t, rc)
}

// TestRFC7143_6_3_5_SessionReinstatement: a login with the same initiator
// name and ISID replaces the old session, whose connection is closed.
func TestRFC7143_6_3_5_SessionReinstatement(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	isid := pdu.ISID{0x80, 1, 2, 3, 4, 5}
	old := dial(t, tt, initiator.Options{ISID: isid})
	fresh := dial(t, tt, initiator.Options{ISID: isid})
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("old session still open after reinstatement")
	}
	if err := fresh.TestUnitReady(ctxT(t), 0); err != nil {
		t.Fatalf("new session: %v", err)
	}
	if fresh.Negotiated().TSIH == old.Negotiated().TSIH {
		t.Errorf("reinstated session kept TSIH %d", fresh.Negotiated().TSIH)
	}
	// A different ISID is a different session: both stay.
	third := dial(t, tt, initiator.Options{ISID: pdu.ISID{0x80, 9, 9, 9, 9, 9}})
	if err := fresh.TestUnitReady(ctxT(t), 0); err != nil {
		t.Fatalf("session with another ISID disturbed: %v", err)
	}
	third.Close()
}

// TestRFC7143_11_18_NOPOutPing: a NOP-Out with a task tag is answered with
// its data echoed, also while a command is in flight.
func TestRFC7143_11_18_NOPOutPing(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{})
	data := []byte("halun keepalive payload")
	task, err := s.SendCommand(ctxT(t), 0, []byte{0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0}, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Ping(ctxT(t), data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("NOP-In echoed %q, want %q", got, data)
	}
	if _, err := task.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestTargetPingsDropDeadConnections: an idle initiator that answers the
// target's NOP-In pings stays; one that does not is dropped.
func TestTargetPingsDropDeadConnections(t *testing.T) {
	tt := startTarget(t, targetOpts{nopInterval: 100 * time.Millisecond, nopTimeout: 400 * time.Millisecond})
	alive := dial(t, tt, initiator.Options{})
	dead := rawLogin(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:dead"})
	pings := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := dead.ReadPDUTimeout(time.Until(deadline))
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatal("silent connection not dropped within 5s")
			}
			break
		}
		if p.Header.Opcode() != pdu.OpNOPIn || p.Header.ITT() != pdu.ReservedTag {
			t.Fatalf("unexpected %v", p.Header.Opcode())
		}
		pings++
	}
	if pings == 0 {
		t.Fatal("target dropped the connection without pinging it")
	}
	if err := alive.TestUnitReady(ctxT(t), 0); err != nil {
		t.Fatalf("answering session was dropped: %v", err)
	}
}

// TestRFC7143_11_14_Logout closes the session cleanly.
func TestRFC7143_11_14_Logout(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{})
	if err := s.Logout(ctxT(t)); err != nil {
		t.Fatalf("logout: %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection open after logout")
	}
}

// TestRFC7143_AppendixC_SendTargets lists the target with its portal and
// portal group tag in discovery and in normal sessions.
func TestRFC7143_AppendixC_SendTargets(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	ts, err := initiator.Discover(ctxT(t), tt.Addr, initiatorIQN)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != targetIQN || len(ts[0].Portals) != 1 ||
		ts[0].Portals[0].Addr != tt.Addr || ts[0].Portals[0].TPGT != 1 {
		t.Fatalf("SendTargets=All gave %+v", ts)
	}
	ts, err = initiator.SendTargets(ctxT(t), tt.Addr, initiatorIQN, targetIQN)
	if err != nil || len(ts) != 1 {
		t.Fatalf("SendTargets=<iqn>: %+v, %v", ts, err)
	}
	ts, err = initiator.SendTargets(ctxT(t), tt.Addr, initiatorIQN, "iqn.2026-11.io.halun.test:nope")
	if err != nil || len(ts) != 0 {
		t.Fatalf("SendTargets of an unknown name: %+v, %v", ts, err)
	}
	s := dial(t, tt, initiator.Options{})
	kvs, err := s.Text(ctxT(t), []pdu.KV{{Key: "SendTargets", Value: "All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) < 2 || kvs[0].Value != targetIQN {
		t.Fatalf("SendTargets in a normal session: %v", kvs)
	}
}

// TestRFC7143_11_13_5_LoginStatus: unknown targets are refused with 0203.
func TestRFC7143_11_13_5_LoginStatus(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	_, err := initiator.Dial(ctxT(t), tt.Addr, initiator.Options{InitiatorName: initiatorIQN,
		TargetName: "iqn.2026-11.io.halun.test:missing"})
	var le *initiator.LoginError
	if !errors.As(err, &le) || le.Class != 2 || le.Detail != 3 {
		t.Fatalf("login to a missing target: %v, want status 0203", err)
	}
}

// TestGracefulShutdownKeepsAcknowledgedWrites: writes acknowledged before
// shutdown are in the store afterwards, and Serve returns.
func TestGracefulShutdownKeepsAcknowledgedWrites(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := dial(t, tt, initiator.Options{ImmediateData: true})
	data := randomBytes(t, 256<<10)
	if err := s.Write(ctxT(t), 0, 2048, data, blockSize); err != nil {
		t.Fatal(err)
	}
	tt.stop()
	got := make([]byte, len(data))
	tt.Store.ReadAt(context.Background(), got, 2048*blockSize)
	if !bytes.Equal(got, data) {
		t.Fatal("acknowledged write missing after shutdown")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session open after shutdown")
	}
}

// TestRFC7143_11_14_LogoutEndsTheNexusBeforeItsResponse: the I_T nexus
// ends with a logout, so its RESERVE(6) reservation is gone by the time the
// initiator has the Logout Response; another initiator reserving right then
// succeeds (libiscsi Reserve6.Logout). Repeated, as the old order was a
// race the second initiator usually won.
func TestRFC7143_11_14_LogoutEndsTheNexusBeforeItsResponse(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	b := dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:b"})
	reserve6 := []byte{0x16, 0, 0, 0, 0, 0}
	release6 := []byte{0x17, 0, 0, 0, 0, 0}
	for i := range 20 {
		a := dial(t, tt, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:a"})
		if r, err := a.Execute(ctxT(t), 0, reserve6, nil, 0); err != nil || r.Err() != nil {
			t.Fatalf("round %d: RESERVE(6) from A: %v %v", i, err, r.Err())
		}
		if err := a.Logout(ctxT(t)); err != nil {
			t.Fatalf("round %d: logout: %v", i, err)
		}
		r, err := b.Execute(ctxT(t), 0, reserve6, nil, 0)
		if err != nil || r.Err() != nil {
			t.Fatalf("round %d: RESERVE(6) from B right after A's logout: %v %v", i, err, r.Err())
		}
		if r, err := b.Execute(ctxT(t), 0, release6, nil, 0); err != nil || r.Err() != nil {
			t.Fatalf("round %d: RELEASE(6) from B: %v", i, err)
		}
	}
}
