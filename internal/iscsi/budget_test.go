package iscsi

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestBufAccount checks the two limits of a connection's account, that a
// give wakes waiters, and that closing gives back everything held while
// later gives of swept charges change nothing.
func TestBufAccount(t *testing.T) {
	b := newBudget(100)
	a1 := &bufAccount{b: b, limit: 60}
	a2 := &bufAccount{b: b, limit: 60}
	if !a1.tryTake(40) || !a1.tryTake(20) {
		t.Fatal("charges within both limits refused")
	}
	if a1.tryTake(1) {
		t.Fatal("a charge above the session limit taken")
	}
	if !a2.tryTake(40) {
		t.Fatal("charge within both limits refused")
	}
	if a2.tryTake(1) {
		t.Fatal("a charge above the server limit taken")
	}
	w := b.waiter()
	a1.give(20)
	select {
	case <-w:
	default:
		t.Fatal("a give did not wake the waiters")
	}
	if !a2.tryTake(20) {
		t.Fatal("room given back not reusable")
	}
	a2.close()
	if b.used != 40 {
		t.Fatalf("server budget holds %d after a close, want 40", b.used)
	}
	a2.give(40) // a charge the close already swept
	if b.used != 40 {
		t.Fatalf("a give after close changed the budget to %d", b.used)
	}
	if a2.tryTake(1) {
		t.Fatal("a closed account took a charge")
	}
	if b.peak != 100 {
		t.Fatalf("peak %d, want 100", b.peak)
	}
}

// TestTakeBufWaits checks that a blocked charge completes when room is
// given back, and gives up when the connection ends.
func TestTakeBufWaits(t *testing.T) {
	b := newBudget(10)
	holder := &bufAccount{b: b, limit: 10}
	holder.tryTake(10)
	c := &conn{done: make(chan struct{}), srv: &Server{budget: b}}
	c.acct = bufAccount{b: b, limit: 10}
	got := make(chan bool)
	go func() { got <- c.takeBuf(5) }()
	select {
	case <-got:
		t.Fatal("charge taken while the budget was full")
	case <-time.After(50 * time.Millisecond):
	}
	holder.give(10)
	if !<-got {
		t.Fatal("charge not taken once room was given back")
	}
	holder.tryTake(5)
	go func() { got <- c.takeBuf(5) }()
	close(c.done)
	if <-got {
		t.Fatal("charge taken after the connection ended")
	}
}

// TestAdmitLimits checks the connection counts by address and in total.
func TestAdmitLimits(t *testing.T) {
	s := &Server{cfg: Config{MaxConnections: 3, MaxConnectionsPerAddress: 2}, conns: map[*conn]struct{}{},
		perAddr: map[netip.Addr]int{}}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	add := func(addr netip.Addr) string {
		why := s.admit(addr)
		if why == "" {
			s.conns[&conn{}] = struct{}{}
		}
		return why
	}
	if add(a) != "" || add(a) != "" {
		t.Fatal("connections within the limits refused")
	}
	if add(a) == "" {
		t.Fatal("third connection from one address admitted")
	}
	if add(b) != "" {
		t.Fatal("connection from another address refused")
	}
	if add(b) == "" {
		t.Fatal("fourth connection admitted")
	}
	s.leave(a)
	for c := range s.conns {
		delete(s.conns, c)
		break
	}
	if add(a) != "" {
		t.Fatal("freed place not reusable")
	}
}

// TestRefusalLogPaced checks that a flood of refused connections logs one
// line per interval, with the number refused meanwhile.
func TestRefusalLogPaced(t *testing.T) {
	h := &countHandler{}
	log := slog.New(h)
	var r refusals
	addr := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 1000; i++ {
		r.note(log, addr, "connection limit reached")
	}
	if h.n != 1 {
		t.Fatalf("%d log lines for 1000 refusals in a burst, want 1", h.n)
	}
	r.last = time.Now().Add(-refusalLogInterval)
	r.note(log, addr, "connection limit reached")
	if h.n != 2 || h.missed != 999 {
		t.Fatalf("after the interval: %d lines, %d reported refused meanwhile; want 2 and 999", h.n, h.missed)
	}
}

type countHandler struct {
	mu     sync.Mutex
	n      int
	missed int64
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "refused_since_last_report" {
			h.missed = a.Value.Int64()
		}
		return true
	})
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
