package iscsi

import (
	"errors"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// DefaultLogoutWait is Config.LogoutWait's default: long enough for an
// initiator to finish the commands it has in flight and log out, short
// enough that a restart is not held up by one that ignores the request.
const DefaultLogoutWait = 5 * time.Second

var errShutdown = errors.New("server shutting down")

// Shutdown ends the server in phases, each logged:
//
//  1. The portals stop accepting connections; logins not yet complete are
//     refused with 0301 (service unavailable).
//  2. Every session in full feature phase is sent an Async Message with
//     AsyncEvent 1, "target requests logout" (RFC 7143 §11.9.1), whose
//     Parameter3 asks the initiator to log out within wait (in whole
//     seconds, rounded up). Commands are still served meanwhile: the RFC
//     lets a target reject new ones with "waiting for logout", but an
//     initiator that sends one more command before its Logout would then
//     see an error where a completed command does no harm.
//  3. A session that logs out ends once its commands have finished (a
//     Logout is answered after them, logout.go). Shutdown waits until
//     every session has ended or wait has passed.
//  4. The connections left are closed. Their sessions end, which waits for
//     the commands executing in the SCSI layer (their responses are not
//     sent), so nothing touches a volume once Shutdown returns.
//
// A wait of 0 skips phases 2 and 3. Shutdown may be called more than once;
// later calls wait for the first to finish.
func (s *Server) Shutdown(wait time.Duration) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closing = true
	for _, p := range s.listeners {
		p.ln.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	s.log.Info("shutdown: portals closed", "sessions", len(sessions))

	if wait > 0 && len(sessions) > 0 {
		secs := logoutWaitSeconds(wait)
		asked := 0
		for _, ss := range sessions {
			if ss.requestLogout(secs) {
				asked++
			}
		}
		s.log.Info("shutdown: asked initiators to log out", "sessions", asked, "wait", wait)
		left := waitSessions(sessions, wait)
		if len(left) == 0 {
			s.log.Info("shutdown: every session logged out")
		} else {
			s.log.Warn("shutdown: closing sessions that did not log out", "sessions", len(left), "wait", wait)
			for _, ss := range left {
				ss.log.Info("shutdown: closing session")
			}
		}
	}

	start := time.Now()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(errShutdown)
	}
	s.wg.Wait()
	s.log.Info("shutdown: connections closed", "connections", len(conns), "took", time.Since(start).Round(time.Millisecond))
}

// logoutWaitSeconds is wait as Parameter3 of a logout request: whole
// seconds, rounded up, at least 1.
func logoutWaitSeconds(wait time.Duration) uint16 {
	secs := (wait + time.Second - 1) / time.Second
	return uint16(min(max(secs, 1), 0xffff))
}

// waitSessions waits up to d for sessions to end and returns those that
// have not.
func waitSessions(sessions []*session, d time.Duration) []*session {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for i, ss := range sessions {
		select {
		case <-ss.done:
		case <-timer.C:
			var left []*session
			for _, ss := range sessions[i:] {
				select {
				case <-ss.done:
				default:
					left = append(left, ss)
				}
			}
			return left
		}
	}
	return nil
}

// requestLogout sends the session's connection an Async Message asking the
// initiator to log out within secs seconds (RFC 7143 §11.9.1); false if the
// session has already ended. It never blocks: with the connection's queue
// full, the message is queued from another goroutine.
func (ss *session) requestLogout(secs uint16) bool {
	ss.mu.Lock()
	c, closed := ss.conn, ss.closed
	ss.mu.Unlock()
	if c == nil || closed {
		return false
	}
	m := pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest, Param3: secs}
	// An Async Message carries a StatSN and takes the next one (RFC 7143
	// §11.9, as Linux initiators expect).
	it := &outItem{fillSN: true, advance: true}
	m.Encode(&it.hdr)
	select {
	case c.out <- it:
	case <-c.done:
		return false
	default:
		go c.enqueue(it)
	}
	// ss.log, not c.log: c.log is the connection goroutine's until its
	// login completes.
	ss.log.Debug("shutdown: asked the initiator to log out", "within_seconds", secs)
	return true
}
