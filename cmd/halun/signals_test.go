package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/test/harness"
)

// TestShutdownOnSignal: the first signal ends the context (graceful
// shutdown) and exits nothing; the second exits at once with 128+signal.
func TestShutdownOnSignal(t *testing.T) {
	codes := make(chan int, 1)
	exitNow = func(code int) { codes <- code }
	defer func() { exitNow = os.Exit }()
	var logs harness.SyncBuffer
	ctx, stop := shutdownOnSignal(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	defer stop()

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not start the shutdown")
	}
	select {
	case code := <-codes:
		t.Fatalf("the first signal exited with %d", code)
	case <-time.After(100 * time.Millisecond):
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codes:
		if code != 130 {
			t.Errorf("exit status %d after SIGINT, want 130", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second signal did not exit")
	}
	for _, want := range []string{"shutting down", "signal=terminated", "second signal", "exit_status=130"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
