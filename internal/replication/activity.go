package replication

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// ActivityLog is a primary's record of where its writes may be in flight,
// DRBD's activity log: before a write into an extent (ALExtent bytes) not
// in the log is sent anywhere, the extent is added to the log on disk.
// If the primary's run ends without a clean stop — a crash, a lost lease —
// its copy and its in-sync replicas' may differ inside the log's extents
// (a write one applied and another did not; none was acknowledged); the
// node's next run as primary finds them in Leftover and resyncs them to
// every replica from its own copy, so the replicas agree again.
//
// The log holds at most ActivityExtents extents: an idle one (no write in
// flight) leaves when a new one needs its place, so a working set within
// that size costs no disk write at all.
type ActivityLog struct {
	path string
	size int64

	mu     sync.Mutex
	hot    map[int64]*alExtent
	tick   uint64 // use counter for eviction
	writes int    // log writes, for tests
	// watch is told the log's extents after every change (Watch).
	watch func(offs []int64)
}

type alExtent struct {
	inflight int
	used     uint64
}

// ActivityExtents bounds the log: 1024 extents of 4 MiB, 4 GiB of hot
// data (DRBD's default is 1237).
const ActivityExtents = 1024

// OpenActivityLog opens (or creates) the activity log at path of a volume
// of size bytes. Extents it holds from a run that did not stop cleanly
// are in Leftover.
func OpenActivityLog(path string, size int64) (*ActivityLog, error) {
	a := &ActivityLog{path: path, size: size, hot: map[int64]*alExtent{}}
	data, found, err := readState(path, "activity log")
	if err != nil || !found {
		return a, err
	}
	var doc alDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Extent != ALExtent {
		return nil, fmt.Errorf("replication: activity log %s is damaged (%v): remove it and resync the replicas fully", path, err)
	}
	for _, e := range doc.Extents {
		a.hot[e] = &alExtent{}
	}
	return a, nil
}

// Leftover returns the extents in the log, as byte ranges. Called before
// a run as primary serves its first write, they are where an earlier run
// that did not stop cleanly (Clear empties the log at a clean stop) may
// have left its replicas differing — in an earlier process, or in this
// one, if it lost its lease.
func (a *ActivityLog) Leftover() [][2]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out [][2]int64
	extents := make([]int64, 0, len(a.hot))
	for e := range a.hot {
		extents = append(extents, e)
	}
	slices.Sort(extents)
	for _, e := range extents {
		off := e * ALExtent
		if off < a.size {
			out = append(out, [2]int64{off, min(ALExtent, a.size-off)})
		}
	}
	return out
}

// Begin records a write to [off, off+n) as in flight, adding its extents
// to the log on disk first when they are not in it. End must follow.
func (a *ActivityLog) Begin(off, n int64) error {
	if n <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tick++
	grew := false
	for e := off / ALExtent; e <= (off+n-1)/ALExtent; e++ {
		x := a.hot[e]
		if x == nil {
			x = &alExtent{}
			a.hot[e] = x
			grew = true
		}
		x.inflight++
		x.used = a.tick
	}
	if !grew {
		return nil
	}
	a.evictLocked()
	if err := a.writeLocked(); err != nil {
		a.endLocked(off, n)
		return err
	}
	return nil
}

// End records the end of a write Begin recorded.
func (a *ActivityLog) End(off, n int64) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.endLocked(off, n)
}

func (a *ActivityLog) endLocked(off, n int64) {
	for e := off / ALExtent; e <= (off+n-1)/ALExtent; e++ {
		if x := a.hot[e]; x != nil && x.inflight > 0 {
			x.inflight--
		}
	}
}

// evictLocked drops the least recently used idle extents above the bound.
func (a *ActivityLog) evictLocked() {
	if len(a.hot) <= ActivityExtents {
		return
	}
	var idle []int64
	for e, x := range a.hot {
		if x.inflight == 0 {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(p, q int64) int { return cmp.Compare(a.hot[p].used, a.hot[q].used) })
	for _, e := range idle {
		if len(a.hot) <= ActivityExtents {
			break
		}
		delete(a.hot, e)
	}
}

func (a *ActivityLog) writeLocked() error {
	doc := alDoc{Extent: ALExtent, Extents: []int64{}}
	for e := range a.hot {
		doc.Extents = append(doc.Extents, e)
	}
	slices.Sort(doc.Extents)
	if err := writeJSON(a.path, "activity log", doc); err != nil {
		return err
	}
	a.writes++
	if a.watch != nil {
		a.watch(a.offsetsLocked())
	}
	return nil
}

// offsetsLocked returns the offsets of the extents in the log, sorted.
func (a *ActivityLog) offsetsLocked() []int64 {
	offs := make([]int64, 0, len(a.hot))
	for e := range a.hot {
		offs = append(offs, e*ALExtent)
	}
	slices.Sort(offs)
	return offs
}

// Watch has fn told the offsets of the log's extents now and after every
// change of the log, once the change is on disk, under the log's lock:
// a primary sends them to its replicas (msgActivity), so they are told
// in the order of the changes, and the log that holds an extent goes out
// before any write into it can. Nil stops it.
func (a *ActivityLog) Watch(fn func(offs []int64)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.watch = fn
	if fn != nil {
		fn(a.offsetsLocked())
	}
}

// With calls fn with the offsets of the log's extents under the log's
// lock, so no change comes between: a replica that joins is told the log
// and added to those Watch's function tells in one step.
func (a *ActivityLog) With(fn func(offs []int64)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a.offsetsLocked())
}

// Clear empties the log: every write recorded has ended and is on every
// in-sync replica (the primary synced them), or the leftover extents are
// recorded for resync. It fails if a write is still in flight.
func (a *ActivityLog) Clear() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for e, x := range a.hot {
		if x.inflight > 0 {
			return fmt.Errorf("replication: activity log: a write is in flight in extent %d", e)
		}
	}
	clear(a.hot)
	return a.writeLocked()
}
