package initiator

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutines counts this package's goroutines (those with a frame in
// package initiator other than the test functions).
func goroutines() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "halun/internal/initiator.(*Session)") {
			count++
		}
	}
	return count
}

// waitGoroutines fails t unless the session goroutines drop to want.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := goroutines()
		if got <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d session goroutines left, want %d:\n%s", got, want, buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
