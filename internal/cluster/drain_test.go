package cluster

import (
	"testing"

	"github.com/halun/halun/internal/cluster/coord"
)

func TestDrainTarget(t *testing.T) {
	st := coord.VolumeState{Primary: "a", InSync: []string{"a", "b", "c"}, Replicas: []string{"a", "b", "c"}}
	for _, c := range []struct {
		name  string
		st    coord.VolumeState
		alive []string
		load  map[string]int
		want  string
	}{
		{"fewest primaries", st, []string{"a", "b", "c"}, map[string]int{"a": 3, "b": 2, "c": 1}, "c"},
		{"tie: in-sync order", st, []string{"a", "b", "c"}, map[string]int{"a": 3, "b": 1, "c": 1}, "b"},
		{"no lease", st, []string{"a", "b"}, map[string]int{"a": 3, "b": 2}, "b"},
		{"out of sync", coord.VolumeState{Primary: "a", InSync: []string{"a", "c"}}, []string{"a", "b", "c"}, map[string]int{"c": 5}, "c"},
		{"none", coord.VolumeState{Primary: "a", InSync: []string{"a"}}, []string{"a", "b"}, nil, ""},
		{"in sync but dead", coord.VolumeState{Primary: "a", InSync: []string{"a", "b"}}, []string{"a"}, nil, ""},
	} {
		if got := drainTarget(c.st, "a", c.alive, c.load); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
