package replication

import "testing"

// TestDecide is the decision table: which copy of a volume gets a bitmap
// resync, a full one, or none (refused), and which in-sync replica stays
// in sync. The primary is at epoch 7, primary since 5 (its bitmaps hold
// every write from epoch 5 on), after a forced promotion at epoch 3.
func TestDecide(t *testing.T) {
	l := Lineage{VolumeID: "vid", Epoch: 7, PrimarySince: 5, ForcedAt: 3}
	gen := func(epoch uint64) Generation { return Generation{VolumeID: "vid", DataID: "d", Epoch: epoch} }
	for _, c := range []struct {
		name    string
		l       Lineage
		g       Generation
		inSync  bool
		discard bool
		want    Decision
	}{
		{"out at this epoch: bitmap", l, gen(7), false, false, DecideBitmap},
		{"out since the start of this primary's run: bitmap", l, gen(5), false, false, DecideBitmap},
		{"written under an earlier primary, not as primary: full", l, gen(4), false, false, DecideFull},
		{"the previous primary returning, with its activity log: bitmap", l, Generation{VolumeID: "vid", Epoch: 4, Primary: true, Extents: []int64{0}}, false, false, DecideBitmap},
		{"the previous primary returning, nothing in flight: bitmap", l, Generation{VolumeID: "vid", Epoch: 4, Primary: true}, false, false, DecideBitmap},
		{"a primary before the previous one: full", l, Generation{VolumeID: "vid", Epoch: 3, Primary: true, Extents: []int64{0}}, false, false, DecideFull},
		{"wiped or new copy: full", l, gen(0), false, false, DecideFull},
		{"new copy of unknown volume: full", l, Generation{}, false, false, DecideFull},
		{"written before the forced promotion: refused", l, gen(2), false, false, DecideRefuse},
		{"written before the forced promotion, discarded: full", l, gen(2), false, true, DecideFull},
		{"another volume's copy: refused", l, Generation{VolumeID: "other", Epoch: 6}, false, false, DecideRefuse},
		{"another volume's copy, discarded: full", l, Generation{VolumeID: "other", Epoch: 6}, false, true, DecideFull},
		{"written above the primary's epoch: refused", l, gen(8), false, false, DecideRefuse},
		{"copy without a volume id: judged by its epoch", l, Generation{Epoch: 6}, false, false, DecideBitmap},
		{"discarded though the bitmap would do: full", l, gen(7), false, true, DecideFull},
		{"no forced promotion, oldest epoch: full", Lineage{VolumeID: "vid", Epoch: 7, PrimarySince: 7}, gen(1), false, false, DecideFull},

		{"in sync, written under the previous primary: stays", l, gen(4), true, false, DecideBitmap},
		{"in sync, never written: stays", l, gen(0), true, false, DecideBitmap},
		{"in sync, discard ignored: stays", l, gen(6), true, true, DecideBitmap},
		{"in sync, written before the forced promotion: out, refused", l, gen(2), true, false, DecideRefuse},
		{"in sync, another volume's copy: out, refused", l, Generation{VolumeID: "other", Epoch: 7}, true, false, DecideRefuse},
	} {
		t.Run(c.name, func(t *testing.T) {
			lin := c.l
			lin.Discard = c.discard
			got, why := Decide(lin, c.g, c.inSync)
			if got != c.want {
				t.Errorf("Decide(%v, %v, in sync %v) = %v (%s), want %v", lin, c.g, c.inSync, got, why, c.want)
			}
			if why == "" {
				t.Error("no reason given")
			}
		})
	}
}
