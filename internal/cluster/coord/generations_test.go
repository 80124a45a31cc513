package coord

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestClusterGenerationsRecord: a volume gets an identifier of its own at
// creation; a forced promotion records its epoch; the primary records a
// replica it refused as diverged (guarded by its epoch); an operator's
// discard replaces that mark until the replica is back in sync; a node
// whose copy is new leaves the in-sync set (and the primary's place),
// unless it is the only one in sync.
func TestClusterGenerationsRecord(t *testing.T) {
	c := newCluster(t, "a")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 20*time.Second)
	s1, err := cl.CreateVolume(ctx, "v1", []string{"a", "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := cl.CreateVolume(ctx, "v2", []string{"a", "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cl.CreateVolume(ctx, "v1", []string{"a", "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1.ID) != 32 || s1.ID == s2.ID || again.ID != s1.ID {
		t.Fatalf("volume ids: v1 %q, v2 %q, v1 again %q", s1.ID, s2.ID, again.ID)
	}

	keepAlive(t, cl, "a")
	if _, err := cl.Promote(ctx, "v1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	s, err := cl.ForcePromote(ctx, "v1", "b")
	if err != nil {
		t.Fatal(err)
	}
	if s.ForcedAt != 2 || s.Epoch != 2 {
		t.Fatalf("forced: %+v", s)
	}

	if err := cl.MarkDiverged(ctx, "v1", "b", 1, "a"); !errors.Is(err, ErrFenced) {
		t.Fatalf("diverged marked at a stale epoch: %v, want ErrFenced", err)
	}
	if err := cl.MarkDiverged(ctx, "v1", "b", 2, "a"); err != nil {
		t.Fatal(err)
	}
	s, _, _ = cl.Volume(ctx, "v1")
	if !slices.Equal(s.Diverged, []string{"a"}) {
		t.Fatalf("diverged: %v", s.Diverged)
	}

	if _, err := cl.Discard(ctx, "v1", "b"); err == nil {
		t.Fatal("the primary's copy discarded")
	}
	if _, err := cl.Discard(ctx, "v1", "w"); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("discard of a non-replica: %v, want ErrNotReplica", err)
	}
	s, err = cl.Discard(ctx, "v1", "a")
	if err != nil || !slices.Equal(s.Discard, []string{"a"}) || len(s.Diverged) != 0 {
		t.Fatalf("discard: %+v %v", s, err)
	}
	if err := cl.BackInSync(ctx, "v1", "b", 2, "a"); err != nil {
		t.Fatal(err)
	}
	s, _, _ = cl.Volume(ctx, "v1")
	if len(s.Discard) != 0 || !slices.Equal(s.InSync, []string{"a", "b"}) {
		t.Fatalf("back in sync: %+v", s)
	}

	s, err = cl.Relinquish(ctx, "v1", "b")
	if err != nil || s.Primary != "" || !slices.Equal(s.InSync, []string{"a"}) {
		t.Fatalf("the primary relinquishing: %+v %v", s, err)
	}
	if _, err := cl.Relinquish(ctx, "v1", "a"); !errors.Is(err, ErrLastInSync) {
		t.Fatalf("the last in-sync replica relinquishing: %v, want ErrLastInSync", err)
	}
	if _, err := cl.Relinquish(ctx, "v1", "b"); err != nil {
		t.Fatalf("relinquishing out of sync: %v", err)
	}
}
