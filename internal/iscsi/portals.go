package iscsi

import (
	"errors"
	"fmt"
	"net"
	"slices"
)

// Portals: the server binds every address of every portal group, and a
// reconfiguration changes them live in two phases, like the rest of a
// reload. PreparePortals binds the new addresses (and may fail, leaving
// everything as it was); Commit then swaps the groups in, starts serving
// the new listeners, closes the removed ones and the connections that
// came through them, and cannot fail. Connections through portals that
// stay are not touched.

// checkGroups refuses a portal group defined twice.
func checkGroups(groups []PortalGroup) error {
	seen := map[uint16]bool{}
	for _, pg := range groups {
		if seen[pg.Tag] {
			return fmt.Errorf("iscsi: portal group %d defined twice", pg.Tag)
		}
		seen[pg.Tag] = true
	}
	return nil
}

func cloneGroups(groups []PortalGroup) []PortalGroup {
	out := make([]PortalGroup, len(groups))
	for i, pg := range groups {
		out[i] = PortalGroup{Tag: pg.Tag, Addrs: slices.Clone(pg.Addrs)}
	}
	return out
}

// Listen binds every portal. On error nothing stays bound.
func (s *Server) Listen() error {
	s.mu.Lock()
	groups := cloneGroups(s.groups)
	s.mu.Unlock()
	var lns []*portal
	for _, pg := range groups {
		for _, a := range pg.Addrs {
			p, err := listen(a, pg.Tag)
			if err != nil {
				closePortals(lns)
				return err
			}
			lns = append(lns, p)
		}
	}
	s.mu.Lock()
	s.listeners = lns
	s.mu.Unlock()
	return nil
}

func listen(addr string, tag uint16) (*portal, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iscsi: listen on portal %s (group %d): %w", addr, tag, err)
	}
	return &portal{addr: addr, tag: tag, ln: ln}, nil
}

func closePortals(ps []*portal) {
	for _, p := range ps {
		p.ln.Close()
	}
}

// Addrs returns the bound portal addresses with their group tags.
func (s *Server) Addrs() []PortalAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PortalAddr, 0, len(s.listeners))
	for _, p := range s.listeners {
		out = append(out, PortalAddr{Tag: p.tag, Addr: p.ln.Addr().String(), Configured: p.addr})
	}
	return out
}

// PortalAddr is one bound portal: its group, the address it is bound to
// and the address as configured (which may name port 0 or a host name).
type PortalAddr struct {
	Tag        uint16
	Addr       string
	Configured string
}

// PortalGroups returns the portal groups now served.
func (s *Server) PortalGroups() []PortalGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneGroups(s.groups)
}

// PortalChange is a prepared change of the portal groups: its new
// listeners are bound but accept nothing until Commit.
type PortalChange struct {
	s      *Server
	groups []PortalGroup
	// bound are the new listeners; retag the kept ones whose group
	// changes, by configured address.
	bound []*portal
	retag map[string]uint16
	// Added, Removed and Moved describe the change for the operator:
	// "addr (group N)" per portal.
	Added, Removed, Moved []string
}

// PreparePortals binds the addresses groups has and the server does not.
// An address that stays but changes group keeps its listener. On error
// nothing is bound and nothing has changed.
func (s *Server) PreparePortals(groups []PortalGroup) (*PortalChange, error) {
	if err := checkGroups(groups); err != nil {
		return nil, err
	}
	s.mu.Lock()
	cur := map[string]uint16{}
	for _, pg := range s.groups {
		for _, a := range pg.Addrs {
			cur[a] = pg.Tag
		}
	}
	bound := s.listeners != nil
	s.mu.Unlock()
	ch := &PortalChange{s: s, groups: cloneGroups(groups), retag: map[string]uint16{}}
	want := map[string]bool{}
	for _, pg := range groups {
		for _, a := range pg.Addrs {
			if want[a] {
				closePortals(ch.bound)
				return nil, fmt.Errorf("iscsi: portal %s is in more than one portal group", a)
			}
			want[a] = true
			tag, ok := cur[a]
			switch {
			case ok && tag != pg.Tag:
				ch.retag[a] = pg.Tag
				ch.Moved = append(ch.Moved, fmt.Sprintf("%s (group %d, was %d)", a, pg.Tag, tag))
			case ok:
			default:
				ch.Added = append(ch.Added, fmt.Sprintf("%s (group %d)", a, pg.Tag))
				if !bound {
					continue // not listening yet: Listen binds it
				}
				p, err := listen(a, pg.Tag)
				if err != nil {
					closePortals(ch.bound)
					return nil, err
				}
				ch.bound = append(ch.bound, p)
			}
		}
	}
	for a, tag := range cur {
		if !want[a] {
			ch.Removed = append(ch.Removed, fmt.Sprintf("%s (group %d)", a, tag))
		}
	}
	slices.Sort(ch.Removed)
	return ch, nil
}

// Empty reports whether the change changes nothing.
func (ch *PortalChange) Empty() bool {
	return len(ch.Added) == 0 && len(ch.Removed) == 0 && len(ch.Moved) == 0 &&
		slices.EqualFunc(ch.groups, ch.s.PortalGroups(), func(a, b PortalGroup) bool {
			return a.Tag == b.Tag && slices.Equal(a.Addrs, b.Addrs)
		})
}

// Abort closes the listeners PreparePortals bound.
func (ch *PortalChange) Abort() {
	closePortals(ch.bound)
	ch.bound = nil
}

// errPortalRemoved ends connections through a portal that went away or
// moved to another portal group.
var errPortalRemoved = errors.New("portal removed or moved to another portal group")

// Commit applies the change: new groups for logins and discovery, new
// listeners accepting, removed ones closed together with the connections
// they accepted, and the connections of a moved portal closed (they
// belong to the old group). It returns how many connections it closed.
func (ch *PortalChange) Commit() int {
	s := ch.s
	s.mu.Lock()
	s.groups = ch.groups
	want := map[string]bool{}
	for _, pg := range ch.groups {
		for _, a := range pg.Addrs {
			want[a] = true
		}
	}
	var keep, gone []*portal
	for _, p := range s.listeners {
		switch tag, moved := ch.retag[p.addr]; {
		case !want[p.addr]:
			gone = append(gone, p)
		case moved:
			// A new portal value, so connections of the old one are told
			// apart below; the listener and its accept loop carry over
			// (the loop looks its portal up by listener).
			gone = append(gone, p)
			keep = append(keep, &portal{addr: p.addr, tag: tag, ln: p.ln})
		default:
			keep = append(keep, p)
		}
	}
	for _, p := range ch.bound {
		if s.closing {
			// Shut down meanwhile: nothing may listen any more.
			p.ln.Close()
			continue
		}
		keep = append(keep, p)
		if s.serving {
			s.startAccept(p)
		}
	}
	s.listeners = keep
	var victims []*conn
	for c := range s.conns {
		if slices.Contains(gone, c.portal) {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		if !slices.ContainsFunc(keep, func(k *portal) bool { return k.ln == p.ln }) {
			p.ln.Close()
		}
	}
	for _, c := range victims {
		s.log.Info("closing connection", "remote", c.nc.RemoteAddr().String(), "portal", c.portal.addr,
			"reason", errPortalRemoved.Error())
		c.close(errPortalRemoved)
	}
	return len(victims)
}
