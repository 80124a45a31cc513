package main

import (
	"fmt"
	"io"
	"log/slog"
)

// Log formats of --log-format: text is slog's key=value lines, json one
// JSON object per line, for journald's or a log shipper's parser.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// newLogger builds the logger of serve and witness from --log-level and
// --log-format; a bad value of either is a usage error.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	o := &slog.HandlerOptions{Level: l}
	switch format {
	case logFormatText:
		return slog.New(slog.NewTextHandler(w, o)), nil
	case logFormatJSON:
		o.ReplaceAttr = durationString
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format: %q is not text or json", format)}
}

// durationString writes durations as the text format does ("1.5s"), not
// as slog's JSON default, a bare count of nanoseconds.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
