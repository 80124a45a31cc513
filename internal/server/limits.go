package server

import (
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi"
)

// limitsOf are the connection and buffered-data limits a config sets.
func limitsOf(cfg *config.Config) iscsi.Limits {
	nd := cfg.Node
	return iscsi.Limits{MaxConnections: nd.MaxConnections, MaxConnectionsPerAddress: nd.MaxConnectionsPerAddress,
		MaxBufferedData: nd.MaxBufferedData, MaxSessionBufferedData: nd.MaxSessionBufferedData}
}

// prepareLimits notes the limits cfg changes against the running config;
// commit applies them live (iscsi.Server.SetLimits).
func (p *plan) prepareLimits(old *config.Config) {
	was, now := limitsOf(old), limitsOf(p.cfg)
	if was == now {
		return
	}
	count := func(field string, a, b int) {
		if a != b {
			p.note("node.%s changed from %d to %d", field, a, b)
		}
	}
	size := func(field string, a, b int64) {
		if a != b {
			p.note("node.%s changed from %s to %s", field, config.FormatSize(a), config.FormatSize(b))
		}
	}
	count("max_connections", was.MaxConnections, now.MaxConnections)
	count("max_connections_per_address", was.MaxConnectionsPerAddress, now.MaxConnectionsPerAddress)
	size("max_buffered_data", was.MaxBufferedData, now.MaxBufferedData)
	size("max_session_buffered_data", was.MaxSessionBufferedData, now.MaxSessionBufferedData)
	p.limits = &now
}
