package cluster

import "testing"

// Without a witness, etcd's leadership leaves a node that is a volume's
// primary for the live storage node primary of the fewest volumes, so a
// lost primary does not cost an election on top of its lease.
func TestLeaderPlace(t *testing.T) {
	nodes := []string{"a", "b", "c"}
	all := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name      string
		self      string
		alive     []string
		primaryOf map[string]int
		want      string
	}{
		{"primary of the only volume: to the first other node", "a", all, map[string]int{"a": 1}, "b"},
		{"to the node primary of nothing", "a", all, map[string]int{"a": 1, "b": 1}, "c"},
		{"not to a dead node", "a", []string{"a", "c"}, map[string]int{"a": 1}, "c"},
		{"nowhere better: stays", "a", all, map[string]int{"a": 1, "b": 1, "c": 1}, ""},
		{"the fewest primaries", "a", all, map[string]int{"a": 3, "b": 2, "c": 1}, "c"},
		{"alone alive: stays", "a", []string{"a"}, map[string]int{"a": 1}, ""},
	} {
		if got := leaderPlace(tc.self, nodes, tc.alive, tc.primaryOf); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
