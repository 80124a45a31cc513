package config

import (
	"strings"
	"testing"
)

// TestNodeLimits checks the connection and buffered-data limits: defaults,
// explicit values, ranges, and that a part never exceeds its whole, each
// error naming file, line and field.
func TestNodeLimits(t *testing.T) {
	base := "node:\n  data_dir: /tmp/x\nLIMITS\nportal_groups: [{tag: 1, portals: [\"127.0.0.1:3260\"]}]\n" +
		"volumes: [{name: v, backend: memory, size: 1MiB}]\n" +
		"targets: [{iqn: \"iqn.2026-11.io.halun:t\", luns: [{lun: 0, volume: v}], access: {all: true}}]\n"
	cases := []struct {
		name, limits string
		want         Node
		err          string
	}{
		{"defaults", "", Node{MaxConnections: 4096, MaxConnectionsPerAddress: 256, MaxBufferedData: 1 << 30,
			MaxSessionBufferedData: 128 << 20}, ""},
		{"explicit", "  max_connections: 100\n  max_connections_per_address: 100\n  max_buffered_data: 256MiB\n  max_session_buffered_data: 64MiB",
			Node{MaxConnections: 100, MaxConnectionsPerAddress: 100, MaxBufferedData: 256 << 20, MaxSessionBufferedData: 64 << 20}, ""},
		{"zero connections", "  max_connections: 0", Node{}, "h.yaml:3: node.max_connections: 0 is not in 1..1048576"},
		{"not a number", "  max_connections_per_address: many", Node{},
			"h.yaml:3: node.max_connections_per_address: \"many\" is not a decimal whole number"},
		{"per address above total", "  max_connections: 10\n  max_connections_per_address: 20", Node{},
			"h.yaml:4: node.max_connections_per_address: 20 is more than max_connections 10 (line 3)"},
		{"below one command", "  max_buffered_data: 1MiB", Node{},
			"h.yaml:3: node.max_buffered_data: 1MiB is not between 64MiB (the largest command) and 1TiB"},
		{"not a size", "  max_session_buffered_data: lots", Node{}, "h.yaml:3: node.max_session_buffered_data: "},
		{"session above total", "  max_buffered_data: 64MiB", Node{},
			"h.yaml: node.max_session_buffered_data: 128MiB is more than max_buffered_data 64MiB (line 3)"},
	}
	for _, c := range cases {
		cfg, err := Parse("h.yaml", []byte(strings.Replace(base, "LIMITS\n", c.limits+"\n", 1)))
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%s: error %v, want prefix %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := cfg.Node
		got := Node{MaxConnections: n.MaxConnections, MaxConnectionsPerAddress: n.MaxConnectionsPerAddress,
			MaxBufferedData: n.MaxBufferedData, MaxSessionBufferedData: n.MaxSessionBufferedData}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
