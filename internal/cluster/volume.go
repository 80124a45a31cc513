package cluster

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/replication"
	"github.com/halun/halun/internal/scsi"
)

// controlEvery is how often a volume's controller looks at its record
// when no change arrives: the primary's lease expiring is not a change of
// the volume's key.
const controlEvery = 200 * time.Millisecond

// divergedRetry is how often a primary looks again at a replica whose
// copy it refused as diverged (an operator may have discarded or wiped
// it meanwhile).
const divergedRetry = 5 * time.Second

// volume is one replicated volume on this node.
type volume struct {
	n     *Node
	cfg   config.Volume
	local backend.Store
	store *volumeStore
	alua  *scsi.ALUAGroups

	gen *replication.GenFile // this copy's generation record
	// activity is where this node's writes as primary may be in flight
	// (opened at the first promotion).
	activity *replication.ActivityLog
	// peerActivity is this node's record, as a replica, of the
	// primary's activity log (opened with the generation record).
	peerActivity *replication.PeerActivity

	mu       sync.Mutex
	primary  *replication.Store // while this node is primary
	epoch    uint64
	bitmaps  map[string]*replication.Bitmap
	resyncs  map[string]bool // replicas being resynced
	lastALUA string
	lu       *scsi.LU // the logical unit the server built on the store
	// holdPromotion: this copy is new and the only one in sync; see
	// openGeneration.
	holdPromotion bool
	divergedWhy   map[string]string // the last refusal logged per replica

	// For the metrics endpoint: bytes copied to resyncing replicas, and
	// the promotions of this node.
	resynced   atomic.Uint64
	promotions atomic.Uint64
}

// setLU records the volume's logical unit (server.Parts.OnLU).
func (v *volume) setLU(lu *scsi.LU) {
	v.mu.Lock()
	v.lu = lu
	v.mu.Unlock()
}

func newVolume(n *Node, v *config.Volume, local backend.Store) *volume {
	cv := &volume{n: n, cfg: *v, local: local, store: &volumeStore{name: v.Name, local: local, deadline: n.leaseDeadline},
		alua: scsi.NewLUALUAGroups(), bitmaps: map[string]*replication.Bitmap{}, resyncs: map[string]bool{}, divergedWhy: map[string]string{}}
	cv.store.grow = cv.grow
	cv.setALUA("") // no primary known yet: transitioning
	return cv
}

// noClose keeps a replicated store from closing the local copy, which the
// replica side shares.
type noClose struct{ backend.Store }

func (noClose) Close() error { return nil }

// Resize grows the local copy underneath (replication.Store.Resize).
func (c noClose) Resize(size int64) error {
	r, ok := c.Store.(backend.Resizer)
	if !ok {
		return fmt.Errorf("the local copy (%T) cannot be resized", c.Store)
	}
	return r.Resize(size)
}

// setALUA sets the volume's target port groups: the primary's
// active/optimized, every other node's standby; all transitioning when
// there is no primary.
func (v *volume) setALUA(primary string) {
	v.mu.Lock()
	if gs, _ := v.alua.Get(); v.lastALUA == primary && len(gs) > 0 {
		v.mu.Unlock()
		return
	}
	v.lastALUA = primary
	v.mu.Unlock()
	var gs []scsi.TargetPortGroup
	for _, m := range v.n.cl.Nodes {
		st := scsi.ALUAStandby
		switch {
		case primary == "":
			st = scsi.ALUATransitioning
		case m.Name == primary:
			st = scsi.ALUAActiveOptimized
		}
		for _, tag := range m.PortalGroups {
			gs = append(gs, scsi.TargetPortGroup{ID: tag, State: st})
		}
	}
	v.alua.Set(gs, false)
}

// run follows the volume's record until the node closes or lease is
// lost.
func (v *volume) run(lease *coord.Lease) {
	ctx, cancel := context.WithCancel(v.n.ctx)
	defer cancel()
	watch := v.n.client.WatchVolume(ctx, v.cfg.Name)
	tick := time.NewTicker(controlEvery)
	defer tick.Stop()
	for {
		select {
		case <-v.n.ctx.Done():
			return
		case <-lease.Lost():
			// This node may be declared dead any moment: stop serving
			// before a successor can promote.
			v.demote("lease lost")
			v.setALUA("")
			return
		case <-watch:
		case <-tick.C:
		}
		v.control()
	}
}

// control acts on the volume's current record once.
func (v *volume) control() {
	self := v.n.self
	st, err := v.n.volumeState(v.cfg.Name, 2*time.Second)
	if err != nil {
		v.n.log.Debug("cluster: reading the volume record", "volume", v.cfg.Name, "err", err)
		return
	}
	v.mu.Lock()
	isPrimary, epoch := v.primary != nil, v.epoch
	v.mu.Unlock()
	switch {
	case isPrimary && (st.Primary != self || st.Epoch != epoch):
		v.demote(fmt.Sprintf("the record names %q at epoch %d", st.Primary, st.Epoch))
	case isPrimary:
		if target := v.switchoverTarget(); target != "" && target != self && st.IsInSync(target) {
			v.handOver(target)
			return
		}
		v.resyncOutOfSync(st)
		v.setALUA(self)
		return
	}
	if st.IsInSync(self) && (st.Primary == "" || st.Primary == self || v.primaryGone(st)) && v.mayPromote(st) {
		prev := st.Primary
		if prev != "" && prev != self {
			if err := v.n.fence(v.cfg.Name, prev); err != nil {
				v.n.log.Error("cluster: fence hook refused the promotion", "volume", v.cfg.Name, "lost_primary", prev, "err", err)
				v.setALUA("")
				return
			}
		}
		next, err := v.n.client.Promote(v.n.ctx, v.cfg.Name, self)
		if err == nil {
			v.promotions.Add(1)
			if err := v.becomePrimary(next); err != nil {
				v.n.log.Error("cluster: promoted but could not serve", "volume", v.cfg.Name, "err", err)
				v.demote(err.Error())
			}
			return
		}
		if !errors.Is(err, coord.ErrPrimaryAlive) && !errors.Is(err, coord.ErrConflict) {
			v.n.log.Debug("cluster: promotion refused", "volume", v.cfg.Name, "err", err)
		}
	}
	if st.Primary != "" && st.Primary != self && st.IsInSync(self) {
		v.forgetActivity()
	}
	v.setALUA(st.Primary)
}

// forgetActivity empties what this node's last run as primary left in
// its activity log once its copy is in sync under another primary: the
// resync that brought it back overwrote whatever those writes in flight
// left here, so its next run as primary has nothing to resync for them.
func (v *volume) forgetActivity() {
	a, err := v.activityLog()
	if err == nil && len(a.Leftover()) > 0 {
		err = a.Clear()
	}
	if err != nil {
		v.n.log.Warn("cluster: emptying the activity log", "volume", v.cfg.Name, "err", err)
	}
}

// primaryGone reports whether the record's primary looks dead (its node
// key is gone). Promote decides for sure in its transaction; this only
// spares transactions while the primary is alive.
func (v *volume) primaryGone(st coord.VolumeState) bool {
	ctx, cancel := context.WithTimeout(v.n.ctx, time.Second)
	defer cancel()
	alive, err := v.n.client.Alive(ctx, st.Primary)
	return err == nil && !alive
}

// becomePrimary opens the replicated store at the record's epoch and
// serves. Each replica's copy is judged by its generation against this
// node's lineage (replication.Decide): the previous primary's copy, for
// one, was last written at an epoch before this node's run, and may hold
// writes it took but never acknowledged, so it is resynced in full.
func (v *volume) becomePrimary(st coord.VolumeState) error {
	self := v.n.self
	if err := v.n.rep.Raise(v.cfg.Name, st.Epoch); err != nil {
		return err
	}
	since, err := v.gen.BecamePrimary(st.Epoch)
	if err != nil {
		return err
	}
	var replicas []replication.ReplicaAddr
	var out []string
	for _, r := range v.cfg.Replicas {
		switch {
		case r == self:
		case st.IsInSync(r):
			replicas = append(replicas, v.n.dialer(r))
		default:
			out = append(out, r)
		}
	}
	for _, r := range v.cfg.Replicas {
		if r == self {
			continue
		}
		bm, err := v.bitmap(r)
		if err != nil {
			return err
		}
		// The volume may have grown since the bitmap was opened (this
		// node was a replica then).
		if err := bm.Grow(v.local.Size(), !st.IsInSync(r)); err != nil {
			return err
		}
	}
	activity, err := v.activityLog()
	if err != nil {
		return err
	}
	activity.Grow(v.local.Size())
	// Where the previous primary's writes may have been in flight, as
	// this node recorded it while a replica (not this node's own run's:
	// RecoverActivity covers that).
	var unstable []int64
	if pe, offs := v.peerActivity.Get(); pe < since {
		unstable = offs
	}
	ctx, cancel := context.WithTimeout(v.n.ctx, 5*time.Second)
	defer cancel()
	s, err := replication.Open(ctx, replication.Options{
		Volume: v.cfg.Name, Epoch: st.Epoch, Local: noClose{v.local}, Replicas: replicas, OutOfSyncAtStart: out,
		Timeout: v.n.cl.ReplicaTimeout, Lineage: lineage(st, since), Activity: activity, Unstable: unstable,
		OutOfSync: v.n.client.OutOfSyncFunc(v.cfg.Name, self, st.Epoch, 2*v.n.cl.ReplicaTimeout),
		Dirty: func(r string, off, n int64) error {
			bm, err := v.bitmap(r)
			if err != nil {
				return err
			}
			return bm.Mark(off, n)
		},
		Grow: func(r string, size int64, dirty bool) error {
			bm, err := v.bitmap(r)
			if err != nil {
				return err
			}
			return bm.Grow(size, dirty)
		},
		Log: v.n.log,
	})
	if err != nil {
		return err
	}
	// A previous run as primary here that did not stop cleanly may have
	// left the replicas differing where its writes were in flight: they
	// are resynced from this copy before they count as in sync again.
	if n, err := s.RecoverActivity(); err != nil {
		s.Close()
		return err
	} else if n > 0 {
		v.n.log.Warn("cluster: resyncing the extents the last run as primary left in flight", "volume", v.cfg.Name, "extents", n)
	}
	// The previous primary's extents in flight are marked for every
	// replica that was in sync with it (Open): forget them, so a later
	// run here does not resync them again.
	if len(unstable) > 0 {
		v.n.log.Warn("cluster: the previous primary was lost with writes in flight: resyncing those extents to the other in-sync replicas",
			"volume", v.cfg.Name, "extents", len(unstable))
	}
	if err := v.peerActivity.Set(st.Epoch, nil); err != nil {
		v.n.log.Warn("cluster: forgetting the previous primary's activity log", "volume", v.cfg.Name, "err", err)
	}
	v.mu.Lock()
	v.primary, v.epoch = s, st.Epoch
	lu := v.lu
	v.mu.Unlock()
	// The reservations the previous primary recorded, before the first
	// command is served.
	if lu != nil {
		if err := lu.ReloadPR(); err != nil {
			v.mu.Lock()
			v.primary = nil
			v.mu.Unlock()
			s.Close()
			return err
		}
		// The volume may have grown while this node was a replica and
		// its logical unit did not follow.
		v.fitLU(lu)
	}
	v.store.set(s)
	v.setALUA(self)
	v.n.log.Info("cluster: primary", "volume", v.cfg.Name, "epoch", st.Epoch, "in_sync", s.InSync())
	return nil
}

// stop ends this node's run as primary cleanly, for a shutdown: it stops
// serving, waits for the writes in flight and syncs them everywhere
// (Store.Quiesce), so its next run resyncs nothing it left.
func (v *volume) stop() {
	v.store.set(nil)
	v.mu.Lock()
	s := v.primary
	v.primary = nil
	v.mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*v.n.cl.ReplicaTimeout)
	defer cancel()
	if err := s.Quiesce(ctx); err != nil {
		v.n.log.Warn("cluster: stopping as primary without a clean end; the next run resyncs what was in flight", "volume", v.cfg.Name, "err", err)
	}
	s.Close()
	v.n.log.Info("cluster: no longer primary", "volume", v.cfg.Name, "why", "node closing")
}

// activityLog opens the volume's activity log on this node once.
func (v *volume) activityLog() (*replication.ActivityLog, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.activity == nil {
		a, err := replication.OpenActivityLog(filepath.Join(v.n.cfg.Node.DataDir, "replication", v.cfg.Name+".activity"), v.local.Size())
		if err != nil {
			return nil, err
		}
		v.activity = a
	}
	return v.activity, nil
}

// demote stops serving the volume from this node at once.
func (v *volume) demote(why string) {
	v.store.set(nil)
	v.mu.Lock()
	s := v.primary
	v.primary = nil
	v.mu.Unlock()
	if s != nil {
		s.Close()
		v.n.log.Warn("cluster: no longer primary", "volume", v.cfg.Name, "why", why)
	}
}

// bitmap returns the dirty bitmap towards replica r.
func (v *volume) bitmap(r string) (*replication.Bitmap, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if bm := v.bitmaps[r]; bm != nil {
		return bm, nil
	}
	bm, err := replication.OpenBitmap(filepath.Join(v.n.cfg.Node.DataDir, "replication", v.cfg.Name+"."+r+".bitmap"), v.local.Size())
	if err != nil {
		return nil, err
	}
	v.bitmaps[r] = bm
	return bm, nil
}

// resyncOutOfSync starts a background resync of every replica out of
// sync that is not being resynced.
func (v *volume) resyncOutOfSync(st coord.VolumeState) {
	for _, r := range v.cfg.Replicas {
		if r == v.n.self || st.IsInSync(r) {
			continue
		}
		v.mu.Lock()
		s, epoch, busy := v.primary, v.epoch, v.resyncs[r]
		if s == nil || busy {
			v.mu.Unlock()
			continue
		}
		v.resyncs[r] = true
		v.mu.Unlock()
		if slices.Contains(s.InSync(), r) {
			// Its node left the in-sync set itself (a new copy): stop
			// writing to it as if it were in sync.
			if err := s.Drop(r, errors.New("out of sync in the volume's record")); err != nil {
				v.n.log.Error("cluster: taking a replica out of sync", "volume", v.cfg.Name, "replica", r, "err", err)
			}
		}
		bm, err := v.bitmap(r)
		if err != nil {
			v.n.log.Error("cluster: resync bitmap", "volume", v.cfg.Name, "replica", r, "err", err)
			v.mu.Lock()
			delete(v.resyncs, r)
			v.mu.Unlock()
			continue
		}
		v.n.wg.Add(1)
		go func() {
			defer v.n.wg.Done()
			defer func() {
				v.mu.Lock()
				delete(v.resyncs, r)
				v.mu.Unlock()
			}()
			progress := &resyncProgress{v: v, replica: r}
			copied, err := s.Resync(v.n.ctx, replication.ResyncOptions{Replica: v.n.dialer(r), Bitmap: bm, Discard: st.IsDiscarded(r),
				Rate: v.n.cl.ResyncRate, Progress: progress.report,
				BackInSync: func(name string) error {
					ctx, cancel := context.WithTimeout(v.n.ctx, 5*time.Second)
					defer cancel()
					return v.n.client.BackInSync(ctx, v.cfg.Name, v.n.self, epoch, name)
				}})
			progress.end(copied, err)
			v.resynced.Add(uint64(max(copied, 0)))
			if err != nil {
				// Try again later, not in a tight loop; a refused copy
				// changes only by an operator's hand.
				wait := time.Second
				if de := (*replication.DivergedError)(nil); errors.As(err, &de) {
					v.diverged(epoch, r, de)
					wait = divergedRetry
				} else {
					v.n.log.Debug("cluster: resync not done", "volume", v.cfg.Name, "replica", r, "copied", copied, "err", err)
				}
				select {
				case <-v.n.ctx.Done():
				case <-time.After(wait):
				}
				return
			}
			v.mu.Lock()
			delete(v.divergedWhy, r)
			v.mu.Unlock()
			v.n.log.Info("cluster: replica back in sync", "volume", v.cfg.Name, "replica", r, "copied", copied)
		}()
	}
}

// switchoverTarget is the node a planned switchover asks this volume's
// primary to hand it to, "" if none.
func (v *volume) switchoverTarget() string {
	ctx, cancel := context.WithTimeout(v.n.ctx, time.Second)
	defer cancel()
	t, err := v.n.client.Switchover(ctx, v.cfg.Name)
	if err != nil {
		return ""
	}
	return t
}

// handOver moves the volume's primary to target (a planned switchover):
// new commands are turned away (a multipath initiator retries them),
// every write taken so far is synced on all replicas, and one
// transaction names target primary; it then promotes itself as usual.
func (v *volume) handOver(target string) {
	v.mu.Lock()
	s, epoch := v.primary, v.epoch
	v.mu.Unlock()
	if s == nil {
		return
	}
	v.store.set(nil)
	ctx, cancel := context.WithTimeout(v.n.ctx, 2*v.n.cl.ReplicaTimeout)
	defer cancel()
	err := s.Quiesce(ctx)
	if err == nil {
		_, err = v.n.client.HandOver(ctx, v.cfg.Name, v.n.self, epoch, target)
	}
	if err != nil {
		v.n.log.Error("cluster: switchover failed; serving again", "volume", v.cfg.Name, "target", target, "err", err)
		v.mu.Lock()
		still := v.primary == s
		v.mu.Unlock()
		if still {
			v.store.set(s)
		}
		return
	}
	v.demote("handed over to " + target)
	v.setALUA(target)
	v.n.log.Info("cluster: volume handed over", "volume", v.cfg.Name, "to", target, "epoch", epoch+1)
}
