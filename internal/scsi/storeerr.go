package scsi

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/halun/halun/internal/backend"
)

// storeSense is the one table from a store's failure to the sense data the
// command that met it ends with. The first row whose kind the error wraps
// applies; the last row, of no kind, applies to any other error.
var storeSense = []struct {
	kind        error
	key         uint8
	read, write uint16 // ASC/ASCQ by the direction of the failed transfer
	lba         bool   // the first LBA of the transfer goes in INFORMATION
}{
	// A volume that cannot be served on this node now, but soon may (a
	// replica leaving the in-sync set, a promotion in flight, a peer
	// call that timed out): NOT READY, ASYMMETRIC ACCESS STATE
	// TRANSITION, which initiators retry (SPC-4 5.15.2.5).
	{backend.ErrUnavailable, keyNotReady, ascALUATransitioning, ascALUATransitioning, false},
	{context.DeadlineExceeded, keyNotReady, ascALUATransitioning, ascALUATransitioning, false},
	// A volume this node may no longer serve (a higher epoch exists, or
	// its lease ran out): NOT READY, TARGET PORT IN STANDBY STATE, so a
	// multipath initiator moves to the path through the new primary.
	// Never MEDIUM ERROR: the medium is fine, and the data is elsewhere.
	{backend.ErrFenced, keyNotReady, ascALUAStandby, ascALUAStandby, false},
	// SBC-3 4.7.3.6: a thin volume whose backing storage is exhausted
	// becomes write protected until space is available again.
	{backend.ErrNoSpace, keyDataProtect, ascSpaceAllocFailedWP, ascSpaceAllocFailedWP, false},
	// SBC-3 4.15, SPC-4 4.5.6: the medium failed the transfer.
	{backend.ErrIO, keyMediumError, ascUnrecoveredReadError, ascWriteError, true},
	{nil, keyMediumError, ascUnrecoveredReadError, ascWriteError, true},
}

// storeErrorSense is the sense storeSense gives for err, met by a read
// (write false) or write of the blocks from lba.
func storeErrorSense(err error, lba uint64, write bool) sense {
	row := storeSense[len(storeSense)-1]
	for _, r := range storeSense[:len(storeSense)-1] {
		if errors.Is(err, r.kind) {
			row = r
			break
		}
	}
	s := sense{key: row.key, asc: row.read}
	if write {
		s.asc = row.write
	}
	if row.lba {
		s.info, s.infoValid = lba, true
	}
	return s
}

// storeFailed reports a failed store operation what (e.g. "write") on the
// blocks from lba and returns the CHECK CONDITION the command ends with.
// Running out of space is logged once until space returns (lu.wrote), not
// once per command: a full thin volume refuses every write.
func (k *task) storeFailed(err error, what string, lba uint64, write bool) Result {
	lu := k.lu
	if errors.Is(err, backend.ErrNoSpace) {
		if lu.noSpace.CompareAndSwap(false, true) {
			lu.log.Error("scsi: volume out of space; writes fail with SPACE ALLOCATION FAILED WRITE PROTECT until space is freed",
				"lu", lu.cfg.Serial, "op", what, "lba", lba, "err", err)
		}
	} else if suppressed, ok := lu.ioErrs.admit(); ok {
		lu.log.Error("scsi: "+what+" failed", "lu", lu.cfg.Serial, "lba", lba, "err", err,
			"not_logged_since_last", suppressed)
	}
	return checkCondition(storeErrorSense(err, lba, write), k.desc)
}

// wrote notes a write that succeeded, made durable when it had to be: if
// writes had been failing for want of space, space has returned. (A write
// whose data the store took but whose sync failed does not count, or a
// file system that reports ENOSPC only at fsync would log every command.)
func (lu *LU) wrote() {
	if lu.noSpace.Load() && lu.noSpace.CompareAndSwap(true, false) {
		lu.log.Info("scsi: volume writable again: space is available", "lu", lu.cfg.Serial)
	}
}

// errLogEvery is the least time between two log lines of a volume's
// failed store operations: a failing disk under load fails every command,
// and each line names another LBA. What is not logged is counted.
var errLogEvery = time.Second

// errLogPacer admits one log line per errLogEvery and counts the rest.
type errLogPacer struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int64
	now        func() time.Time // time.Now; tests set it
}

// admit reports whether to log now, and how many lines were not logged
// since the last one.
func (p *errLogPacer) admit() (suppressed int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	t := now()
	if !p.last.IsZero() && t.Sub(p.last) < errLogEvery {
		p.suppressed++
		return 0, false
	}
	p.last = t
	suppressed, p.suppressed = p.suppressed, 0
	return suppressed, true
}
