package importer

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Level says how much a Finding matters.
type Level int

const (
	// Info is a fact worth knowing that changes nothing for initiators.
	Info Level = iota
	// Warn is something halun cannot carry, or carries differently; the
	// operator should read it before switching over.
	Warn
	// Review marks output that must be edited or checked before it is
	// served: a widened access rule, a missing size, an invalid value.
	Review
)

func (l Level) String() string {
	switch l {
	case Info:
		return "info"
	case Warn:
		return "cannot carry"
	default:
		return "REVIEW"
	}
}

// Finding is one entry of the import report, located in the source.
type Finding struct {
	File  string
	Line  int // 1-based; 0 when it concerns the whole file
	Level Level
	Msg   string
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Level, f.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", f.File, f.Level, f.Msg)
}

// findings collects Findings for one source file.
type findings struct {
	file string
	list []Finding
}

func (fs *findings) add(line int, l Level, format string, args ...any) {
	fs.list = append(fs.list, Finding{File: fs.file, Line: line, Level: l, Msg: fmt.Sprintf(format, args...)})
}

func (fs *findings) info(line int, format string, args ...any) { fs.add(line, Info, format, args...) }
func (fs *findings) warn(line int, format string, args ...any) { fs.add(line, Warn, format, args...) }
func (fs *findings) review(line int, format string, args ...any) {
	fs.add(line, Review, format, args...)
}

// sortFindings orders findings by file and line, keeping the order of
// findings on the same line.
func sortFindings(list []Finding) {
	slices.SortStableFunc(list, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// WriteReport writes findings for a person, grouped by level (REVIEW
// first), one per line, with a summary line. It never contains secrets:
// findings name CHAP users, never their secrets.
func WriteReport(w io.Writer, list []Finding) error {
	counts := map[Level]int{}
	for _, lvl := range []Level{Review, Warn, Info} {
		for _, f := range list {
			if f.Level == lvl {
				counts[lvl]++
				if _, err := fmt.Fprintln(w, f); err != nil {
					return fmt.Errorf("writing import report: %w", err)
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "import: %d to review, %d not carried, %d notes\n", counts[Review], counts[Warn], counts[Info])
	if err != nil {
		return fmt.Errorf("writing import report: %w", err)
	}
	return nil
}
