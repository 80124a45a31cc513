package admin_test

import (
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
)

// TestLivePortals changes the portals of a running node by reload while a
// session does I/O: added portals and groups listen at once and are
// announced by SendTargets, a removed portal stops listening and closes
// only the connections that came through it, and a portal whose address
// is taken refuses the whole change.
func TestLivePortals(t *testing.T) {
	nd := startNode(t)
	ctx := ctxT(t)
	busy := nd.login(t, targetA, ini1)
	var ua uaLog
	if err := ua.do(func() error { return busy.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var ops atomic.Int64
	ioErr := make(chan error, 1)
	go func() { ioErr <- ioLoop(t, busy, &ua, stop, &ops) }()
	defer func() {
		close(stop)
		if err := <-ioErr; err != nil {
			t.Errorf("the busy session saw an error: %v", err)
		}
	}()

	text, err := os.ReadFile(nd.path)
	if err != nil {
		t.Fatal(err)
	}
	base := string(text)
	addrC, addrB := freeAddr(t), freeAddr(t)
	one := `portals: ["` + nd.addr + `"]`
	grown := strings.Replace(base, one+"\n",
		`portals: ["`+nd.addr+`", "`+addrC+`"]`+"\n  - tag: 2\n    portals: [\""+addrB+"\"]\n", 1)
	if grown == base {
		t.Fatal("config edit did nothing")
	}
	// reload applies text and checks that it closed wantClosed connections,
	// ended no session, and reported each of wantChanges.
	reload := func(text string, wantClosed int, wantChanges ...string) {
		t.Helper()
		writeConfig(t, nd.path, text)
		res, err := nd.client.Reload(ctx)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		t.Logf("reload: %q, %d connections closed", res.Changes, res.ConnectionsClosed)
		if res.SessionsEnded != 0 {
			t.Errorf("reload ended %d sessions", res.SessionsEnded)
		}
		if res.ConnectionsClosed != wantClosed {
			t.Errorf("reload closed %d connections, want %d", res.ConnectionsClosed, wantClosed)
		}
		for _, want := range wantChanges {
			if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, want) }) {
				t.Errorf("changes %q lack %q", res.Changes, want)
			}
		}
	}

	// Add a portal to group 1 and a new group 2: both listen at once, and
	// target A (which names no groups, so is on all) is served on both.
	reload(grown, 0, "portal "+addrC+" (group 1) added", "portal "+addrB+" (group 2) added", "portal groups [1 2]")
	ds, err := initiator.Discover(ctx, addrB, ini1)
	if err != nil {
		t.Fatalf("discovery through the new portal: %v", err)
	}
	var got []initiator.Portal
	for _, d := range ds {
		if d.Name == targetA {
			got = d.Portals
		}
	}
	for _, want := range []initiator.Portal{{Addr: nd.addr, TPGT: 1}, {Addr: addrC, TPGT: 1}, {Addr: addrB, TPGT: 2}} {
		if !slices.Contains(got, want) {
			t.Errorf("SendTargets lists %v for target A, lacks %v", got, want)
		}
	}
	viaC := dialAt(t, addrC, ini1)
	viaB := dialAt(t, addrB, ini1)
	for name, s := range map[string]*initiator.Session{"C": viaC, "B": viaB} {
		if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
			t.Errorf("session through portal %s: %v", name, err)
		}
	}
	sessions, err := nd.client.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tpgts := map[uint16]int{}
	for _, s := range sessions {
		tpgts[s.TPGT]++
	}
	if tpgts[1] != 2 || tpgts[2] != 1 {
		t.Errorf("sessions per portal group %v, want 2 on group 1 and 1 on group 2", tpgts)
	}

	// Remove portal C: it stops listening, its one connection is closed,
	// every other session goes on.
	shrunk := strings.Replace(grown, `, "`+addrC+`"`, "", 1)
	reload(shrunk, 1, "portal "+addrC+" (group 1) removed")
	if err := viaC.TestUnitReady(ctx, 0); err == nil {
		t.Errorf("the session through the removed portal still works")
	}
	if err := ua.do(func() error { return viaB.TestUnitReady(ctx, 0) }); err != nil {
		t.Errorf("the session through portal B broke: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addrC, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the removed portal %s still accepts connections", addrC)
	}

	// Move portal B to group 1 (group 2 gets a new address D): the
	// listener carries over, its connection of group 2 is closed, and a new
	// login through B is in group 1.
	addrD := freeAddr(t)
	moved := strings.Replace(shrunk, `portals: ["`+nd.addr+`"]`, `portals: ["`+nd.addr+`", "`+addrB+`"]`, 1)
	moved = strings.Replace(moved, `portals: ["`+addrB+`"]`, `portals: ["`+addrD+`"]`, 1)
	reload(moved, 1, "portal "+addrB+" (group 1, was 2) moved")
	if err := viaB.TestUnitReady(ctx, 0); err == nil {
		t.Errorf("the group 2 session through the moved portal still works")
	}
	viaB = dialAt(t, addrB, ini1)
	if err := ua.do(func() error { return viaB.TestUnitReady(ctx, 0) }); err != nil {
		t.Errorf("a new session through the moved portal: %v", err)
	}
	// The closed session leaves the table as its reader exits.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if sessions, err = nd.client.Sessions(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sessions) <= 2 || time.Now().After(deadline) {
			break
		}
	}
	for _, s := range sessions {
		if s.TPGT != 1 {
			t.Errorf("session %s/%s in group %d after the move, want 1", s.Initiator, s.ISID, s.TPGT)
		}
	}
	if len(sessions) != 2 {
		t.Errorf("%d sessions after the move, want the busy one and the new one through B", len(sessions))
	}

	// A portal on an address another program holds: the reload is refused
	// and the portals stay as they were.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	blocked := strings.Replace(moved, `portals: ["`+addrD+`"]`, `portals: ["`+addrD+`", "`+taken.Addr().String()+`"]`, 1)
	writeConfig(t, nd.path, blocked)
	if _, err := nd.client.Reload(ctx); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("reload onto a taken address: %v, want an error naming it", err)
	}
	ps, err := nd.client.Portals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, p := range ps {
		if p.Bound == "" {
			t.Errorf("portal %s (group %d) is not bound", p.Addr, p.Group)
		}
		addrs = append(addrs, p.Addr)
	}
	if want := []string{nd.addr, addrB, addrD}; !slices.Equal(addrs, want) {
		t.Errorf("portals after the refused reload: %v, want %v", addrs, want)
	}
	if err := ua.do(func() error { return viaB.TestUnitReady(ctx, 0) }); err != nil {
		t.Errorf("the session through portal B broke: %v", err)
	}
	if ops.Load() == 0 {
		t.Errorf("the busy session did no I/O")
	}
}

// dialAt logs ini in to target A through the portal at addr.
func dialAt(t *testing.T, addr, ini string) *initiator.Session {
	t.Helper()
	s, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: ini, TargetName: targetA})
	if err != nil {
		t.Fatalf("login through %s: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
