package config

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ALUA in the config. A portal group is a target port group (SPC-4 5.16):
// its asymmetric access state and preferred bit are set per portal group,
//
//	portal_groups:
//	  - tag: 2
//	    portals: ["10.0.0.2:3260"]
//	    alua: { state: standby, preferred: false }
//
// and apply to every target reachable through the group. Whether an
// initiator may change the states with SET TARGET PORT GROUPS (explicit
// ALUA) is a target's choice, since such a change is the target's:
//
//	targets:
//	  - iqn: …
//	    alua: { explicit: true }
//
// Without them every group is active/optimized and ALUA is implicit only.

// ALUA states as the config, the CLI and the API spell them.
const (
	ALUAActiveOptimized    = "active-optimized"
	ALUAActiveNonOptimized = "active-nonoptimized"
	ALUAStandby            = "standby"
	ALUAUnavailable        = "unavailable"
	ALUATransitioning      = "transitioning"
)

// ALUAStates lists the asymmetric access states a portal group may be in.
var ALUAStates = []string{ALUAActiveOptimized, ALUAActiveNonOptimized, ALUAStandby, ALUAUnavailable, ALUATransitioning}

// GroupALUA is a portal group's target port group settings.
type GroupALUA struct {
	// State is one of ALUAStates; default ALUAActiveOptimized.
	State string
	// Preferred sets the PREF bit in REPORT TARGET PORT GROUPS: the group
	// initiators should prefer among those in the same state.
	Preferred bool
}

// TargetALUA is a target's ALUA settings.
type TargetALUA struct {
	// Explicit lets initiators change the groups' states with SET TARGET
	// PORT GROUPS (TPGS 11b in INQUIRY); default implicit only (01b).
	Explicit bool
}

func (d *decoder) groupALUA(n *yaml.Node, path string) GroupALUA {
	a := GroupALUA{State: ALUAActiveOptimized}
	if n == nil || isNull(n) {
		return a
	}
	if n.Kind == yaml.ScalarNode {
		d.errAt(n, path, "want a mapping such as alua: {state: %s, preferred: false}", n.Value)
		return a
	}
	m := d.mapping(n, path)
	if m == nil {
		return a
	}
	if x := m.get("state"); x != nil {
		if s, ok := d.str(x, join(path, "state")); ok {
			if slices.Contains(ALUAStates, s) {
				a.State = s
			} else {
				hint := ""
				if sg := suggest(s, ALUAStates); sg != "" {
					hint = fmt.Sprintf("; did you mean %s?", sg)
				}
				d.errAt(x, join(path, "state"), "%q is not an ALUA state: %s%s", s, strings.Join(ALUAStates, ", "), hint)
			}
		}
	}
	if x := m.get("preferred"); x != nil {
		if b, ok := d.boolean(x, join(path, "preferred"), false); ok {
			a.Preferred = b
		}
	}
	m.done()
	return a
}

func (d *decoder) targetALUA(n *yaml.Node, path string) TargetALUA {
	var a TargetALUA
	m := d.mapping(n, path)
	if m == nil {
		return a
	}
	if x := m.get("explicit"); x != nil {
		if b, ok := d.boolean(x, join(path, "explicit"), false); ok {
			a.Explicit = b
		}
	}
	m.reject("state", "a target's ALUA state is its portal groups': set portal_groups[].alua.state")
	m.done()
	return a
}

// SetPortalGroupALUA sets the ALUA state of the portal group with tag,
// adding alua: {state: …} to it if it has none.
func (d *Document) SetPortalGroupALUA(tag uint16, state string) error {
	if !slices.Contains(ALUAStates, state) {
		return fmt.Errorf("ALUA state %q is not one of %s", state, strings.Join(ALUAStates, ", "))
	}
	sameTag := func(a, b string) bool {
		x, err1 := strconv.ParseUint(a, 10, 16)
		y, err2 := strconv.ParseUint(b, 10, 16)
		return err1 == nil && err2 == nil && x == y
	}
	i := d.findItem("portal_groups", "tag", strconv.Itoa(int(tag)), sameTag)
	if i < 0 {
		return fmt.Errorf("portal group %d: %w", tag, ErrNotFound)
	}
	pg := items(lookup(d.root, "portal_groups"))[i]
	a := lookup(pg, "alua")
	switch {
	case a != nil && a.Kind == yaml.MappingNode:
		return d.setKey(a, "state", scalarNode(state))
	case a != nil && !isNull(a):
		return fmt.Errorf("portal group %d: alua is not a mapping", tag)
	}
	m := newMap()
	m.Style = yaml.FlowStyle
	addStr(m, "state", state)
	if a != nil { // alua: (null)
		return d.commit(nil, func() { setKey(pg, "alua", m) })
	}
	if pg.Style&yaml.FlowStyle != 0 {
		return d.commit(d.patchFlowAddKey(pg, "alua", m), func() { setKey(pg, "alua", m) })
	}
	return d.setKey(pg, "alua", m)
}

// patchFlowAddKey appends key: v to the flow mapping m written on one
// line, e.g. "- {tag: 1, portals: [...]}" becomes
// "- {tag: 1, portals: [...], alua: {state: standby}}".
func (d *Document) patchFlowAddKey(m *yaml.Node, key string, v *yaml.Node) []byte {
	ls := d.lines()
	if m.Line < 1 || m.Line > len(ls) {
		return nil
	}
	l := ls[m.Line-1]
	at := m.Column - 1
	if at >= len(l) || l[at] != '{' {
		return nil
	}
	// Find the closing brace, minding nesting and quotes.
	depth, end := 0, -1
	var quote byte
	for i := at; i < len(l) && end < 0; i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				end = i
			}
		}
	}
	if end < 0 {
		return nil
	}
	one := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Content: []*yaml.Node{scalarNode(key), v}}
	text := bytes.TrimSpace(render(one, 0))
	if len(text) < 2 || bytes.Contains(text, []byte("\n")) {
		return nil
	}
	body := bytes.TrimRight(l[at+1:end], " ")
	sep := ", "
	if len(bytes.TrimSpace(body)) == 0 {
		sep = ""
	}
	nl := append(append(append(append([]byte(nil), l[:at+1]...), body...), sep...), text[1:len(text)-1]...)
	nl = append(nl, l[end:]...)
	out := append([][]byte(nil), ls...)
	out[m.Line-1] = nl
	return bytes.Join(out, nil)
}
