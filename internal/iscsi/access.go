package iscsi

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// Access says who may log in to a target and how they authenticate. Every
// decision is keyed by the initiator's name (lower case, as the login
// reports it), never by a connection, ISID or session handle.
type Access struct {
	// All lets every initiator log in. Otherwise only those in Initiators
	// may, and others are refused with 0202 (authorization failure) and do
	// not see the target in SendTargets.
	All bool
	// CHAP, if set, is required of every initiator without its own.
	CHAP *login.CHAPCredentials
	// Initiators maps lower-case initiator names to their entries.
	Initiators map[string]InitiatorAccess
}

// InitiatorAccess is one initiator's entry in a target's Access.
type InitiatorAccess struct {
	// CHAP, if set, replaces the target's CHAP for this initiator.
	CHAP *login.CHAPCredentials
}

// policy decides a login of initiator (lower case). A nil Access admits
// every initiator without authentication.
func (a *Access) policy(initiator string) login.AuthPolicy {
	if a == nil {
		return login.AuthPolicy{Allowed: true}
	}
	if e, ok := a.Initiators[initiator]; ok {
		if e.CHAP != nil {
			return login.AuthPolicy{Allowed: true, CHAP: e.CHAP}
		}
		return login.AuthPolicy{Allowed: true, CHAP: a.CHAP}
	}
	if a.All {
		return login.AuthPolicy{Allowed: true, CHAP: a.CHAP}
	}
	return login.AuthPolicy{}
}

// Allows reports whether initiator may log in to the target.
func (a *Access) Allows(initiator string) bool {
	return a.policy(strings.ToLower(initiator)).Allowed
}

// Authentication failures from one initiator name are answered ever more
// slowly: the n-th consecutive failure waits authDelayBase·2^(n-1), at most
// authDelayMax. A success, or authFailMemory without failures, forgets them.
const (
	authDelayBase  = 250 * time.Millisecond
	authDelayMax   = 4 * time.Second
	authFailMemory = 5 * time.Minute
	authFailTrack  = 4096 // initiator names remembered at most
)

// authFailures counts recent authentication failures per initiator name.
// The zero value is ready.
type authFailures struct {
	mu sync.Mutex
	m  map[string]*authFailure
}

type authFailure struct {
	n    int
	last time.Time
}

// fail records a failure of initiator and returns how long to wait before
// answering it, and how many failures in a row it has had.
func (f *authFailures) fail(initiator string, now time.Time) (time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*authFailure{}
	}
	e := f.m[initiator]
	if e == nil || now.Sub(e.last) > authFailMemory {
		if len(f.m) >= authFailTrack {
			for k, v := range f.m {
				if now.Sub(v.last) > authFailMemory {
					delete(f.m, k)
				}
			}
			if len(f.m) >= authFailTrack {
				// Many names failing at once: forget them all rather
				// than grow; each starts again at the base delay.
				clear(f.m)
			}
		}
		e = &authFailure{}
		f.m[initiator] = e
	}
	e.n++
	e.last = now
	d := authDelayBase << min(e.n-1, 8)
	return min(d, authDelayMax), e.n
}

func (f *authFailures) succeed(initiator string) {
	f.mu.Lock()
	delete(f.m, initiator)
	f.mu.Unlock()
}

// connAuth is the Authenticator of one connection: access and CHAP from the
// target's (or discovery's) configuration, failures logged with initiator
// and portal and slowed down per initiator name. The waiting happens here,
// in the transport; the login negotiator stays pure.
type connAuth struct {
	c    *conn
	chap login.CHAPAuthenticator
}

func (c *conn) authenticator() login.Authenticator {
	a := &connAuth{c: c}
	a.chap = login.CHAPAuthenticator{Policy: a.policy, Rand: rand.Reader}
	return a
}

func (a *connAuth) policy(r login.AuthRequest) login.AuthPolicy {
	srv := a.c.srv
	if r.SessionType == login.SessionDiscovery {
		return login.AuthPolicy{Allowed: true, CHAP: srv.cfg.DiscoveryCHAP}
	}
	t := srv.targetByName(r.TargetName)
	if t == nil {
		return login.AuthPolicy{}
	}
	return t.Access.policy(strings.ToLower(r.InitiatorName))
}

func (a *connAuth) Methods(r login.AuthRequest) []string {
	m := a.chap.Methods(r)
	if len(m) == 0 {
		a.c.log.Warn("login refused: initiator not authorized for target",
			"initiator", r.InitiatorName, "target", r.TargetName)
	}
	return m
}

func (a *connAuth) Begin(method string, r login.AuthRequest) (login.AuthExchange, error) {
	x, err := a.chap.Begin(method, r)
	if err != nil {
		return nil, err
	}
	return &connExchange{a: a, x: x, r: r}, nil
}

// connExchange wraps a CHAP exchange to log and pace its outcome.
type connExchange struct {
	a    *connAuth
	x    login.AuthExchange
	r    login.AuthRequest
	user string
}

func (e *connExchange) Step(keys []pdu.KV) login.AuthStep {
	for _, k := range keys {
		if k.Key == "CHAP_N" {
			e.user = k.Value
		}
	}
	st := e.x.Step(keys)
	c, srv := e.a.c, e.a.c.srv
	name := strings.ToLower(e.r.InitiatorName)
	switch {
	case st.Done:
		srv.authFail.succeed(name)
		c.log.Info("CHAP authentication succeeded", "initiator", e.r.InitiatorName, "target", e.r.TargetName, "user", e.user)
	case st.Status == login.StatusAuthenticationFailure:
		d, n := srv.authFail.fail(name, time.Now())
		// Never the secret or the response: only who failed where.
		c.log.Warn("CHAP authentication failed", "initiator", e.r.InitiatorName, "target", e.r.TargetName,
			"user", truncate(e.user, 64), "failures", n, "delay", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
		}
	case st.Status != login.StatusSuccess:
		c.log.Info("CHAP exchange refused", "initiator", e.r.InitiatorName, "target", e.r.TargetName, "status", st.Status)
	}
	return st
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
