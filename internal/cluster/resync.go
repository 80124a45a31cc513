package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/halun/halun/internal/cluster/coord"
)

// How often a resync's progress is recorded in etcd and logged, at most;
// its start is always recorded and logged, and its end logged.
const (
	resyncRecordEvery = 500 * time.Millisecond
	resyncLogEvery    = 5 * time.Second
)

// resyncProgress follows one replica's resync for its primary: it is the
// resync's Progress callback, records the progress in etcd (attached to
// the node's lease, so it vanishes with the primary) for `halun cluster
// status`, and logs it.
type resyncProgress struct {
	v       *volume
	replica string

	started    time.Time // zero until the replica is connected
	lastRecord time.Time
	lastLog    time.Time
	last       coord.ResyncProgress
}

// report is told the bytes copied and still to copy (see
// replication.ResyncOptions.Progress).
func (p *resyncProgress) report(copied, remaining int64) {
	now := time.Now()
	first := p.started.IsZero()
	if first {
		p.started = now
	}
	p.last = progressAt(p.started, now, copied, remaining)
	log := p.v.n.log.With("volume", p.v.cfg.Name, "replica", p.replica)
	if first {
		log.Info("cluster: resync started", "bytes", remaining)
		p.lastLog = now
	} else if now.Sub(p.lastLog) >= resyncLogEvery {
		log.Info("cluster: resync progress", "percent", percentOf(p.last), "mib_per_sec", mibPerSec(p.last.BytesPerSec),
			"eta", etaOf(p.last))
		p.lastLog = now
	}
	if first || now.Sub(p.lastRecord) >= resyncRecordEvery {
		p.lastRecord = now
		ctx, cancel := context.WithTimeout(p.v.n.ctx, time.Second)
		defer cancel()
		if lease := p.v.n.lease.Load(); lease != nil {
			if err := p.v.n.client.PutResync(ctx, lease, p.v.cfg.Name, p.replica, p.last); err != nil {
				log.Debug("cluster: recording resync progress", "err", err)
			}
		}
	}
}

// end deletes the progress record and logs how the resync ended; copied
// and err are what it returned. A resync that never connected has
// nothing recorded and logs nothing here.
func (p *resyncProgress) end(copied int64, err error) {
	if p.started.IsZero() {
		return
	}
	log := p.v.n.log.With("volume", p.v.cfg.Name, "replica", p.replica)
	// The node's context may be ending: delete with a context of its
	// own (the lease's end would remove the record anyway).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if derr := p.v.n.client.DeleteResync(ctx, p.v.cfg.Name, p.replica); derr != nil {
		log.Debug("cluster: deleting the resync progress record", "err", derr)
	}
	took := time.Since(p.started)
	rate := 0.0
	if took > 0 {
		rate = float64(copied) / took.Seconds()
	}
	switch {
	case err == nil:
		log.Info("cluster: resync done", "copied", copied, "took", took.Round(time.Millisecond), "mib_per_sec", mibPerSec(rate))
	case errors.Is(err, context.Canceled):
		log.Info("cluster: resync stopped: the node is closing", "copied", copied, "remaining", p.last.RemainingBytes)
	default:
		log.Warn("cluster: resync stopped; it resumes from where it was", "copied", copied, "remaining", p.last.RemainingBytes, "err", err)
	}
}

// progressAt is a resync's progress at now, started at started, with
// copied bytes copied and remaining to copy. The rate is the average
// since the start; the ETA is -1 while no rate is known.
func progressAt(started, now time.Time, copied, remaining int64) coord.ResyncProgress {
	p := coord.ResyncProgress{TotalBytes: copied + remaining, CopiedBytes: copied, RemainingBytes: remaining,
		Started: started.UTC(), Updated: now.UTC(), ETASeconds: -1}
	if d := now.Sub(started).Seconds(); d > 0 && copied > 0 {
		p.BytesPerSec = float64(copied) / d
		p.ETASeconds = float64(remaining) / p.BytesPerSec
	}
	return p
}

// percentOf is the whole percent copied, 100 only when nothing is left.
func percentOf(p coord.ResyncProgress) int {
	if p.TotalBytes <= 0 || p.RemainingBytes <= 0 {
		return 100
	}
	return int(p.CopiedBytes * 100 / p.TotalBytes)
}

// mibPerSec renders a rate in MiB/s, one decimal below 10.
func mibPerSec(bytesPerSec float64) string {
	m := bytesPerSec / (1 << 20)
	if m < 10 {
		return fmt.Sprintf("%.1f", m)
	}
	return fmt.Sprintf("%.0f", m)
}

// etaOf renders the time left in whole seconds, "-" when unknown.
func etaOf(p coord.ResyncProgress) string {
	if p.ETASeconds < 0 {
		return "-"
	}
	return (time.Duration(p.ETASeconds * float64(time.Second))).Round(time.Second).String()
}
