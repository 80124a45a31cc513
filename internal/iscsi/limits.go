package iscsi

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Connection limits. A connection beyond MaxConnections, or beyond
// MaxConnectionsPerAddress from one IP address, is closed as it is
// accepted, before anything is read from it: no goroutine, buffer or login
// state is spent on it. Refusing at accept rather than in the login (where
// RFC 7143 §11.13.5 has status 0601h, "out of resources") is possible
// because both limits are known from the TCP connection alone, and it also
// covers connections that never send a Login Request. Connections count
// from accept until their goroutine ends, logins in progress included.

// Defaults of the connection limits.
const (
	defaultMaxConnections           = 4096
	defaultMaxConnectionsPerAddress = 256
)

// setLimitDefaults fills the connection and buffer limits left zero.
func (cfg *Config) setLimitDefaults() {
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = defaultMaxConnections
	}
	if cfg.MaxConnectionsPerAddress <= 0 {
		cfg.MaxConnectionsPerAddress = defaultMaxConnectionsPerAddress
	}
	if cfg.MaxSessionBufferedData <= 0 {
		cfg.MaxSessionBufferedData = defaultMaxSessionBufferedData
	}
	if cfg.MaxBufferedData <= 0 {
		cfg.MaxBufferedData = defaultMaxBufferedData
	}
	// One command of the largest size must fit either limit.
	cfg.MaxSessionBufferedData = max(cfg.MaxSessionBufferedData, int64(cfg.MaxTransferLength))
	cfg.MaxBufferedData = max(cfg.MaxBufferedData, cfg.MaxSessionBufferedData)
}

// remoteIP is the IP address a connection comes from, without a zone or
// an IPv4-in-IPv6 prefix, so each host counts once.
func remoteIP(nc net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return netip.Addr{}
}

// admit counts a new connection from addr, or returns why it is refused;
// s.mu must be held.
func (s *Server) admit(addr netip.Addr) string {
	switch {
	case len(s.conns) >= s.cfg.MaxConnections:
		return "connection limit reached"
	case s.perAddr[addr] >= s.cfg.MaxConnectionsPerAddress:
		return "connection limit per address reached"
	}
	s.perAddr[addr]++
	return ""
}

// leave uncounts a connection from addr that has ended; s.mu must be held.
func (s *Server) leave(addr netip.Addr) {
	if s.perAddr[addr] <= 1 {
		delete(s.perAddr, addr)
		return
	}
	s.perAddr[addr]--
}

// refusalLogInterval is the least time between two log lines about
// refused connections: a flood of connections cannot flood the log.
const refusalLogInterval = 10 * time.Second

// refusals paces the log line about refused connections: the first refusal
// is logged at once, later ones at most once per refusalLogInterval with
// the number refused meanwhile.
type refusals struct {
	mu     sync.Mutex
	last   time.Time
	missed int
}

func (r *refusals) note(log *slog.Logger, addr netip.Addr, why string) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < refusalLogInterval {
		r.missed++
		r.mu.Unlock()
		return
	}
	missed := r.missed
	r.last, r.missed = now, 0
	r.mu.Unlock()
	log.Warn("refusing connection", "remote", addr.String(), "reason", why, "refused_since_last_report", missed)
}

// Limits are the connection and buffered-data limits of Config, which a
// running server changes with SetLimits; zero fields take the defaults.
type Limits struct {
	MaxConnections, MaxConnectionsPerAddress int
	MaxBufferedData, MaxSessionBufferedData  int64
}

// SetLimits changes the limits live. Connections beyond lowered connection
// limits stay; new ones are refused until the counts fall below. The
// buffered-data limits apply to every session at once: charges above a
// lowered limit stay until given back, and new ones wait meanwhile.
func (s *Server) SetLimits(l Limits) {
	cfg := Config{MaxConnections: l.MaxConnections, MaxConnectionsPerAddress: l.MaxConnectionsPerAddress,
		MaxBufferedData: l.MaxBufferedData, MaxSessionBufferedData: l.MaxSessionBufferedData,
		MaxTransferLength: s.cfg.MaxTransferLength}
	cfg.setLimitDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.MaxConnections, s.cfg.MaxConnectionsPerAddress = cfg.MaxConnections, cfg.MaxConnectionsPerAddress
	s.cfg.MaxBufferedData, s.cfg.MaxSessionBufferedData = cfg.MaxBufferedData, cfg.MaxSessionBufferedData
	for c := range s.conns {
		c.acct.mu.Lock()
		c.acct.limit = cfg.MaxSessionBufferedData
		c.acct.mu.Unlock()
	}
	s.budget.setLimit(cfg.MaxBufferedData)
}

// Limits returns the limits in force.
func (s *Server) Limits() Limits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Limits{MaxConnections: s.cfg.MaxConnections, MaxConnectionsPerAddress: s.cfg.MaxConnectionsPerAddress,
		MaxBufferedData: s.cfg.MaxBufferedData, MaxSessionBufferedData: s.cfg.MaxSessionBufferedData}
}
