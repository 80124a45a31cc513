package importer

import (
	"fmt"
	"strings"
)

// Errors is every reason an input could not be read as its format, each
// with file and line.
type Errors []*SyntaxError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// errList collects SyntaxErrors, up to a bound: past it the input is more
// likely not of its format at all.
type errList struct {
	file string
	errs Errors
}

const maxSyntaxErrors = 20

func (el *errList) add(line int, format string, args ...any) {
	if len(el.errs) < maxSyntaxErrors {
		el.errs = append(el.errs, &SyntaxError{File: el.file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

func (el *errList) err() error {
	if len(el.errs) == 0 {
		return nil
	}
	return el.errs
}

// logicalLine is one line of a line-oriented config after joining
// backslash continuations; line is where it starts.
type logicalLine struct {
	line int
	text string
}

// splitLines splits data into logical lines: trailing backslashes join the
// next line, CR before LF is dropped. Blank lines are kept out.
func splitLines(data []byte) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(string(data), "\n") {
		l := strings.TrimSuffix(raw, "\r")
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(l)
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, logicalLine{line: start, text: t})
		}
		cur.Reset()
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, logicalLine{line: start, text: t})
	}
	return out
}
