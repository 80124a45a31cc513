package config

import (
	"strings"
	"testing"
)

func TestParsePortal(t *testing.T) {
	tests := []struct {
		in   string
		want Portal
		str  string
		err  string
	}{
		{"127.0.0.1:3260", Portal{"127.0.0.1", 3260}, "127.0.0.1:3260", ""},
		{"[::1]:3260", Portal{"::1", 3260}, "[::1]:3260", ""},
		{"[2001:DB8:0::1]:860", Portal{"2001:db8::1", 860}, "[2001:db8::1]:860", ""},
		{"[fe80::1%eth0]:3260", Portal{"fe80::1%eth0", 3260}, "[fe80::1%eth0]:3260", ""},
		{":3260", Portal{"", 3260}, ":3260", ""},
		{"0.0.0.0:3260", Portal{"0.0.0.0", 3260}, "0.0.0.0:3260", ""},
		{"san1.example.com:3260", Portal{"san1.example.com", 3260}, "san1.example.com:3260", ""},
		{"LocalHost:65535", Portal{"localhost", 65535}, "localhost:65535", ""},
		{"127.0.0.1", Portal{}, "", "missing port"},
		{"::1:3260", Portal{}, "", "too many colons"},
		{"::1", Portal{}, "", "too many colons"},
		{"[::1]", Portal{}, "", "missing port"},
		{"[127.0.0.1]:3260", Portal{}, "", "IPv4 address in brackets"},
		{"[san1]:3260", Portal{}, "", "neither an IP address nor a host name"},
		{"127.0.0.1:0", Portal{}, "", "not 1..65535"},
		{"127.0.0.1:65536", Portal{}, "", "not 1..65535"},
		{"127.0.0.1:iscsi", Portal{}, "", "not 1..65535"},
		{"127.0.0.1:-1", Portal{}, "", "not 1..65535"},
		{"1.2.3:3260", Portal{}, "", "neither"},
		{"-bad-.example:3260", Portal{}, "", "neither"},
		{"under_score:3260", Portal{}, "", "neither"},
	}
	for _, tt := range tests {
		got, err := ParsePortal(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePortal(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParsePortal(%q) = %+v (%s), %v; want %+v (%s)", tt.in, got, got, err, tt.want, tt.str)
		}
	}
}
