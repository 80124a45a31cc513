package scsi

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the error logs of deliberately failing stores out of the
// test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
