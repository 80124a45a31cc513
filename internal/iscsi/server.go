package iscsi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/workers"
)

// PortalGroup is a target portal group: a tag and the addresses it listens on.
type PortalGroup struct {
	Tag   uint16
	Addrs []string
}

// Target is one iSCSI target node served by the server.
type Target struct {
	Name         string
	Alias        string
	PortalGroups []uint16
	// Settings are the target's values for the operational keys.
	Settings login.Settings
	// LUNs executes the SCSI commands of the target's sessions.
	LUNs scsi.Target
	// Access decides who may log in and how they authenticate (access.go);
	// nil admits every initiator without authentication.
	Access *Access
}

// Config configures a Server.
type Config struct {
	PortalGroups []PortalGroup
	Targets      []Target
	// DiscoveryCHAP, if set, is required of discovery sessions.
	DiscoveryCHAP *login.CHAPCredentials
	Logger        *slog.Logger
	// QueueDepth bounds the commands of one session in flight (the CmdSN
	// window); 0 means 128.
	QueueDepth int
	// NopInterval is the idle time after which the target pings the
	// initiator with a NOP-In; NopTimeout is how long it then waits for any
	// PDU before dropping the connection. 0 means 10 s and 30 s.
	NopInterval, NopTimeout time.Duration
	// LoginTimeout bounds the login phase; 0 means 15 s.
	LoginTimeout time.Duration
	// NoInline makes every command run on its own goroutine, even when it
	// is the connection's only one (which otherwise runs on the reader).
	NoInline bool
	// MaxTransferLength bounds a command's expected data transfer length
	// in bytes; 0 means 64 MiB.
	MaxTransferLength uint32
	// LogoutWait is how long a graceful shutdown (Serve's, when its
	// context ends) gives initiators to log out after asking them to;
	// sessions still there are then closed (shutdown.go). 0 means
	// DefaultLogoutWait.
	LogoutWait time.Duration
	// MaxConnections bounds the server's connections, logins in progress
	// included, and MaxConnectionsPerAddress those from one IP address;
	// extras are closed as they are accepted (limits.go). 0 means 4096
	// and 256.
	MaxConnections, MaxConnectionsPerAddress int
	// MaxBufferedData bounds the bytes of command data buffers held at
	// once over all sessions, MaxSessionBufferedData one session's
	// (budget.go); each is raised to MaxTransferLength if below it. 0
	// means 1 GiB and 128 MiB.
	MaxBufferedData, MaxSessionBufferedData int64
	// WriteTimeout bounds how long a write to a connection's socket may
	// block (an initiator that stops reading its Data-In) before the
	// connection is dropped; 0 means NopTimeout.
	WriteTimeout time.Duration
}

// Server is a running set of portals and the sessions on them.
type Server struct {
	cfg Config
	log *slog.Logger
	// tmu guards targets, which management changes live (admin.go).
	tmu     sync.RWMutex
	targets map[string]*Target
	// authFail paces repeated authentication failures (access.go).
	authFail authFailures
	// budget bounds the bytes of data buffers held by all connections
	// (budget.go).
	budget *budget
	// taskSetFull counts writes refused for lack of buffer room.
	taskSetFull atomic.Uint64
	// events count logins, refusals and task management (events.go).
	events events
	// workers run the tasks that leave their reader goroutine.
	workers *workers.Pool

	mu sync.Mutex
	// groups are the portal groups now served and listeners their bound
	// addresses; both change live (portals.go).
	groups    []PortalGroup
	listeners []*portal
	// serving is set once Serve runs: listeners added later get their
	// accept loop at once; acceptWG counts the loops.
	serving  bool
	acceptWG sync.WaitGroup
	sessions map[sessionKey]*session
	byTSIH   map[uint16]*session
	conns    map[*conn]struct{}
	// perAddr counts connections by remote IP address (limits.go);
	// refused paces the log line about refused connections.
	perAddr  map[netip.Addr]int
	refused  refusals
	nextTSIH uint16
	closing  bool
	wg       sync.WaitGroup
}

// portal is one bound listener: the configured address (as written, for
// comparing configs) and its portal group tag. A reconfiguration that moves
// the address to another group replaces the portal (same listener, new
// tag), so connections remember the portal they came through.
type portal struct {
	addr string
	tag  uint16
	ln   net.Listener
}

// NewServer checks cfg and returns a server that has not bound anything yet.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 128
	}
	if cfg.NopInterval <= 0 {
		cfg.NopInterval = 10 * time.Second
	}
	if cfg.NopTimeout <= 0 {
		cfg.NopTimeout = 30 * time.Second
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 15 * time.Second
	}
	if cfg.LogoutWait <= 0 {
		cfg.LogoutWait = DefaultLogoutWait
	}
	if cfg.MaxTransferLength == 0 {
		cfg.MaxTransferLength = 64 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = cfg.NopTimeout
	}
	cfg.setLimitDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, targets: map[string]*Target{},
		sessions: map[sessionKey]*session{}, byTSIH: map[uint16]*session{},
		conns: map[*conn]struct{}{}, perAddr: map[netip.Addr]int{},
		budget: newBudget(cfg.MaxBufferedData), workers: workers.New()}
	if err := checkGroups(cfg.PortalGroups); err != nil {
		return nil, err
	}
	s.groups = cloneGroups(cfg.PortalGroups)
	groups := map[uint16]bool{}
	for _, pg := range cfg.PortalGroups {
		groups[pg.Tag] = true
	}
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		if _, dup := s.targets[t.Name]; dup {
			return nil, fmt.Errorf("iscsi: target %s defined twice", t.Name)
		}
		for _, g := range t.PortalGroups {
			if !groups[g] {
				return nil, fmt.Errorf("iscsi: target %s uses undefined portal group %d", t.Name, g)
			}
		}
		if t.LUNs == nil {
			return nil, fmt.Errorf("iscsi: target %s has no logical units", t.Name)
		}
		s.targets[t.Name] = t
	}
	return s, nil
}

// Serve accepts connections on every bound portal until ctx ends, then shuts
// down gracefully with Shutdown(Config.LogoutWait): initiators are asked to
// log out, and the sessions left after that wait are closed. Listen must
// have been called.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if len(s.listeners) == 0 {
		s.mu.Unlock()
		return errors.New("iscsi: Serve without bound portals")
	}
	s.serving = true
	for _, p := range s.listeners {
		s.startAccept(p)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.Shutdown(s.cfg.LogoutWait)
	s.acceptWG.Wait()
	return nil
}

// startAccept runs p's accept loop; s.mu must be held.
func (s *Server) startAccept(p *portal) {
	s.acceptWG.Add(1)
	go func() {
		defer s.acceptWG.Done()
		s.acceptLoop(p)
	}()
}

func (s *Server) acceptLoop(p *portal) {
	ln := p.ln
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "portal", ln.Addr().String(), "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetKeepAlive(true)
		}
		s.mu.Lock()
		// The listener's portal now: a reconfiguration may have moved it
		// to another group or removed it since the loop started.
		p = s.portalOf(ln)
		if s.closing || p == nil {
			s.mu.Unlock()
			nc.Close()
			return
		}
		addr := remoteIP(nc)
		if why := s.admit(addr); why != "" {
			s.mu.Unlock()
			nc.Close()
			s.refused.note(s.log, addr, why)
			continue
		}
		c := newConn(s, nc, p.tag)
		c.portal = p
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.leave(addr)
			s.mu.Unlock()
		}()
	}
}

// portalOf returns the portal listening on ln, or nil; s.mu must be held.
func (s *Server) portalOf(ln net.Listener) *portal {
	for _, p := range s.listeners {
		if p.ln == ln {
			return p
		}
	}
	return nil
}

// lookupTarget implements the login environment's target lookup.
func (s *Server) lookupTarget(name string, tpgt uint16) (*Target, bool) {
	t := s.targetByName(name)
	if t == nil {
		return nil, false
	}
	for _, g := range t.PortalGroups {
		if g == tpgt {
			return t, true
		}
	}
	return nil, false
}

// allocTSIH returns an unused non-zero TSIH; s.mu must be held.
func (s *Server) allocTSIH() uint16 {
	for {
		s.nextTSIH++
		if s.nextTSIH == 0 {
			continue
		}
		if _, used := s.byTSIH[s.nextTSIH]; !used {
			return s.nextTSIH
		}
	}
}

// sessionsOf returns the live sessions of a target.
func (s *Server) sessionsOf(target string) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for _, ss := range s.sessions {
		if ss.targetName == target {
			out = append(out, ss)
		}
	}
	return out
}

// removeSession drops ss from the tables if it is still registered.
func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	if cur, ok := s.sessions[ss.key]; ok && cur == ss {
		delete(s.sessions, ss.key)
	}
	if cur, ok := s.byTSIH[ss.tsih]; ok && cur == ss {
		delete(s.byTSIH, ss.tsih)
	}
	s.mu.Unlock()
}
