package replication

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// PeerActivity is a replica's record of its primary's activity log, as
// the primary last told it (msgActivity): the extents where the primary's
// writes may be in flight. The primary sends its log on every connection
// before any write and again at every change of the log, on the same
// connection ahead of the write that changed it, and the replica records
// it durably before it reads the next request. So every write a replica
// applied is inside the log it recorded, until the write ended on every
// copy.
//
// It matters when the primary is lost with three copies: the two
// survivors may differ by a write in flight that reached one of them. The
// one promoted knows where from its own record and the other's (reported
// in its hello, Generation.PeerExtents) and resyncs those extents to it
// before it counts as in sync again — DRBD's resync after an unstable
// primary. With two copies the returning primary's own log does it.
type PeerActivity struct {
	path string

	mu  sync.Mutex
	doc peerALDoc
}

type peerALDoc struct {
	// Epoch is the epoch of the primary whose log this is.
	Epoch  uint64  `json:"epoch"`
	Extent int64   `json:"extent_bytes"`
	Offs   []int64 `json:"extents"` // byte offsets of ALExtent-sized extents
}

// OpenPeerActivity opens (or creates, empty) the record at path.
func OpenPeerActivity(path string) (*PeerActivity, error) {
	p := &PeerActivity{path: path, doc: peerALDoc{Extent: ALExtent}}
	data, found, err := readState(path, "the primary's activity log record")
	if err != nil || !found {
		return p, err
	}
	var doc peerALDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Extent != ALExtent || !validExtents(doc.Offs) {
		return nil, fmt.Errorf("replication: the record of the primary's activity log %s is damaged (%v): remove it and run halun cluster discard for this node's copy", path, err)
	}
	p.doc = doc
	return p, nil
}

// validExtents says whether offs are offsets of activity log extents.
func validExtents(offs []int64) bool {
	for _, o := range offs {
		if o < 0 || o > 1<<62 || o%ALExtent != 0 {
			return false
		}
	}
	return true
}

// Get returns the primary's epoch and the extents' offsets last recorded.
func (p *PeerActivity) Get() (uint64, []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc.Epoch, slices.Clone(p.doc.Offs)
}

// Set records the log of the primary of epoch, durably.
func (p *PeerActivity) Set(epoch uint64, offs []int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	doc := peerALDoc{Epoch: epoch, Extent: ALExtent, Offs: slices.Clone(offs)}
	if doc.Offs == nil {
		doc.Offs = []int64{}
	}
	if err := writeJSON(p.path, "the primary's activity log record", doc); err != nil {
		return err
	}
	p.doc = doc
	return nil
}
