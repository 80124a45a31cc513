package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// jsonNode is a JSON value with the line it starts on, so findings about
// saveconfig.json can name file:line as for the other formats.
type jsonNode struct {
	line int
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	b    bool
	keys []string // object keys in order
	obj  map[string]*jsonNode
	arr  []*jsonNode
}

const maxJSONDepth = 64

// parseJSONTree parses data into a jsonNode tree.
func parseJSONTree(name string, data []byte) (*jsonNode, error) {
	var nl []int
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	lineAt := func(off int64) int { return sort.SearchInts(nl, int(off)) + 1 }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fail := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Errors{{File: name, Line: lineAt(se.Offset - 1), Msg: "JSON syntax: " + se.Error()}}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Errors{{File: name, Line: lineAt(int64(len(data))), Msg: "JSON ends too early"}}
		}
		return Errors{{File: name, Line: lineAt(dec.InputOffset()), Msg: "JSON: " + err.Error()}}
	}
	var value func(depth int) (*jsonNode, error)
	value = func(depth int) (*jsonNode, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		n := &jsonNode{line: lineAt(dec.InputOffset() - 1)}
		switch t := tok.(type) {
		case json.Delim:
			if depth > maxJSONDepth {
				return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
			}
			switch t {
			case '{':
				n.kind, n.obj = 'o', map[string]*jsonNode{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k, ok := kt.(string)
					if !ok {
						return nil, fmt.Errorf("object key %v is not a string", kt)
					}
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					if _, dup := n.obj[k]; !dup {
						n.keys = append(n.keys, k)
					}
					n.obj[k] = v
				}
			case '[':
				n.kind = 'a'
				for dec.More() {
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					n.arr = append(n.arr, v)
				}
			default:
				return nil, fmt.Errorf("unexpected %v", t)
			}
			if _, err := dec.Token(); err != nil { // closing delimiter
				return nil, err
			}
		case string:
			n.kind, n.str = 's', t
		case json.Number:
			n.kind, n.str = 'n', t.String()
		case bool:
			n.kind, n.b = 'b', t
		case nil:
			n.kind = 'z'
		}
		return n, nil
	}
	root, err := value(0)
	if err != nil {
		return nil, fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errors{{File: name, Line: lineAt(dec.InputOffset()), Msg: "JSON: more data after the top-level value"}}
	}
	if root.kind != 'o' {
		return nil, Errors{{File: name, Line: root.line, Msg: "not a targetcli saveconfig: the top level is not a JSON object"}}
	}
	return root, nil
}

// get returns member k of an object node, or nil.
func (n *jsonNode) get(k string) *jsonNode {
	if n == nil || n.kind != 'o' {
		return nil
	}
	return n.obj[k]
}

// text returns a string, number or bool member as text, and whether it is
// present.
func (n *jsonNode) text(k string) (string, bool) {
	v := n.get(k)
	if v == nil {
		return "", false
	}
	switch v.kind {
	case 's', 'n':
		return v.str, true
	case 'b':
		return strconv.FormatBool(v.b), true
	}
	return "", false
}

// flag reads a targetcli boolean, which is true/false or 0/1.
func (n *jsonNode) flag(k string) bool {
	s, _ := n.text(k)
	return s == "true" || s == "1"
}

// int64 reads an integer member.
func (n *jsonNode) int64(k string) (int64, bool) {
	s, ok := n.text(k)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// list returns an array member's items (nil if absent or not an array).
func (n *jsonNode) list(k string) []*jsonNode {
	if v := n.get(k); v != nil && v.kind == 'a' {
		return v.arr
	}
	return nil
}

// lineOf returns the line of member k, or of n.
func (n *jsonNode) lineOf(k string) int {
	if v := n.get(k); v != nil {
		return v.line
	}
	if n == nil {
		return 0
	}
	return n.line
}
