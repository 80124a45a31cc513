package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/halun/halun/internal/atomicfile"
)

// Document is a config file's text being edited by management commands
// (add a volume, map a LUN, …). Edits keep the file as the operator wrote
// it: each one is made as a small text patch at the place the YAML node
// tree says, so comments, blank lines and alignment survive. A patch is
// checked by parsing its result and comparing it with the same edit made on
// the node tree; should they differ (a layout the patcher does not know,
// such as a flow-style list), the document is re-encoded from the edited
// node tree instead, which keeps the comments but not the layout.
//
// Documents are not validated: the caller parses Bytes with ParseWith and
// refuses the edit if the result is not a valid config.
type Document struct {
	name string
	text []byte
	root *yaml.Node // the document's top-level mapping, parsed from text
	// Reencoded reports that at least one edit fell back to re-encoding.
	Reencoded bool
}

// ParseDocument parses a config's text for editing. It checks only the
// YAML, not the config.
func ParseDocument(name string, data []byte) (*Document, error) {
	d := &Document{name: name}
	if err := d.setText(data); err != nil {
		return nil, err
	}
	return d, nil
}

// LoadDocument reads a config file for editing.
func LoadDocument(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseDocument(path, data)
}

func (d *Document) setText(data []byte) error {
	root, err := parseYAML(d.name, data)
	if err != nil {
		return err
	}
	if root.Kind != yaml.MappingNode {
		return Errors{{File: d.name, Line: root.Line, Msg: "the config is not a mapping"}}
	}
	d.text, d.root = data, root
	return nil
}

// Bytes returns the edited text.
func (d *Document) Bytes() []byte { return bytes.Clone(d.text) }

// ErrNotFound is returned (wrapped) by edits that name something the config
// does not have.
var ErrNotFound = errors.New("not found")

// ErrExists is returned (wrapped) by edits that add something the config
// already has.
var ErrExists = errors.New("already exists")

// VolumeSpec is a volume to add, as written to the config. Empty fields are
// left out (defaults apply).
type VolumeSpec struct {
	Name       string
	Backend    string
	Path       string
	Size       string // as written, e.g. "20GiB"
	BlockSize  int
	Serial     string
	Thin       *bool
	ReadOnly   bool
	WriteCache bool
}

func (v VolumeSpec) node() *yaml.Node {
	m := newMap()
	addStr(m, "name", v.Name)
	addStr(m, "backend", v.Backend)
	if v.Path != "" {
		addStr(m, "path", v.Path)
	}
	if v.Size != "" {
		addStr(m, "size", v.Size)
	}
	if v.BlockSize != 0 {
		addInt(m, "block_size", v.BlockSize)
	}
	if v.Serial != "" {
		addStr(m, "serial", v.Serial)
	}
	if v.Thin != nil {
		addBool(m, "thin", *v.Thin)
	}
	if v.ReadOnly {
		addBool(m, "read_only", true)
	}
	if v.WriteCache {
		addBool(m, "write_cache", true)
	}
	return m
}

// AddVolume appends a volume to volumes.
func (d *Document) AddVolume(v VolumeSpec) error {
	if d.findItem("volumes", "name", v.Name, strings.EqualFold) >= 0 {
		return fmt.Errorf("volume %s: %w", v.Name, ErrExists)
	}
	return d.appendTo(d.root, "volumes", v.node())
}

// RemoveVolume removes the named volume. A volume a target still maps
// cannot be removed.
func (d *Document) RemoveVolume(name string) error {
	i := d.findItem("volumes", "name", name, func(a, b string) bool { return a == b })
	if i < 0 {
		return fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	if users := d.volumeUsers(name); len(users) > 0 {
		return fmt.Errorf("volume %s is still mapped by %s; unmap it first", name, strings.Join(users, ", "))
	}
	return d.removeFrom(d.root, "volumes", i)
}

// volumeUsers names the LUN mappings that refer to volume.
func (d *Document) volumeUsers(volume string) []string {
	var out []string
	for _, t := range items(lookup(d.root, "targets")) {
		iqn := scalarOf(lookup(t, "iqn"))
		for _, l := range items(lookup(t, "luns")) {
			if scalarOf(lookup(l, "volume")) == volume {
				out = append(out, fmt.Sprintf("%s LUN %s", iqn, scalarOf(lookup(l, "lun"))))
			}
		}
		if acc := lookup(t, "access"); acc != nil {
			for _, ini := range items(lookup(acc, "initiators")) {
				for _, l := range items(lookup(ini, "luns")) {
					if scalarOf(lookup(l, "volume")) == volume {
						out = append(out, fmt.Sprintf("%s initiator %s LUN %s", iqn, scalarOf(lookup(ini, "iqn")), scalarOf(lookup(l, "lun"))))
					}
				}
			}
		}
	}
	return out
}

// SetVolumeSize sets a volume's size, written as given (e.g. "30GiB").
func (d *Document) SetVolumeSize(name, size string) error {
	i := d.findItem("volumes", "name", name, func(a, b string) bool { return a == b })
	if i < 0 {
		return fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	vol := items(lookup(d.root, "volumes"))[i]
	return d.setKey(vol, "size", scalarNode(size))
}

// TargetSpec is a target to add. Exactly one of AllInitiators and
// Initiators should be set for the result to be valid.
type TargetSpec struct {
	IQN           string
	Alias         string
	PortalGroups  []uint16
	LUNs          []LUN
	AllInitiators bool
	Initiators    []string
}

func (t TargetSpec) node() *yaml.Node {
	m := newMap()
	addStr(m, "iqn", t.IQN)
	if t.Alias != "" {
		addStr(m, "alias", t.Alias)
	}
	if len(t.PortalGroups) > 0 {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for _, g := range t.PortalGroups {
			s.Content = append(s.Content, intNode(int(g)))
		}
		m.Content = append(m.Content, scalarNode("portal_groups"), s)
	}
	if len(t.LUNs) > 0 {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, l := range t.LUNs {
			s.Content = append(s.Content, lunNode(l.LUN, l.Volume, true))
		}
		m.Content = append(m.Content, scalarNode("luns"), s)
	}
	acc := newMap()
	if t.AllInitiators {
		addBool(acc, "all", true)
		acc.Style = yaml.FlowStyle
	} else {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, ini := range t.Initiators {
			e := newMap()
			addStr(e, "iqn", ini)
			s.Content = append(s.Content, e)
		}
		acc.Content = append(acc.Content, scalarNode("initiators"), s)
	}
	m.Content = append(m.Content, scalarNode("access"), acc)
	return m
}

func lunNode(lun uint16, volume string, flow bool) *yaml.Node {
	e := newMap()
	addInt(e, "lun", int(lun))
	addStr(e, "volume", volume)
	if flow {
		e.Style = yaml.FlowStyle
	}
	return e
}

// AddTarget appends a target to targets.
func (d *Document) AddTarget(t TargetSpec) error {
	if d.targetIndex(t.IQN) >= 0 {
		return fmt.Errorf("target %s: %w", t.IQN, ErrExists)
	}
	return d.appendTo(d.root, "targets", t.node())
}

// RemoveTarget removes the target named iqn.
func (d *Document) RemoveTarget(iqn string) error {
	i := d.targetIndex(iqn)
	if i < 0 {
		return fmt.Errorf("target %s: %w", iqn, ErrNotFound)
	}
	return d.removeFrom(d.root, "targets", i)
}

func (d *Document) targetIndex(iqn string) int {
	return d.findItem("targets", "iqn", iqn, strings.EqualFold)
}

func (d *Document) target(iqn string) (*yaml.Node, error) {
	i := d.targetIndex(iqn)
	if i < 0 {
		return nil, fmt.Errorf("target %s: %w", iqn, ErrNotFound)
	}
	return items(lookup(d.root, "targets"))[i], nil
}

// lunOwner returns the mapping that holds the LUN list edited for target
// iqn: the target itself, or with initiator set that initiator's access
// entry.
func (d *Document) lunOwner(iqn, initiator string) (*yaml.Node, error) {
	t, err := d.target(iqn)
	if err != nil {
		return nil, err
	}
	if initiator == "" {
		return t, nil
	}
	e := findIn(lookup(lookup(t, "access"), "initiators"), "iqn", initiator, strings.EqualFold)
	if e == nil {
		return nil, fmt.Errorf("target %s has no access entry for initiator %s: %w", iqn, initiator, ErrNotFound)
	}
	return e, nil
}

// MapLUN maps volume as lun of target iqn; with initiator set, in that
// initiator's own LUN map.
func (d *Document) MapLUN(iqn, initiator string, lun uint16, volume string) error {
	owner, err := d.lunOwner(iqn, initiator)
	if err != nil {
		return err
	}
	list := lookup(owner, "luns")
	flow := true
	for _, l := range items(list) {
		if scalarOf(lookup(l, "lun")) == strconv.Itoa(int(lun)) {
			return fmt.Errorf("target %s LUN %d: %w (volume %s)", iqn, lun, ErrExists, scalarOf(lookup(l, "volume")))
		}
		flow = l.Style&yaml.FlowStyle != 0
	}
	return d.appendTo(owner, "luns", lunNode(lun, volume, flow))
}

// UnmapLUN removes lun from target iqn (or from initiator's own map).
func (d *Document) UnmapLUN(iqn, initiator string, lun uint16) error {
	owner, err := d.lunOwner(iqn, initiator)
	if err != nil {
		return err
	}
	for i, l := range items(lookup(owner, "luns")) {
		if scalarOf(lookup(l, "lun")) == strconv.Itoa(int(lun)) {
			return d.removeFrom(owner, "luns", i)
		}
	}
	return fmt.Errorf("target %s LUN %d: %w", iqn, lun, ErrNotFound)
}

// ACLSpec is an access entry to add: an initiator and, optionally, its own
// LUN map.
type ACLSpec struct {
	Initiator string
	LUNs      []LUN
}

// AddACL lets an initiator log in to target iqn. A target open to every
// initiator (access.all) has no list to add to.
func (d *Document) AddACL(iqn string, a ACLSpec) error {
	t, err := d.target(iqn)
	if err != nil {
		return err
	}
	acc := lookup(t, "access")
	if acc == nil || acc.Kind != yaml.MappingNode {
		return fmt.Errorf("target %s has no access mapping", iqn)
	}
	if strings.EqualFold(scalarOf(lookup(acc, "all")), "true") {
		return fmt.Errorf("target %s lets every initiator in (access.all: true); replace it with an initiators list in the config first", iqn)
	}
	if findIn(lookup(acc, "initiators"), "iqn", a.Initiator, strings.EqualFold) != nil {
		return fmt.Errorf("target %s initiator %s: %w", iqn, a.Initiator, ErrExists)
	}
	e := newMap()
	addStr(e, "iqn", a.Initiator)
	if len(a.LUNs) > 0 {
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, l := range a.LUNs {
			s.Content = append(s.Content, lunNode(l.LUN, l.Volume, true))
		}
		e.Content = append(e.Content, scalarNode("luns"), s)
	}
	return d.appendTo(acc, "initiators", e)
}

// RemoveACL removes an initiator's access entry from target iqn.
func (d *Document) RemoveACL(iqn, initiator string) error {
	t, err := d.target(iqn)
	if err != nil {
		return err
	}
	acc := lookup(t, "access")
	list := lookup(acc, "initiators")
	for i, e := range items(list) {
		if strings.EqualFold(scalarOf(lookup(e, "iqn")), initiator) {
			if len(list.Content) == 1 {
				return fmt.Errorf("initiator %s is the only one allowed into target %s; remove the target instead", initiator, iqn)
			}
			return d.removeFrom(acc, "initiators", i)
		}
	}
	return fmt.Errorf("target %s initiator %s: %w", iqn, initiator, ErrNotFound)
}

// ---- edits: a node-tree edit, and the same edit as a text patch ----

// appendTo appends item to the sequence under key in mapping m, creating
// the key if needed.
func (d *Document) appendTo(m *yaml.Node, key string, item *yaml.Node) error {
	seq := lookup(m, key)
	if seq != nil && !isNull(seq) && seq.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s is not a list", key)
	}
	var patched []byte
	if seq != nil && seq.Kind == yaml.SequenceNode && len(seq.Content) > 0 && seq.Style&yaml.FlowStyle == 0 {
		patched = d.patchAppendItem(seq, item)
	} else if seq == nil {
		patched = d.patchAddKey(m, key, &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	}
	return d.commit(patched, func() {
		s := lookup(m, key)
		if s == nil || isNull(s) {
			setKey(m, key, &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
			return
		}
		s.Content = append(s.Content, item)
	})
}

// removeFrom removes item i of the sequence under key in mapping m.
func (d *Document) removeFrom(m *yaml.Node, key string, i int) error {
	seq := lookup(m, key)
	var patched []byte
	if seq.Style&yaml.FlowStyle == 0 {
		patched = d.patchRemoveItem(m, key, seq, i)
	}
	return d.commit(patched, func() {
		s := lookup(m, key)
		s.Content = append(s.Content[:i:i], s.Content[i+1:]...)
		if len(s.Content) == 0 {
			s.Style = yaml.FlowStyle
		}
	})
}

// setKey sets key of mapping m to v.
func (d *Document) setKey(m *yaml.Node, key string, v *yaml.Node) error {
	old := lookup(m, key)
	var patched []byte
	switch {
	case old == nil:
		patched = d.patchAddKey(m, key, v)
	case old.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode:
		patched = d.patchScalar(old, v)
	}
	return d.commit(patched, func() { setKey(m, key, v) })
}

// commit makes an edit: edit changes the node tree; patched is the same
// edit as text, or nil if there is no patch for it. The patch is taken if
// it parses to the edited tree, else the tree is re-encoded.
func (d *Document) commit(patched []byte, edit func()) error {
	edit()
	want, err := canonical(d.root)
	if err != nil {
		return fmt.Errorf("config: encode %s: %w", d.name, err)
	}
	if patched != nil {
		if root, err := parseYAML(d.name, patched); err == nil {
			if got, err := canonical(root); err == nil && bytes.Equal(got, want) {
				return d.setText(patched)
			}
		}
	}
	d.Reencoded = true
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{d.root}}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("config: encode %s: %w", d.name, err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: encode %s: %w", d.name, err)
	}
	return d.setText(b.Bytes())
}

// canonical encodes a node tree without comments or styles, to compare
// two trees' content.
func canonical(n *yaml.Node) ([]byte, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return yaml.Marshal(v)
}

// ---- text patches ----

// lines splits text into lines, each with its newline.
func (d *Document) lines() [][]byte {
	ls := bytes.SplitAfter(d.text, []byte("\n"))
	if len(ls) > 0 && len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func indentOf(l []byte) int {
	return len(l) - len(bytes.TrimLeft(l, " "))
}

func isBlankOrComment(l []byte) bool {
	t := bytes.TrimSpace(l)
	return len(t) == 0 || t[0] == '#'
}

// blockEnd returns the index of the last line of the block that starts on
// line start (0-based) and whose continuation lines are indented more than
// indent. Trailing blank lines and comments indented no more than indent
// (they belong to what follows) are not part of it.
func blockEnd(ls [][]byte, start, indent int) int {
	end := start
	for i := start + 1; i < len(ls); i++ {
		if isBlankOrComment(ls[i]) {
			if len(bytes.TrimSpace(ls[i])) > 0 && indentOf(ls[i]) > indent {
				end = i
			}
			continue
		}
		if indentOf(ls[i]) <= indent {
			break
		}
		end = i
	}
	return end
}

// dashColumn finds the "- " of the block sequence item n (0-based column),
// or -1.
func dashColumn(ls [][]byte, n *yaml.Node) int {
	if n.Line < 1 || n.Line > len(ls) {
		return -1
	}
	l := ls[n.Line-1]
	for c := min(n.Column-2, len(l)-1); c >= 0; c-- {
		switch l[c] {
		case '-':
			if bytes.TrimSpace(l[:c]) == nil || len(bytes.TrimSpace(l[:c])) == 0 {
				return c
			}
			return -1
		case ' ':
		default:
			return -1
		}
	}
	return -1
}

// render encodes n as block YAML with every line indented by indent.
func render(n *yaml.Node, indent int) []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil
	}
	enc.Close()
	pad := bytes.Repeat([]byte(" "), indent)
	var out []byte
	for _, l := range bytes.SplitAfter(b.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		out = append(out, pad...)
		out = append(out, l...)
	}
	return out
}

func splice(ls [][]byte, from, to int, insert []byte) []byte {
	var out []byte
	for _, l := range ls[:from] {
		out = append(out, l...)
	}
	if from > 0 && len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, insert...)
	for _, l := range ls[to:] {
		out = append(out, l...)
	}
	return out
}

// patchAppendItem inserts item after the last item of the block sequence
// seq, at the same indentation.
func (d *Document) patchAppendItem(seq, item *yaml.Node) []byte {
	ls := d.lines()
	last := seq.Content[len(seq.Content)-1]
	col := dashColumn(ls, last)
	if col < 0 {
		return nil
	}
	end := blockEnd(ls, last.Line-1, col)
	one := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}}
	return splice(ls, end+1, end+1, render(one, col))
}

// patchRemoveItem deletes item i of the block sequence seq (under key in
// m) with the comment lines just above it. Removing the last item leaves
// key: [].
func (d *Document) patchRemoveItem(m *yaml.Node, key string, seq *yaml.Node, i int) []byte {
	ls := d.lines()
	it := seq.Content[i]
	col := dashColumn(ls, it)
	if col < 0 {
		return nil
	}
	start := it.Line - 1
	for start > 0 && isBlankOrComment(ls[start-1]) && len(bytes.TrimSpace(ls[start-1])) > 0 && indentOf(ls[start-1]) == col {
		start--
	}
	end := blockEnd(ls, it.Line-1, col)
	// Do not leave two blank lines where the item was between them.
	blank := func(i int) bool { return i < 0 || i >= len(ls) || len(bytes.TrimSpace(ls[i])) == 0 }
	if start > 0 && blank(start-1) && blank(end+1) {
		start--
	}
	out := splice(ls, start, end+1, nil)
	if len(seq.Content) > 1 {
		return out
	}
	// The list is now empty: say so with [] after "key:".
	k := keyNode(m, key)
	if k == nil || k.Line < 1 || k.Line > start || k.Style != 0 {
		return nil
	}
	kl := ls[k.Line-1]
	at := k.Column - 1 + len(k.Value)
	if at >= len(kl) || kl[at] != ':' {
		return nil
	}
	nl := append(append(append([]byte(nil), kl[:at+1]...), " []"...), kl[at+1:]...)
	ls2 := bytes.SplitAfter(out, []byte("\n"))
	ls2[k.Line-1] = nl
	return bytes.Join(ls2, nil)
}

// patchAddKey appends key: v to the block mapping m.
func (d *Document) patchAddKey(m *yaml.Node, key string, v *yaml.Node) []byte {
	if m.Style&yaml.FlowStyle != 0 || len(m.Content) < 2 {
		return nil
	}
	ls := d.lines()
	lastKey := m.Content[len(m.Content)-2]
	first := m.Content[0]
	if lastKey.Line < 1 || lastKey.Line > len(ls) || first.Column != lastKey.Column {
		return nil
	}
	indent := lastKey.Column - 1
	if indentOf(ls[lastKey.Line-1]) != indent && !(lastKey == first) {
		return nil
	}
	end := blockEnd(ls, lastKey.Line-1, indent)
	one := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{scalarNode(key), v}}
	return splice(ls, end+1, end+1, render(one, indent))
}

// patchScalar replaces the plain or quoted one-line scalar old with v.
func (d *Document) patchScalar(old, v *yaml.Node) []byte {
	ls := d.lines()
	if old.Line < 1 || old.Line > len(ls) {
		return nil
	}
	l := ls[old.Line-1]
	at := old.Column - 1
	if at >= len(l) {
		return nil
	}
	var n int
	switch old.Style {
	case 0:
		n = len(old.Value)
		if !bytes.HasPrefix(l[at:], []byte(old.Value)) {
			return nil
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := l[at]
		j := bytes.IndexByte(l[at+1:], q)
		if j < 0 {
			return nil
		}
		n = j + 2
	default:
		return nil
	}
	text := bytes.TrimRight(render(v, 0), "\n")
	if bytes.Contains(text, []byte("\n")) {
		return nil
	}
	nl := append(append(append([]byte(nil), l[:at]...), text...), l[at+n:]...)
	out := append([][]byte(nil), ls...)
	out[old.Line-1] = nl
	return bytes.Join(out, nil)
}

// ---- node helpers ----

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func addStr(m *yaml.Node, k, v string) { m.Content = append(m.Content, scalarNode(k), scalarNode(v)) }

func addInt(m *yaml.Node, k string, v int) { m.Content = append(m.Content, scalarNode(k), intNode(v)) }

func addBool(m *yaml.Node, k string, v bool) {
	m.Content = append(m.Content, scalarNode(k), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)})
}

func intNode(v int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
}

// keyNode returns the key node of key in mapping m, or nil.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// items returns a sequence's items with aliases resolved, or nil.
func items(seq *yaml.Node) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(seq.Content))
	for i, n := range seq.Content {
		for j := 0; n.Kind == yaml.AliasNode && n.Alias != nil && j < 64; j++ {
			n = n.Alias
		}
		out[i] = n
	}
	return out
}

func scalarOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// findIn returns the mapping in seq whose field equals value.
func findIn(seq *yaml.Node, field, value string, eq func(a, b string) bool) *yaml.Node {
	for _, it := range items(seq) {
		if it.Kind == yaml.MappingNode && eq(scalarOf(lookup(it, field)), value) {
			return it
		}
	}
	return nil
}

// findItem returns the index of the item of the top-level list key whose
// field equals value, or -1.
func (d *Document) findItem(key, field, value string, eq func(a, b string) bool) int {
	for i, it := range items(lookup(d.root, key)) {
		if it.Kind == yaml.MappingNode && eq(scalarOf(lookup(it, field)), value) {
			return i
		}
	}
	return -1
}

// WriteFileAtomic replaces the file at path with data so that a reader (or
// a crash) sees either the old or the new content (package atomicfile). The
// file keeps its permissions (0600 if new); a symbolic link is followed, so
// the link stays and its target is replaced.
func WriteFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteKeepMode(path, data, 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
