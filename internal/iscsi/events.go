package iscsi

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// events counts what happens to sessions, for the metrics endpoint:
// logins by target, refused logins by reason, task management requests
// by function. Labels are bounded: a target is counted only once it
// logged in (so an initiator cannot grow the map with names it makes
// up), reasons and functions are fixed sets.
type events struct {
	mu       sync.Mutex
	logins   map[LoginKey]uint64
	failures map[string]uint64
	tmf      [16]atomic.Uint64
}

// LoginKey labels successful logins.
type LoginKey struct {
	Target string // empty for discovery sessions
	Type   string // "normal" or "discovery"
}

// Login failure reasons, from the Login Response status (RFC 7143
// §11.13.5).
const (
	FailAuthentication = "authentication"  // 0201
	FailAuthorization  = "authorization"   // 0202
	FailNoSuchTarget   = "no_such_target"  // 0203, 0204
	FailInitiatorError = "initiator_error" // any other 02xx
	FailTargetError    = "target_error"    // 03xx
	FailOther          = "other"
)

func failReason(class, detail uint8) string {
	switch {
	case class == 2 && detail == 1:
		return FailAuthentication
	case class == 2 && detail == 2:
		return FailAuthorization
	case class == 2 && (detail == 3 || detail == 4):
		return FailNoSuchTarget
	case class == 2:
		return FailInitiatorError
	case class == 3:
		return FailTargetError
	}
	return FailOther
}

func (e *events) login(target string, discovery bool) {
	k := LoginKey{Target: target, Type: sessionTypeName(discovery)}
	if discovery {
		k.Target = ""
	}
	e.mu.Lock()
	if e.logins == nil {
		e.logins = map[LoginKey]uint64{}
	}
	e.logins[k]++
	e.mu.Unlock()
}

func (e *events) loginFailed(class, detail uint8) {
	r := failReason(class, detail)
	e.mu.Lock()
	if e.failures == nil {
		e.failures = map[string]uint64{}
	}
	e.failures[r]++
	e.mu.Unlock()
}

func (e *events) taskManagement(function uint8) { e.tmf[function&0x0f].Add(1) }

// TMFNames names the task management functions as the metrics label
// them.
var TMFNames = map[uint8]string{
	pdu.TMFAbortTask: "abort_task", pdu.TMFAbortTaskSet: "abort_task_set", pdu.TMFClearACA: "clear_aca",
	pdu.TMFClearTaskSet: "clear_task_set", pdu.TMFLogicalUnitReset: "logical_unit_reset",
	pdu.TMFTargetWarmReset: "target_warm_reset", pdu.TMFTargetColdReset: "target_cold_reset",
	pdu.TMFTaskReassign: "task_reassign",
}

// EventCounts are the session event counters since the server started.
type EventCounts struct {
	Logins map[LoginKey]uint64
	// LoginFailures are refused logins by reason (Fail*).
	LoginFailures map[string]uint64
	// TaskManagement counts requests by function code (see TMFNames).
	TaskManagement map[uint8]uint64
}

// Events returns the session event counters.
func (s *Server) Events() EventCounts {
	e := &s.events
	e.mu.Lock()
	out := EventCounts{Logins: maps.Clone(e.logins), LoginFailures: maps.Clone(e.failures), TaskManagement: map[uint8]uint64{}}
	e.mu.Unlock()
	for f := range TMFNames {
		out.TaskManagement[f] = e.tmf[f].Load()
	}
	return out
}

// PortalConns counts the open connections by the portal address they
// reached, and the write commands waiting for data-out (R2T backlog).
func (s *Server) PortalConns() (conns map[string]int, waitingForData int64) {
	conns = map[string]int{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		conns[c.nc.LocalAddr().String()]++
		waitingForData += int64(c.gathering.Load())
	}
	return conns, waitingForData
}
