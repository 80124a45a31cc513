package iscsi

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/halun/halun/internal/iscsi/login"
)

// This file is the management side of the server: listing sessions with
// their counters, and changing the served targets while sessions run. The
// target table is guarded by Server.tmu; a session keeps the *Target it
// logged in to, so a replaced definition (alias, portal groups, operational
// keys) applies to new logins only, while the LUNs object a replacement
// shares with its predecessor keeps serving the running sessions.

// SessionInfo describes one session for management (iscsiadm -m session
// -P 3).
type SessionInfo struct {
	Initiator  string
	ISID       [6]byte
	TSIH       uint16
	Target     string // empty for discovery sessions
	TPGT       uint16
	Discovery  bool
	Params     login.Negotiated
	Commands   uint64 // SCSI commands completed
	ReadBytes  uint64 // data-in bytes sent
	WriteBytes uint64 // data-out bytes received
	Conns      []ConnInfo
}

// ConnInfo describes one connection of a session.
type ConnInfo struct {
	CID    uint16
	Local  string // the portal address the initiator reached
	Remote string // the initiator's address
}

// ISIDString is the ISID as iscsiadm prints it: 12 hex digits.
func (si SessionInfo) ISIDString() string { return fmt.Sprintf("%x", si.ISID[:]) }

// Sessions returns every registered session (normal and discovery),
// ordered by target, initiator and TSIH.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	out := make([]SessionInfo, 0, len(list))
	for _, ss := range list {
		out = append(out, ss.info())
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Initiator != b.Initiator {
			return a.Initiator < b.Initiator
		}
		return a.TSIH < b.TSIH
	})
	return out
}

func (ss *session) info() SessionInfo {
	si := SessionInfo{Initiator: ss.key.initiator, ISID: ss.key.isid, TSIH: ss.tsih,
		Target: ss.targetName, TPGT: ss.key.tpgt, Discovery: ss.discovery, Params: ss.params}
	ss.mu.Lock()
	si.Commands, si.ReadBytes, si.WriteBytes = ss.cmds, ss.readBytes, ss.writeBytes
	c := ss.conn
	ss.mu.Unlock()
	if c != nil {
		si.Conns = append(si.Conns, ConnInfo{CID: c.cid, Local: c.nc.LocalAddr().String(), Remote: c.nc.RemoteAddr().String()})
	}
	return si
}

// EndSessions ends every session for which match is true, as if its
// connection had dropped: its tasks are aborted and the initiator must log
// in again. It returns how many sessions it ended.
func (s *Server) EndSessions(match func(SessionInfo) bool, reason string) int {
	s.mu.Lock()
	var victims []*session
	for _, ss := range s.sessions {
		victims = append(victims, ss)
	}
	s.mu.Unlock()
	n := 0
	err := errors.New(reason)
	for _, ss := range victims {
		if !match(ss.info()) {
			continue
		}
		ss.log.Info("ending session", "reason", reason)
		ss.end(err)
		n++
	}
	return n
}

// Target returns the current definition of the named target.
func (s *Server) Target(name string) (Target, bool) {
	t := s.targetByName(name)
	if t == nil {
		return Target{}, false
	}
	return *t, true
}

// TargetNames returns the served targets' names, sorted.
func (s *Server) TargetNames() []string {
	s.tmu.RLock()
	defer s.tmu.RUnlock()
	names := make([]string, 0, len(s.targets))
	for n := range s.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// targetByName returns the named target or nil.
func (s *Server) targetByName(name string) *Target {
	s.tmu.RLock()
	defer s.tmu.RUnlock()
	return s.targets[name]
}

// checkTarget validates a target definition against the portal groups.
func (s *Server) checkTarget(t *Target) error {
	if t.Name == "" {
		return errors.New("iscsi: target without a name")
	}
	if t.LUNs == nil {
		return fmt.Errorf("iscsi: target %s has no logical units", t.Name)
	}
	groups := s.PortalGroups()
	for _, g := range t.PortalGroups {
		if !slices.ContainsFunc(groups, func(pg PortalGroup) bool { return pg.Tag == g }) {
			return fmt.Errorf("iscsi: target %s uses undefined portal group %d", t.Name, g)
		}
	}
	if err := t.Settings.Validate(); err != nil {
		return fmt.Errorf("iscsi: target %s: %w", t.Name, err)
	}
	return nil
}

// AddTarget starts serving t: new logins and discovery see it at once.
func (s *Server) AddTarget(t Target) error {
	if err := s.checkTarget(&t); err != nil {
		return err
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if _, dup := s.targets[t.Name]; dup {
		return fmt.Errorf("iscsi: target %s already exists", t.Name)
	}
	s.targets[t.Name] = &t
	return nil
}

// UpdateTarget replaces the definition of an existing target. New logins
// get the new alias, portal groups and operational keys; running sessions
// keep what they negotiated and the LUNs object they logged in to, except
// that sessions through a portal group the target no longer has are ended.
// It returns how many sessions it ended.
func (s *Server) UpdateTarget(t Target) (int, error) {
	if err := s.checkTarget(&t); err != nil {
		return 0, err
	}
	s.tmu.Lock()
	if _, ok := s.targets[t.Name]; !ok {
		s.tmu.Unlock()
		return 0, fmt.Errorf("iscsi: no target %s", t.Name)
	}
	s.targets[t.Name] = &t
	s.tmu.Unlock()
	groups := slices.Clone(t.PortalGroups)
	return s.EndSessions(func(si SessionInfo) bool {
		return !si.Discovery && si.Target == t.Name && !slices.Contains(groups, si.TPGT)
	}, "target no longer served on this portal group"), nil
}

// RemoveTarget stops serving the named target and ends its sessions. It
// returns how many sessions it ended.
func (s *Server) RemoveTarget(name string) (int, error) {
	s.tmu.Lock()
	if _, ok := s.targets[name]; !ok {
		s.tmu.Unlock()
		return 0, fmt.Errorf("iscsi: no target %s", name)
	}
	delete(s.targets, name)
	s.tmu.Unlock()
	return s.EndSessions(func(si SessionInfo) bool {
		return !si.Discovery && si.Target == name
	}, "target removed"), nil
}

// EndInitiatorSessions ends the sessions initiator has with target (every
// target if target is empty); initiator names compare case-insensitively
// as iSCSI names do. It returns how many sessions it ended.
func (s *Server) EndInitiatorSessions(target, initiator, reason string) int {
	return s.EndSessions(func(si SessionInfo) bool {
		return !si.Discovery && (target == "" || si.Target == target) && strings.EqualFold(si.Initiator, initiator)
	}, reason)
}
