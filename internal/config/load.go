package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileSize bounds a config file; real ones are a few kilobytes.
const maxFileSize = 16 << 20

// Overrides replace config values from the command line. Empty fields
// change nothing.
type Overrides struct {
	// DataDir replaces node.data_dir; relative file volume paths are then
	// relative to it.
	DataDir string
	// Listen replaces the portals of the config's only portal group with
	// this one address; it is an error if the config has several portal
	// groups.
	Listen string
}

// Load reads, parses and validates the config file at path. An invalid
// config yields Errors, each naming file:line and field.
func Load(path string) (*Config, error) { return LoadWith(path, Overrides{}) }

// LoadWith is Load with command line overrides applied before validation.
func LoadWith(path string, o Overrides) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("larger than %d bytes; not a halun config", maxFileSize)}}
	}
	return ParseWith(path, data, o)
}

// Parse parses and validates a config from data; name is used in messages.
func Parse(name string, data []byte) (*Config, error) { return ParseWith(name, data, Overrides{}) }

// ParseWith is Parse with command line overrides applied before validation.
func ParseWith(name string, data []byte, o Overrides) (c *Config, err error) {
	defer func() {
		// Bad input gets an answer, never a crash: a panic in the YAML
		// library or here is reported as an error.
		if r := recover(); r != nil {
			c, err = nil, Errors{{File: name, Msg: fmt.Sprintf("cannot parse config (internal error: %v)", r)}}
		}
	}()
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(name)
	d.override(root, o)
	c = d.config(root)
	if !d.stopped() {
		d.validate(c)
	}
	if len(d.errs) > 0 {
		d.sortErrors()
		return nil, d.errs
	}
	return c, nil
}

// parseYAML parses exactly one YAML document and returns its root node.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Msg: "empty config"}}
		}
		return nil, yamlError(name, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Errors{{File: name, Line: extra.Line, Msg: "a second YAML document (---); a config is one document"}}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(name, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, Errors{{File: name, Msg: "empty config"}}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

var yamlAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// yamlParserProblems are the messages of yaml.v3's parser, as opposed to
// its scanner (parserc.go).
var yamlParserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// yamlError turns a yaml.v3 syntax error into a FieldError with its line.
func yamlError(name string, data []byte, err error) error {
	msg := err.Error()
	e := &FieldError{File: name, Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "YAML syntax: " + m[2]
		// yaml.v3 reports parser (not scanner) errors with a 0-based line.
		for _, p := range yamlParserProblems {
			if strings.HasPrefix(m[2], p) {
				e.Line++
				break
			}
		}
	} else if len(msg) > 6 && msg[:6] == "yaml: " {
		e.Msg = "YAML syntax: " + msg[6:]
		// yaml.v3 gives no line for an unknown anchor: find its use.
		if m := yamlAnchor.FindStringSubmatch(msg); m != nil {
			for i, l := range bytes.Split(data, []byte("\n")) {
				if bytes.Contains(l, []byte("*"+m[1])) {
					e.Line = i + 1
					break
				}
			}
		}
	}
	return Errors{e}
}

// override applies o to the node tree, so the overridden values are
// validated like the rest; their errors name the flag.
func (d *decoder) override(root *yaml.Node, o Overrides) {
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	if o.DataDir != "" {
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: o.DataDir}
		d.origin[v] = "--data-dir"
		node := lookup(root, "node")
		if node == nil {
			node = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			root.Content = append(root.Content, scalarNode("node"), node)
		}
		if node.Kind == yaml.MappingNode {
			setKey(node, "data_dir", v)
		}
	}
	if o.Listen != "" {
		groups := lookup(root, "portal_groups")
		if groups == nil || groups.Kind != yaml.SequenceNode || len(groups.Content) != 1 {
			n := 0
			if groups != nil && groups.Kind == yaml.SequenceNode {
				n = len(groups.Content)
			}
			d.errs = append(d.errs, &FieldError{File: "--listen",
				Msg: fmt.Sprintf("the config has %d portal groups; --listen replaces the portals of exactly one", n)})
			return
		}
		g := groups.Content[0]
		for g.Kind == yaml.AliasNode && g.Alias != nil {
			g = g.Alias
		}
		if g.Kind != yaml.MappingNode {
			return
		}
		v := scalarNode(o.Listen)
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{v}}
		d.origin[v], d.origin[list] = "--listen", "--listen"
		setKey(g, "portals", list)
	}
}

func scalarNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// lookup returns the value of key in mapping m (aliases resolved), or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			v := m.Content[i+1]
			for j := 0; v.Kind == yaml.AliasNode && v.Alias != nil && j < 64; j++ {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// setKey sets key in mapping m to v, replacing every existing value.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	found := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			m.Content[i+1] = v
			found = true
		}
	}
	if !found {
		m.Content = append(m.Content, scalarNode(key), v)
	}
}
