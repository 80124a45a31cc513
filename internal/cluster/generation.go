package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/replication"
)

// A volume's copy on this node carries a generation record
// (<data_dir>/replication/<volume>.gen.json, see replication.GenFile); a
// primary judges each replica's copy by it (replication.Decide): bitmap
// resync, full resync, or refusal of a copy that may hold acknowledged
// writes the primary lacks, until an operator discards it.

// openGeneration opens the generation record of the volume's copy at
// start, st being the volume's record and fresh whether the image was
// created empty now. A copy found new (wiped, replaced, or its record
// gone) once the volume has had a primary holds none of what the record
// may say it has: the node leaves the in-sync set, and is resynced in
// full. If it is the only replica in sync, it stays, but does not
// promote itself until an operator chooses (promote --force).
func (v *volume) openGeneration(ctx context.Context, st coord.VolumeState, fresh bool) error {
	img, err := imageOf(&v.cfg)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	path := filepath.Join(v.n.cfg.Node.DataDir, "replication", v.cfg.Name+".gen.json")
	g, how, err := replication.OpenGenFile(path, st.ID, img, fresh)
	if err != nil {
		return fmt.Errorf("cluster: volume %s: %w", v.cfg.Name, err)
	}
	v.gen = g
	// This node's record of its primary's activity log, reported in its
	// hello replies: opened (or created) before the replica side serves.
	pa, err := replication.OpenPeerActivity(filepath.Join(v.n.cfg.Node.DataDir, "replication", v.cfg.Name+".peer-activity.json"))
	if err != nil {
		return fmt.Errorf("cluster: volume %s: %w", v.cfg.Name, err)
	}
	v.peerActivity = pa
	if how == replication.GenKept || st.Epoch == 0 {
		return nil
	}
	v.n.log.Warn("cluster: this node's copy of the volume is new (image created now, replaced, or its generation record gone): it is resynced in full",
		"volume", v.cfg.Name, "generation", g.Generation().String())
	if !st.IsInSync(v.n.self) {
		return nil
	}
	_, err = v.n.client.Relinquish(ctx, v.cfg.Name, v.n.self)
	if errors.Is(err, coord.ErrLastInSync) {
		v.n.log.Error("cluster: the only in-sync copy of the volume is new: not promoting it; halun cluster promote --force chooses which copy serves",
			"volume", v.cfg.Name, "err", err)
		v.holdPromotion = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: volume %s: %w", v.cfg.Name, err)
	}
	return nil
}

// mayPromote says whether this node may promote itself under record st:
// not while its new copy is the only one in sync, unless an operator
// forced it primary or it has been resynced since (from a node forced
// primary: its copy then holds writes).
func (v *volume) mayPromote(st coord.VolumeState) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.holdPromotion {
		return true
	}
	if (st.Primary == v.n.self && st.ForcedAt == st.Epoch) || v.gen.Generation().Epoch > 0 {
		v.holdPromotion = false
		return true
	}
	return false
}

// lineage is what this node, primary at the record st's epoch since the
// epoch since, knows of the volume's history.
func lineage(st coord.VolumeState, since uint64) replication.Lineage {
	return replication.Lineage{VolumeID: st.ID, Epoch: st.Epoch, PrimarySince: since, ForcedAt: st.ForcedAt}
}

// diverged records that the primary at epoch refused replica r's copy:
// in the volume's record (shown by halun cluster status) and, once per
// reason, in an Error log naming both generations.
func (v *volume) diverged(epoch uint64, r string, de *replication.DivergedError) {
	v.mu.Lock()
	logged := v.divergedWhy[r] == de.Error()
	v.divergedWhy[r] = de.Error()
	v.mu.Unlock()
	if !logged {
		v.n.log.Error("cluster: replica diverged: its copy is not resynced until an operator discards it (halun cluster discard VOLUME NODE)",
			"volume", v.cfg.Name, "replica", r, "replica_generation", de.Copy.String(), "primary_generation", de.Primary.String(), "why", de.Why)
	}
	ctx, cancel := context.WithTimeout(v.n.ctx, 5*time.Second)
	defer cancel()
	if err := v.n.client.MarkDiverged(ctx, v.cfg.Name, v.n.self, epoch, r); err != nil {
		v.n.log.Warn("cluster: recording a diverged replica", "volume", v.cfg.Name, "replica", r, "err", err)
	}
}
