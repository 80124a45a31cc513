package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Portal edits for `halun portal add` and `halun portal remove`, made like
// the other Document edits: small text patches where the layout allows, the
// node tree re-encoded where it does not. Portal lists are usually written
// in flow style on one line (portals: ["10.0.0.1:3260"]), so adding and
// removing an address patches such a list in place rather than fall back
// to re-encoding the file.
//
// Addresses are compared as ParsePortal reads them, so "[::1]:3260" finds
// "[0:0::1]:3260"; a new address is written as given, quoted like the
// addresses already in the file.

// AddPortal appends addr to the portals of the portal group with tag,
// creating the group {tag: N, portals: [addr]} if the config has none. An
// address the config already lists, in this group or another, is refused
// (a portal belongs to one group): ErrExists.
func (d *Document) AddPortal(tag uint16, addr string) error {
	if tag == 0 {
		return fmt.Errorf("portal group tag 0: a tag is 1..65535")
	}
	p, err := ParsePortal(addr)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	if at, ok := d.findPortal(addr, p); ok {
		if at.tag == tag {
			return fmt.Errorf("portal %s: %w in portal group %d", addr, ErrExists, at.tag)
		}
		return fmt.Errorf("portal %s: %w in portal group %d; a portal belongs to one group, remove it there first", addr, ErrExists, at.tag)
	}
	item := scalarNode(addr)
	item.Style = d.portalStyle()
	gi, pg := d.portalGroupByTag(tag)
	if gi < 0 {
		m := newMap()
		addInt(m, "tag", int(tag))
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Content: []*yaml.Node{item}}
		m.Content = append(m.Content, scalarNode("portals"), list)
		if gs := items(lookup(d.root, "portal_groups")); len(gs) > 0 && gs[len(gs)-1].Style&yaml.FlowStyle != 0 {
			m.Style = yaml.FlowStyle
		}
		if err := d.appendTo(d.root, "portal_groups", m); err != nil {
			return fmt.Errorf("portal group %d: %w", tag, err)
		}
		return nil
	}
	seq := lookup(pg, "portals")
	if seq != nil && seq.Kind == yaml.SequenceNode && seq.Style&yaml.FlowStyle != 0 {
		return d.commit(d.patchFlowAppend(seq, item), func() { seq.Content = append(seq.Content, item) })
	}
	if err := d.appendTo(pg, "portals", item); err != nil {
		return fmt.Errorf("portal group %d: %w", tag, err)
	}
	return nil
}

// RemovePortal removes addr from its portal group. A group left without
// portals is removed with its settings (alua), unless a target names it in
// its portal_groups: the operator changes that target first. The config's
// last portal cannot be removed.
func (d *Document) RemovePortal(addr string) error {
	p, err := ParsePortal(addr)
	if err != nil {
		p = Portal{} // match the address as written
	}
	at, ok := d.findPortal(addr, p)
	if !ok {
		return fmt.Errorf("portal %s: %w", addr, ErrNotFound)
	}
	if d.portalCount() == 1 {
		return fmt.Errorf("portal %s is the config's only portal; add another before removing it", addr)
	}
	if len(at.seq.Content) > 1 {
		if at.seq.Style&yaml.FlowStyle != 0 {
			seq, i := at.seq, at.index
			return d.commit(d.patchFlowRemove(seq, i), func() { seq.Content = append(seq.Content[:i:i], seq.Content[i+1:]...) })
		}
		return d.removeFrom(at.group, "portals", at.index)
	}
	// The group's last portal: the group goes.
	if users := d.portalGroupUsers(at.tag); len(users) > 0 {
		return fmt.Errorf("portal %s is the last portal of portal group %d, which %s %s in portal_groups; take the group out of %s portal_groups first, or add another portal to the group",
			addr, at.tag, strings.Join(users, ", "), plural(len(users), "lists", "list"), plural(len(users), "that target's", "those targets'"))
	}
	return d.removeFrom(d.root, "portal_groups", at.groupIndex)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// portalAt is where an address is listed.
type portalAt struct {
	tag        uint16
	groupIndex int        // in portal_groups
	group      *yaml.Node // the group's mapping
	seq        *yaml.Node // its portals list
	index      int        // in seq
}

// findPortal finds the portal p (addr as written when p is zero, i.e.
// addr does not parse).
func (d *Document) findPortal(addr string, p Portal) (portalAt, bool) {
	for gi, g := range items(lookup(d.root, "portal_groups")) {
		seq := lookup(g, "portals")
		for i, it := range items(seq) {
			s := scalarOf(it)
			same := s == addr
			if !same && p != (Portal{}) {
				q, err := ParsePortal(s)
				same = err == nil && q == p
			}
			if same {
				tag, _ := tagOf(g)
				return portalAt{tag: tag, groupIndex: gi, group: g, seq: seq, index: i}, true
			}
		}
	}
	return portalAt{}, false
}

// portalCount counts the portals of every group.
func (d *Document) portalCount() int {
	n := 0
	for _, g := range items(lookup(d.root, "portal_groups")) {
		n += len(items(lookup(g, "portals")))
	}
	return n
}

// portalGroupByTag returns the index and mapping of the group with tag, or
// -1.
func (d *Document) portalGroupByTag(tag uint16) (int, *yaml.Node) {
	for i, g := range items(lookup(d.root, "portal_groups")) {
		if t, ok := tagOf(g); ok && t == tag {
			return i, g
		}
	}
	return -1, nil
}

// portalGroupUsers lists the targets that name portal group tag in their
// portal_groups.
func (d *Document) portalGroupUsers(tag uint16) []string {
	var out []string
	for _, t := range items(lookup(d.root, "targets")) {
		for _, g := range items(lookup(t, "portal_groups")) {
			if v, err := strconv.ParseUint(scalarOf(g), 10, 16); err == nil && uint16(v) == tag {
				out = append(out, scalarOf(lookup(t, "iqn")))
				break
			}
		}
	}
	return out
}

func tagOf(g *yaml.Node) (uint16, bool) {
	v, err := strconv.ParseUint(scalarOf(lookup(g, "tag")), 10, 16)
	return uint16(v), err == nil
}

// portalStyle is how the file quotes its addresses: like the first one
// listed, double quotes if none is.
func (d *Document) portalStyle() yaml.Style {
	for _, g := range items(lookup(d.root, "portal_groups")) {
		for _, it := range items(lookup(g, "portals")) {
			if it.Kind == yaml.ScalarNode {
				return it.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
			}
		}
	}
	return yaml.DoubleQuotedStyle
}

// ---- flow sequence patches ----

// flowClose returns the index of the bracket that closes the one at
// l[at], minding nesting and quotes, or -1 if it is not on this line.
func flowClose(l []byte, at int) int {
	depth := 0
	var quote byte
	for i := at; i < len(l); i++ {
		c := l[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && i > 0 && (l[i-1] == ' ' || l[i-1] == '\t'):
			return -1
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// scalarSpan returns the columns [from, to) of the one-line scalar n on
// line l.
func scalarSpan(l []byte, n *yaml.Node) (from, to int, ok bool) {
	from = n.Column - 1
	if n.Kind != yaml.ScalarNode || from < 0 || from >= len(l) {
		return 0, 0, false
	}
	switch n.Style {
	case 0:
		if !bytes.HasPrefix(l[from:], []byte(n.Value)) {
			return 0, 0, false
		}
		return from, from + len(n.Value), true
	case yaml.DoubleQuotedStyle:
		for i := from + 1; i < len(l); i++ {
			switch l[i] {
			case '\\':
				i++
			case '"':
				return from, i + 1, true
			}
		}
	case yaml.SingleQuotedStyle:
		for i := from + 1; i < len(l); i++ {
			if l[i] == '\'' {
				if i+1 < len(l) && l[i+1] == '\'' {
					i++
					continue
				}
				return from, i + 1, true
			}
		}
	}
	return 0, 0, false
}

// flowLine returns the line of the flow sequence seq written on one line,
// with the columns of its brackets lb and rb, or ok=false.
func (d *Document) flowLine(ls [][]byte, seq *yaml.Node) (l []byte, lb, rb int, ok bool) {
	if seq.Line < 1 || seq.Line > len(ls) {
		return nil, 0, 0, false
	}
	l = ls[seq.Line-1]
	lb = seq.Column - 1
	if lb < 0 || lb >= len(l) || l[lb] != '[' {
		return nil, 0, 0, false
	}
	rb = flowClose(l, lb)
	if rb < 0 {
		return nil, 0, 0, false
	}
	for _, it := range seq.Content {
		if it.Line != seq.Line {
			return nil, 0, 0, false
		}
	}
	return l, lb, rb, true
}

// patchFlowAppend appends the scalar item to the flow sequence seq written
// on one line: ["a"] becomes ["a", "b"].
func (d *Document) patchFlowAppend(seq, item *yaml.Node) []byte {
	ls := d.lines()
	l, lb, rb, ok := d.flowLine(ls, seq)
	if !ok {
		return nil
	}
	text := bytes.TrimSpace(render(item, 0))
	if len(text) == 0 || bytes.Contains(text, []byte("\n")) {
		return nil
	}
	// Insert after the last item, before any space ahead of the bracket.
	at := lb + 1 + len(bytes.TrimRight(l[lb+1:rb], " "))
	sep := ", "
	if len(seq.Content) == 0 {
		sep = ""
	}
	nl := append(append(append(append([]byte(nil), l[:at]...), sep...), text...), l[at:]...)
	out := append([][]byte(nil), ls...)
	out[seq.Line-1] = nl
	return bytes.Join(out, nil)
}

// patchFlowRemove removes item i from the flow sequence seq written on one
// line, with the comma that separated it.
func (d *Document) patchFlowRemove(seq *yaml.Node, i int) []byte {
	ls := d.lines()
	l, _, _, ok := d.flowLine(ls, seq)
	if !ok || i < 0 || i >= len(seq.Content) {
		return nil
	}
	from, to, ok := scalarSpan(l, seq.Content[i])
	if !ok {
		return nil
	}
	switch {
	case i+1 < len(seq.Content): // up to the next item
		next, _, ok := scalarSpan(l, seq.Content[i+1])
		if !ok {
			return nil
		}
		to = next
	case i > 0: // from the end of the previous item
		_, prev, ok := scalarSpan(l, seq.Content[i-1])
		if !ok {
			return nil
		}
		from = prev
	}
	nl := append(append([]byte(nil), l[:from]...), l[to:]...)
	out := append([][]byte(nil), ls...)
	out[seq.Line-1] = nl
	return bytes.Join(out, nil)
}
