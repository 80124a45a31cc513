package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// exitNow ends the process; tests replace it.
var exitNow = os.Exit

// shutdownOnSignal returns a context that ends at the first SIGINT or
// SIGTERM, which starts serve's graceful shutdown (initiators asked to log
// out, sessions drained, volumes flushed, exit 0). A second signal exits at
// once with status 128 + the signal's number (130 for SIGINT, 143 for
// SIGTERM), the status a shell reports for a process that signal killed:
// the shutdown was abandoned, so it is not reported as a clean stop.
//
// Exiting there is safe for what halun keeps: a write was acknowledged only
// once it was as durable as its volume's cache mode promises (write-through
// on stable storage; write-back in the kernel's page cache, which outlives
// the process), and the files halun rewrites (serials, reservations,
// config) are replaced by rename, so they are old or new, never torn. The
// admin socket left behind is removed by the next start. Commands not yet
// acknowledged may or may not have reached the volume, as after a crash.
//
// stop releases the signals; call it when serving has ended.
func shutdownOnSignal(parent context.Context, log *slog.Logger) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			log.Info("shutting down: asking initiators to log out; a second signal exits at once", "signal", sig.String())
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			code := 128 + int(sig.(syscall.Signal))
			log.Warn("second signal: exiting at once without draining sessions or flushing volumes",
				"signal", sig.String(), "exit_status", code)
			exitNow(code)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
