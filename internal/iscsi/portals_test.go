package iscsi

import (
	"net"
	"slices"
	"testing"
	"time"
)

func unusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestPortalChangePhases: prepare binds the new portals, abort unbinds
// them, a commit after shutdown leaves nothing listening, and a portal in
// two groups is refused before anything is bound.
func TestPortalChangePhases(t *testing.T) {
	a1, a2 := unusedAddr(t), unusedAddr(t)
	s, err := NewServer(Config{PortalGroups: []PortalGroup{{Tag: 1, Addrs: []string{a1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	groups := []PortalGroup{{Tag: 1, Addrs: []string{a1}}, {Tag: 2, Addrs: []string{a2}}}

	ch, err := s.PreparePortals(groups)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a2 + " (group 2)"}; !slices.Equal(ch.Added, want) || len(ch.Removed) != 0 || len(ch.Moved) != 0 {
		t.Errorf("change: added %q removed %q moved %q, want added %q", ch.Added, ch.Removed, ch.Moved, want)
	}
	if !listening(a2) {
		t.Errorf("prepare did not bind %s", a2)
	}
	ch.Abort()
	if listening(a2) {
		t.Errorf("abort left %s bound", a2)
	}
	if got := s.PortalGroups(); len(got) != 1 {
		t.Errorf("an aborted change altered the groups: %+v", got)
	}

	if _, err := s.PreparePortals([]PortalGroup{{Tag: 1, Addrs: []string{a1}}, {Tag: 2, Addrs: []string{a1}}}); err == nil {
		t.Errorf("a portal in two groups was accepted")
	}

	ch, err = s.PreparePortals(groups)
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(0)
	if n := ch.Commit(); n != 0 {
		t.Errorf("commit closed %d connections, want 0", n)
	}
	for _, a := range []string{a1, a2} {
		if listening(a) {
			t.Errorf("%s listens after shutdown", a)
		}
	}
}
