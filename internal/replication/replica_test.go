package replication

import (
	"testing"
	"time"
)

// A replica's reader applies a request itself only while requests have
// been applying fast and no worker is applying one; otherwise a worker
// does, so a slow store keeps its parallelism.
func TestInlineApply(t *testing.T) {
	for _, c := range []struct {
		name     string
		applying int
		last     time.Duration
		want     bool
	}{
		{"fast", 0, 20 * time.Microsecond, true},
		{"first request", 0, 0, true},
		{"others being applied by workers", 3, 20 * time.Microsecond, false},
		{"slow store", 0, 2 * time.Millisecond, false},
		{"at the threshold", 0, inlineFast, false},
	} {
		if got := inlineApply(c.applying, c.last); got != c.want {
			t.Errorf("%s: inlineApply(%d, %v) = %v, want %v", c.name, c.applying, c.last, got, c.want)
		}
	}
}
