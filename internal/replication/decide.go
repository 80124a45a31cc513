package replication

import (
	"errors"
	"fmt"
)

// Decision is what a primary does with a replica's copy, judged by the
// replica's Generation against the primary's Lineage.
type Decision int

const (
	// DecideBitmap: the primary's dirty bitmap towards the replica
	// covers everything the copies differ in (for an in-sync replica:
	// it stays in sync).
	DecideBitmap Decision = iota
	// DecideFull: the copy descends from the primary's history but the
	// bitmap does not cover where it differs (or it holds nothing): the
	// whole volume is copied.
	DecideFull
	// DecideRefuse: the copy may hold acknowledged writes the primary
	// lacks (a history the primary does not descend from). It is not
	// touched until an operator discards it.
	DecideRefuse
)

func (d Decision) String() string {
	switch d {
	case DecideBitmap:
		return "bitmap resync"
	case DecideFull:
		return "full resync"
	case DecideRefuse:
		return "refused (diverged)"
	}
	return fmt.Sprintf("decision(%d)", int(d))
}

// Lineage is what the primary knows of the volume's history.
type Lineage struct {
	// VolumeID is the volume's identifier in the cluster's record; ""
	// when unknown (then not compared).
	VolumeID string
	// Epoch is the primary's epoch.
	Epoch uint64
	// PrimarySince is the first epoch of the primary's unbroken run of
	// epochs (it was primary at each of PrimarySince..Epoch): its dirty
	// bitmaps hold every write since then that a replica missed.
	PrimarySince uint64
	// ForcedAt is the epoch of the latest forced promotion (0: none). A
	// copy last written before it may hold acknowledged writes the
	// forced node never had.
	ForcedAt uint64
	// Discard: an operator allowed this replica's copy to be overwritten
	// whatever it holds (halun cluster discard).
	Discard bool
}

func (l Lineage) String() string {
	return fmt.Sprintf("epoch %d (primary since %d, forced at %d, volume id %s)", l.Epoch, l.PrimarySince, l.ForcedAt, orNone(l.VolumeID))
}

// Decide judges a replica's copy g against the primary's lineage l. For
// a replica the cluster's record has in sync (inSync), DecideBitmap means
// it stays in sync; anything else takes it out. It returns why, for logs.
//
// The rules, in order:
//
//   - the operator discarded the copy (and it is out of sync): full;
//   - the copy belongs to another volume (its volume id differs): refuse;
//   - the copy was written at an epoch above the primary's: refuse (it
//     would have refused the primary's hello; never expected);
//   - the copy holds nothing the cluster wrote (Epoch 0: new, wiped or
//     replaced, or never written): full, or in sync when the record says
//     so (a volume not yet written to);
//   - the copy was last written before the latest forced promotion:
//     refuse — the forced node may lack acknowledged writes it holds;
//   - in sync in the record: stays in sync (Open still takes it out,
//     to resync by bitmap, when the previous primary's writes in flight
//     may have reached it and not this primary or the reverse: see
//     PeerActivity);
//   - the copy was last written during the primary's unbroken run: its
//     bitmap covers the difference: bitmap;
//   - the copy is the previous primary's, written as primary at the
//     epoch just before this primary's run: it differs in what this
//     primary wrote since (its bitmap: the previous primary left the
//     in-sync set when this one promoted) and in the extents of its own
//     activity log (writes it had in flight): bitmap, with those
//     extents added — as DRBD resyncs a returning primary;
//   - otherwise (written under an earlier primary, the lineage the
//     primary descends from): full — it may hold writes that primary
//     took but never acknowledged, which no bitmap here records.
func Decide(l Lineage, g Generation, inSync bool) (Decision, string) {
	switch {
	case l.Discard && !inSync:
		return DecideFull, "an operator discarded its data"
	case g.VolumeID != "" && l.VolumeID != "" && g.VolumeID != l.VolumeID:
		return DecideRefuse, fmt.Sprintf("it holds another volume's data (volume id %s, this volume's is %s)", g.VolumeID, l.VolumeID)
	case g.Epoch > l.Epoch:
		return DecideRefuse, fmt.Sprintf("it was written at epoch %d, above the primary's %d", g.Epoch, l.Epoch)
	case g.Epoch == 0 && inSync:
		return DecideBitmap, "in sync, never written"
	case g.Epoch == 0:
		return DecideFull, "it holds no data of this volume (new, wiped or replaced)"
	case g.Epoch < l.ForcedAt:
		return DecideRefuse, fmt.Sprintf("it was last written at epoch %d, before the forced promotion at epoch %d: it may hold acknowledged writes the primary lacks", g.Epoch, l.ForcedAt)
	case inSync:
		return DecideBitmap, "in sync"
	case g.Epoch >= l.PrimarySince:
		return DecideBitmap, fmt.Sprintf("last written at epoch %d, during this primary's run from epoch %d", g.Epoch, l.PrimarySince)
	case g.Primary && g.Epoch+1 == l.PrimarySince:
		return DecideBitmap, fmt.Sprintf("the previous primary (epoch %d): this primary's bitmap since epoch %d and the %d extents of its activity log cover the difference",
			g.Epoch, l.PrimarySince, len(g.Extents))
	}
	return DecideFull, fmt.Sprintf("last written at epoch %d, before this primary's run from epoch %d: its bitmap does not cover it", g.Epoch, l.PrimarySince)
}

// ErrDiverged marks a resync refused because the replica's copy may hold
// acknowledged writes the primary lacks; see DivergedError.
var ErrDiverged = errors.New("replica diverged")

// DivergedError is Resync's error for a refused replica: it names both
// generations.
type DivergedError struct {
	Volume, Replica string
	Copy            Generation // the replica's copy
	Primary         Lineage
	Why             string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("replication: volume %s: replica %s: %v: %s; the replica's copy is at %v, the primary at %v",
		e.Volume, e.Replica, ErrDiverged, e.Why, e.Copy, e.Primary)
}

func (e *DivergedError) Unwrap() error { return ErrDiverged }
