package importer

import (
	"strings"
)

// scst.conf as scstadmin writes and reads it: statements of words, one a
// line, a statement ending in '{' opening a block closed by '}'. Words may
// be double-quoted; '#' starts a comment outside quotes.
//
//	HANDLER vdisk_fileio {
//		DEVICE disk1 {
//			filename /srv/disk1.img
//			usn 3a7bd8a1
//		}
//	}
//	TARGET_DRIVER iscsi {
//		TARGET iqn.2006-10.net.vlnb:tgt {
//			LUN 0 disk1
//			GROUP esx { LUN 0 disk2; INITIATOR iqn... }
//		}
//	}

// scstNode is one statement; children are set for a block.
type scstNode struct {
	words    []string
	line     int
	block    bool
	children []*scstNode
}

func (n *scstNode) keyword() string { return strings.ToUpper(n.words[0]) }

// arg returns word i, or "".
func (n *scstNode) arg(i int) string {
	if i < len(n.words) {
		return n.words[i]
	}
	return ""
}

// value is the words after the keyword, joined by a space.
func (n *scstNode) value() string { return strings.Join(n.words[1:], " ") }

type scstToken struct {
	kind byte // 'w' word, '{', '}', '\n'
	text string
	line int
}

func scstTokens(data []byte, el *errList) []scstToken {
	var toks []scstToken
	s := string(data)
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			toks = append(toks, scstToken{kind: '\n', line: line})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == ';':
			// scstadmin does not use ';', but hand-written files separate
			// statements with it on one line; treat it as a line end.
			if c == ';' {
				toks = append(toks, scstToken{kind: '\n', line: line})
			}
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '{' || c == '}':
			toks = append(toks, scstToken{kind: c, line: line})
			i++
		case c == '"':
			start := line
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				if s[i] == '\n' {
					line++
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				el.add(start, "unterminated quoted string")
			}
			toks = append(toks, scstToken{kind: 'w', text: b.String(), line: start})
		default:
			start := i
			for i < len(s) && !strings.ContainsRune(" \t\r\n{}#\";", rune(s[i])) {
				i++
			}
			toks = append(toks, scstToken{kind: 'w', text: s[start:i], line: line})
		}
	}
	return toks
}

// parseSCSTTree parses scst.conf into statements.
func parseSCSTTree(name string, data []byte) ([]*scstNode, error) {
	el := &errList{file: name}
	toks := scstTokens(data, el)
	root := &scstNode{block: true}
	stack := []*scstNode{root}
	var cur *scstNode
	flush := func() {
		if cur != nil {
			top := stack[len(stack)-1]
			top.children = append(top.children, cur)
			cur = nil
		}
	}
	for _, t := range toks {
		switch t.kind {
		case 'w':
			if cur == nil {
				cur = &scstNode{line: t.line}
			}
			cur.words = append(cur.words, t.text)
		case '\n':
			flush()
		case '{':
			if cur == nil {
				el.add(t.line, "'{' without a statement before it")
				cur = &scstNode{line: t.line, words: []string{"?"}}
			}
			cur.block = true
			n := cur
			flush()
			if len(stack) > 32 {
				el.add(t.line, "blocks nested too deep")
				return nil, el.err()
			}
			stack = append(stack, n)
		case '}':
			flush()
			if len(stack) == 1 {
				el.add(t.line, "'}' without an open block")
				continue
			}
			stack = stack[:len(stack)-1]
		}
	}
	flush()
	for _, open := range stack[1:] {
		el.add(open.line, "block %q is not closed", strings.Join(open.words, " "))
	}
	return root.children, el.err()
}
