package cluster_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
)

// TestResize_GrownOnThePrimarySurvivesFailover: a replicated volume is
// grown as an operator does — its size changed in every node's config,
// the primary first. The other node refuses to go first, naming the
// primary; once the primary has grown every copy it accepts. A
// multipath initiator sees the new capacity, writes past the old end,
// and after the primary crashes reads it back through the other node,
// which reports the new capacity too.
func TestResize_GrownOnThePrimarySurvivesFailover(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{})
	const oldSize, newSize = 8 << 20, 16 << 20
	if err := mp.Write(ctx, 0, bytes.Repeat([]byte{1}, 4096), 512); err != nil {
		t.Fatal(err)
	}
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary")
	}
	waitStatus(t, ctx, other, "both nodes in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	grow := func(n *testNode) error {
		return reconfigure(t, n, "resize volume v", func(d *config.Document) error { return d.SetVolumeSize("v", "16MiB") })
	}
	err := grow(other)
	if err == nil || !strings.Contains(err.Error(), "grow it on its primary, node "+primary.name) {
		t.Fatalf("growing on the node that is not primary first: %v, want a refusal naming the primary %s", err, primary.name)
	}
	if err := grow(primary); err != nil {
		t.Fatalf("growing on the primary: %v", err)
	}
	if err := grow(other); err != nil {
		t.Fatalf("growing on the other node after the primary: %v", err)
	}
	capacity := func(when string) {
		t.Helper()
		var blocks uint64
		if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
			var err error
			blocks, _, err = s.ReadCapacity16(ctx, lun)
			return err
		}); err != nil {
			t.Fatalf("READ CAPACITY(16) %s: %v", when, err)
		}
		if blocks*512 != newSize {
			t.Fatalf("READ CAPACITY(16) %s: %d blocks, want %d", when, blocks, newSize/512)
		}
	}
	capacity("after the resize")
	past := map[uint64]byte{oldSize / 512: 2, newSize/512 - 8: 3}
	for lba, fill := range past {
		if err := mp.Write(ctx, lba, bytes.Repeat([]byte{fill}, 4096), 512); err != nil {
			t.Fatalf("write past the old end at LBA %d: %v", lba, err)
		}
	}
	st := waitStatus(t, ctx, other, "both nodes in sync after the resize", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	if st.Primary != primary.name {
		t.Fatalf("primary %s after the resize, want %s", st.Primary, primary.name)
	}

	crash(primary)
	capacity("after the failover")
	if !other.cl.Primary("v") {
		t.Fatalf("%s is not primary after the failover", other.name)
	}
	past[0] = 1
	for lba, fill := range past {
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{fill}, 4096)) {
			t.Fatalf("write at LBA %d lost in the failover (%v)", lba, err)
		}
	}
}
