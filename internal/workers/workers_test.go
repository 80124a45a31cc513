package workers

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// A task that follows a finished one runs on the same worker, and the
// worker ends once it has been idle.
func TestPoolReuseAndEnd(t *testing.T) {
	w := &Pool{ch: make(chan func()), idle: 200 * time.Millisecond}
	base := runtime.NumGoroutine()
	ran := 0
	for i := 0; i < 50; i++ {
		done := make(chan struct{})
		w.Run(func() { ran++; close(done) })
		<-done
		// Let the worker go back to waiting for the next task.
		time.Sleep(time.Millisecond)
		if n := runtime.NumGoroutine(); n > base+1 {
			t.Fatalf("%d goroutines after %d tasks one after another, want at most %d: a new worker per task", n, i+1, base+1)
		}
	}
	if ran != 50 {
		t.Errorf("%d tasks ran, want 50", ran)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base })
	// Busy workers do not hold up a new task: 8 that block together run
	// on 8 workers.
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(8)
	for i := 0; i < 8; i++ {
		w.Run(func() { started.Done(); <-release })
	}
	started.Wait()
	close(release)
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 5 s (%d goroutines)", runtime.NumGoroutine())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
