package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree, collecting FieldErrors with positions.
type decoder struct {
	file string
	errs Errors
	// budget bounds the nodes visited, so aliases cannot make a small
	// file expensive (billion laughs).
	budget int
	// origin names the flag a node's value came from (overrides).
	origin map[*yaml.Node]string
	// at maps each decoded field path to its value node, for errors found
	// after decoding (duplicates, dangling references).
	at map[string]*yaml.Node
}

const nodeBudget = 1 << 18

func newDecoder(file string) *decoder {
	return &decoder{file: file, budget: nodeBudget, origin: map[*yaml.Node]string{}, at: map[string]*yaml.Node{}}
}

// stopped reports that decoding should give up: too many errors or nodes.
func (d *decoder) stopped() bool { return len(d.errs) >= maxErrors || d.budget <= 0 }

// errField reports a problem with the field at path, positioned at its
// node if decoding saw it.
func (d *decoder) errField(path, format string, args ...any) {
	d.errAt(d.at[path], path, format, args...)
}

func (d *decoder) errAt(n *yaml.Node, field, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	e := &FieldError{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		if o, ok := d.origin[n]; ok {
			e.File = o
		} else {
			e.Line, e.Column = n.Line, n.Column
		}
	}
	for _, prev := range d.errs {
		if *prev == *e {
			return
		}
	}
	d.errs = append(d.errs, e)
}

// sortErrors puts errors in file order; flag errors first.
func (d *decoder) sortErrors() {
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i], d.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// resolve follows aliases and charges the node to the budget. It returns
// nil once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 64 {
			return nil
		}
		n = n.Alias
	}
	d.budget--
	if d.budget == 0 {
		d.errAt(n, "", "config too large or too much aliasing (more than %d nodes)", nodeBudget)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "unexpected YAML"
}

type pair struct {
	key        string
	keyNode    *yaml.Node
	value      *yaml.Node
	recognised bool
}

// mapping is a YAML mapping being decoded into a struct: fields are taken
// with get, and done reports the keys nobody asked for. A nil *mapping (the
// node was not a mapping; already reported) answers every get with nil.
type mapping struct {
	d     *decoder
	path  string
	node  *yaml.Node
	pairs []pair
	known []string
}

// mapping starts decoding n as a mapping at path; nil if it is not one.
func (d *decoder) mapping(n *yaml.Node, path string) *mapping {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "want a mapping (key: value lines), got %s", kindName(n))
		return nil
	}
	m := &mapping{d: d, path: path, node: n}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			return nil
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errAt(k, path, "keys must be plain names, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errAt(k, path, "merge keys (<<) are not supported; repeat the keys or use an alias for the whole value")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errAt(k, join(path, k.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		m.pairs = append(m.pairs, pair{key: k.Value, keyNode: k, value: n.Content[i+1]})
	}
	return m
}

// get returns the value of key (aliases resolved), or nil if absent.
func (m *mapping) get(key string) *yaml.Node {
	if m == nil {
		return nil
	}
	m.known = append(m.known, key)
	for i := range m.pairs {
		if m.pairs[i].key == key {
			m.pairs[i].recognised = true
			v := m.d.resolve(m.pairs[i].value)
			if v != nil {
				m.d.at[join(m.path, key)] = v
			}
			return v
		}
	}
	return nil
}

// has reports whether key is present (without marking it recognised).
func (m *mapping) has(key string) bool {
	if m == nil {
		return false
	}
	for _, p := range m.pairs {
		if p.key == key {
			return true
		}
	}
	return false
}

// missing reports a required key that is absent.
func (m *mapping) missing(key, hint string) {
	if m == nil {
		return
	}
	m.d.errAt(m.node, join(m.path, key), "missing; required%s", hint)
}

// reject reports key, if present, as not supported yet, with why.
func (m *mapping) reject(key, why string) {
	if m == nil {
		return
	}
	for i := range m.pairs {
		if m.pairs[i].key == key {
			m.pairs[i].recognised = true
			m.d.errAt(m.pairs[i].keyNode, join(m.path, key), "%s", why)
		}
	}
}

// done reports every key that get never asked for, suggesting the known
// key it most likely misspells.
func (m *mapping) done() {
	if m == nil {
		return
	}
	for _, p := range m.pairs {
		if p.recognised {
			continue
		}
		msg := "unknown field"
		if s := suggest(p.key, m.known); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		} else if len(m.known) > 0 {
			msg += "; known: " + strings.Join(m.known, ", ")
		}
		m.d.errAt(p.keyNode, join(m.path, p.key), "%s", msg)
	}
}

// suggest returns the known key closest to key if it is close enough to
// be a typo.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	lk := strings.ToLower(key)
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k
		}
		if d := editDistance(lk, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return best
	}
	for _, k := range known {
		lkk := strings.ToLower(k)
		if len(lk) >= 3 && (strings.HasPrefix(lkk, lk) || strings.HasPrefix(lk, lkk)) {
			return k
		}
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns n's text if n is a non-empty scalar.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errAt(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// str decodes a string. Numbers and booleans are taken as written, so
// serial: 0012 stays "0012".
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	return d.scalar(n, path, "a string")
}

// boolean decodes true/false; iscsiStyle also accepts Yes/No as iSCSI
// text keys spell them.
func (d *decoder) boolean(n *yaml.Node, path string, iscsiStyle bool) (bool, bool) {
	want := "true or false"
	if iscsiStyle {
		want = "true/false or Yes/No"
	}
	s, ok := d.scalar(n, path, want)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	case "yes":
		if iscsiStyle {
			return true, true
		}
	case "no":
		if iscsiStyle {
			return false, true
		}
	}
	d.errAt(n, path, "want %s, got %q", want, s)
	return false, false
}

// integer decodes a decimal integer in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, ok := d.scalar(n, path, "a whole number")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.errAt(n, path, "%q is not a decimal whole number", s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errAt(n, path, "%d is not in %d..%d", v, lo, hi)
		return 0, false
	}
	return v, true
}

// list returns the (alias-resolved) items of a sequence.
func (d *decoder) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, path, "want a list, got %s", kindName(n))
		return nil, false
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		c = d.resolve(c)
		if c == nil {
			return nil, false
		}
		d.at[index(path, len(items))] = c
		items = append(items, c)
	}
	return items, true
}
