package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // profiling handlers for HALUN_PPROF
	"os"
)

// With HALUN_PPROF=127.0.0.1:6060 in the environment, the daemon serves Go's
// pprof handlers there, for profiling the hot path under load
// (go tool pprof http://127.0.0.1:6060/debug/pprof/profile). Loopback only
// is the operator's responsibility; it is off by default.
func init() {
	addr := os.Getenv("HALUN_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener failed", "addr", addr, "err", err)
		}
	}()
}
