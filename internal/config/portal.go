package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePortal parses a listening address host:port: an IPv4 address, an
// IPv6 address in brackets ("[::1]:3260", zones allowed), a host name, or
// an empty host for every address (":3260"). The port is required.
func ParsePortal(s string) (Portal, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err)
		}
		return Portal{}, fmt.Errorf("%q is not host:port (IPv6 in brackets, e.g. [::1]:3260): %v", s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return Portal{}, fmt.Errorf("%q: port %q is not 1..65535", s, port)
	}
	if host != "" {
		if a, err := netip.ParseAddr(host); err == nil {
			if a.Is4() && strings.HasPrefix(s, "[") {
				return Portal{}, fmt.Errorf("%q: IPv4 address in brackets", s)
			}
			if a.Is6() && !strings.HasPrefix(s, "[") {
				return Portal{}, fmt.Errorf("%q: IPv6 address needs brackets, e.g. [::1]:3260", s)
			}
			host = a.String() // canonical form, so duplicates are found
		} else if strings.HasPrefix(s, "[") || !isHostName(host) {
			return Portal{}, fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
		} else {
			host = strings.ToLower(host)
		}
	}
	return Portal{Host: host, Port: uint16(p)}, nil
}

// isHostName checks RFC 1123 host name syntax.
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	if isDigits(labels[len(labels)-1]) {
		return false // a mistyped IPv4 address, not a name
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func joinHostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
