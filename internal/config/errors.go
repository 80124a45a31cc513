package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a config, located by file, line and field
// path, e.g. "halun.yaml:12: volumes[0].block_size: 1000 is not 512 or 4096".
type FieldError struct {
	// File is the config's name as given to Parse or Load, or the command
	// line flag that supplied the value (e.g. "--listen").
	File string
	// Line and Column are 1-based; 0 when unknown (e.g. a flag).
	Line, Column int
	// Field is the path of the offending field, e.g. "targets[0].luns[1].volume".
	// Empty for syntax errors.
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in file order. Parse and Load
// return it (as error) when the config is invalid; use errors.As to get at
// the individual FieldErrors.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// maxErrors bounds how many problems one Parse reports; past it the input is
// more likely not a halun config at all.
const maxErrors = 50
