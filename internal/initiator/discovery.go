package initiator

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// DiscoveredTarget is one target of a SendTargets answer.
type DiscoveredTarget struct {
	Name    string
	Portals []Portal
}

// Portal is a target portal: host:port and portal group tag.
type Portal struct {
	Addr string
	TPGT uint16
}

// Discover opens a discovery session to addr, asks SendTargets=All and logs
// out.
func Discover(ctx context.Context, addr, initiatorName string) ([]DiscoveredTarget, error) {
	return SendTargets(ctx, addr, initiatorName, "All")
}

// SendTargets opens a discovery session to addr, sends SendTargets=value
// ("All", a target name, or "" for the session's own target) and logs out.
func SendTargets(ctx context.Context, addr, initiatorName, value string) ([]DiscoveredTarget, error) {
	return SendTargetsWith(ctx, addr, Options{InitiatorName: initiatorName}, value)
}

// SendTargetsWith is SendTargets with login options (discovery CHAP); the
// options' TargetName is ignored.
func SendTargetsWith(ctx context.Context, addr string, o Options, value string) ([]DiscoveredTarget, error) {
	o.TargetName = ""
	s, err := dial(ctx, addr, o, true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	kvs, err := s.Text(ctx, []pdu.KV{{Key: "SendTargets", Value: value}})
	if err != nil {
		return nil, fmt.Errorf("initiator: SendTargets: %w", err)
	}
	targets, err := ParseSendTargets(kvs)
	if err != nil {
		return nil, fmt.Errorf("initiator: SendTargets: %w", err)
	}
	if err := s.Logout(ctx); err != nil {
		return targets, err
	}
	return targets, nil
}

// ParseSendTargets decodes a SendTargets answer (RFC 7143 Appendix C):
// each TargetName starts a target, each TargetAddress=addr[,tpgt] after it
// adds a portal. Other keys (TargetAlias) are ignored.
func ParseSendTargets(kvs []pdu.KV) ([]DiscoveredTarget, error) {
	var out []DiscoveredTarget
	for _, kv := range kvs {
		switch kv.Key {
		case "TargetName":
			if kv.Value == "" {
				return nil, fmt.Errorf("empty TargetName")
			}
			out = append(out, DiscoveredTarget{Name: kv.Value})
		case "TargetAddress":
			if len(out) == 0 {
				return nil, fmt.Errorf("TargetAddress %q before any TargetName", kv.Value)
			}
			p, err := ParsePortal(kv.Value)
			if err != nil {
				return nil, err
			}
			t := &out[len(out)-1]
			t.Portals = append(t.Portals, p)
		}
	}
	return out, nil
}

// ParsePortal decodes a TargetAddress value, domainname[:port][,tpgt], adding
// the default port 3260 when none is given.
func ParsePortal(v string) (Portal, error) {
	var p Portal
	addr := v
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		t, err := strconv.ParseUint(v[i+1:], 10, 16)
		if err != nil {
			return p, fmt.Errorf("TargetAddress %q: bad portal group tag", v)
		}
		addr, p.TPGT = v[:i], uint16(t)
	}
	if addr == "" {
		return p, fmt.Errorf("TargetAddress %q: empty address", v)
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return p, fmt.Errorf("TargetAddress %q: bad port", v)
		}
	} else {
		host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(addr, "[") && net.ParseIP(host) == nil) {
			return p, fmt.Errorf("TargetAddress %q: %v", v, err)
		}
		addr = net.JoinHostPort(host, "3260")
	}
	p.Addr = addr
	return p, nil
}
