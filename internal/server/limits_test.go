package server

import (
	"reflect"
	"testing"

	"github.com/halun/halun/internal/iscsi"
)

// TestReloadLimits checks that a reload applies changed node limits live
// and reports each change, and that an unchanged reload reports none.
func TestReloadLimits(t *testing.T) {
	n, path := buildFrom(t, baseConfig)
	want := iscsi.Limits{MaxConnections: 4096, MaxConnectionsPerAddress: 256, MaxBufferedData: 1 << 30,
		MaxSessionBufferedData: 128 << 20}
	if got := n.Server.Limits(); got != want {
		t.Fatalf("limits at start %+v, want the defaults %+v", got, want)
	}
	changed := "node:\n  max_connections: 100\n  max_connections_per_address: 10\n  max_buffered_data: 256MiB\n" +
		"  max_session_buffered_data: 64MiB\n" + baseConfig
	changes, err := reloadWith(t, n, path, changed)
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := []string{
		"node.max_connections changed from 4096 to 100",
		"node.max_connections_per_address changed from 256 to 10",
		"node.max_buffered_data changed from 1GiB to 256MiB",
		"node.max_session_buffered_data changed from 128MiB to 64MiB",
	}
	if !reflect.DeepEqual(changes, wantChanges) {
		t.Errorf("changes %q, want %q", changes, wantChanges)
	}
	want = iscsi.Limits{MaxConnections: 100, MaxConnectionsPerAddress: 10, MaxBufferedData: 256 << 20,
		MaxSessionBufferedData: 64 << 20}
	if got := n.Server.Limits(); got != want {
		t.Errorf("limits after reload %+v, want %+v", got, want)
	}
	if got := n.Server.BufferStats().Limit; got != 256<<20 {
		t.Errorf("buffer budget %d after reload, want 256 MiB", got)
	}
	if changes, err := reloadWith(t, n, path, changed+"# comment\n"); err != nil || len(changes) != 0 {
		t.Errorf("unchanged reload: changes %q, err %v", changes, err)
	}
}
