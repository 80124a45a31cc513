package replication

import (
	"testing"
	"time"
)

// A replica's reader applies a request itself only when it is alone and
// requests have been applying fast; otherwise a worker does, so a slow
// store or a burst keeps its parallelism.
func TestInlineApply(t *testing.T) {
	for _, c := range []struct {
		name               string
		buffered, applying int
		last               time.Duration
		want               bool
	}{
		{"alone and fast", 0, 0, 20 * time.Microsecond, true},
		{"first request", 0, 0, 0, true},
		{"another buffered behind it", 40, 0, 20 * time.Microsecond, false},
		{"others being applied", 0, 3, 20 * time.Microsecond, false},
		{"slow store", 0, 0, 2 * time.Millisecond, false},
		{"at the threshold", 0, 0, inlineFast, false},
	} {
		if got := inlineApply(c.buffered, c.applying, c.last); got != c.want {
			t.Errorf("%s: inlineApply(%d, %d, %v) = %v, want %v", c.name, c.buffered, c.applying, c.last, got, c.want)
		}
	}
}
