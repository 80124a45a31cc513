package replication

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Image identifies the storage a copy lives on, so that a generation
// record does not outlive its data: a record describing another image
// (the file was deleted and recreated, a disk replaced) is discarded as
// if the data were new.
//
// The record lives in the node's data directory, not in the image: the
// image is the raw volume, with no room for a header. What ties the two
// is, for a file, its device, inode number and birth time (an inode
// number alone may be reused by a recreated file; the birth time tells
// them apart where the file system records it), and, more robust still,
// whether halun created the image at this start (OpenGenFile's fresh):
// a file halun had to create, or a memory volume, holds nothing. A block
// device is known by its device number only: replacing the disk behind
// the same number is not seen, and needs halun cluster discard.
type Image struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Btime int64  `json:"btime_ns,omitempty"` // 0: not recorded by the file system
}

// genRecord is a GenFile's content.
type genRecord struct {
	VolumeID string `json:"volume_id"`
	DataID   string `json:"data_id"`
	// Epoch: see Generation.Epoch.
	Epoch uint64 `json:"epoch"`
	Image Image  `json:"image"`
	// PrimaryLast is the last epoch this node became primary at;
	// PrimarySince the first of the unbroken run ending there.
	PrimaryLast  uint64 `json:"primary_last"`
	PrimarySince uint64 `json:"primary_since"`
}

// GenFile is a node's generation record of its copy of one volume, in a
// JSON file replaced atomically on every change (a change per epoch, not
// per write).
type GenFile struct {
	path  string
	epoch atomic.Uint64 // rec.Epoch, for Applied's fast path
	mu    sync.Mutex
	rec   genRecord
}

// GenOpen reports what OpenGenFile found.
type GenOpen int

const (
	// GenKept: the record describes this image; its generation stands.
	GenKept GenOpen = iota
	// GenNew: there was no record (a new node or data directory).
	GenNew
	// GenReset: the image is new or another than the record's (recreated,
	// replaced): the record was replaced by a new copy's.
	GenReset
)

// OpenGenFile opens the record at path for a copy on img of the volume
// whose cluster identifier is volumeID. fresh says the image holds
// nothing (halun created it at this start, or it is in memory). Unless
// the record describes img and fresh is false, a new record is written:
// a new data id, epoch 0. A record of another volume id is kept as it
// is: the copy is another volume's, and a primary refuses it. A damaged
// record is an error: remove it to have the copy resynced in full.
func OpenGenFile(path, volumeID string, img Image, fresh bool) (*GenFile, GenOpen, error) {
	g := &GenFile{path: path}
	data, found, err := readState(path, "generation record")
	how := GenKept
	switch {
	case err != nil:
		return nil, 0, err
	case !found:
		how = GenNew
	default:
		if err := json.Unmarshal(data, &g.rec); err != nil || g.rec.DataID == "" {
			return nil, 0, fmt.Errorf("replication: generation record %s is damaged (%v): remove it to have this copy resynced in full", path, err)
		}
		if fresh || g.rec.Image != img {
			how = GenReset
		}
	}
	switch {
	case how != GenKept:
		var id [16]byte
		rand.Read(id[:])
		g.rec = genRecord{VolumeID: volumeID, DataID: hex.EncodeToString(id[:]), Image: img}
	case g.rec.VolumeID == "":
		g.rec.VolumeID = volumeID
	default:
		return g.open(how, nil)
	}
	return g.open(how, g.writeLocked(g.rec))
}

func (g *GenFile) open(how GenOpen, err error) (*GenFile, GenOpen, error) {
	if err != nil {
		return nil, 0, err
	}
	g.epoch.Store(g.rec.Epoch)
	return g, how, nil
}

// Generation returns the copy's generation.
func (g *GenFile) Generation() Generation {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Generation{VolumeID: g.rec.VolumeID, DataID: g.rec.DataID, Epoch: g.rec.Epoch,
		Primary: g.rec.Epoch > 0 && g.rec.PrimaryLast == g.rec.Epoch}
}

// Applied records, durably, that the copy is about to apply writes of
// epoch; a replica calls it before every write or unmap, and it writes
// only when the epoch is higher than the recorded one.
func (g *GenFile) Applied(epoch uint64) error {
	if epoch <= g.epoch.Load() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch <= g.rec.Epoch {
		return nil
	}
	next := g.rec
	next.Epoch = epoch
	return g.writeLocked(next)
}

// BecamePrimary records that this node is primary at epoch, before it
// serves: the copy is at epoch from now on, and the unbroken run of
// epochs this node was primary at continues when the last one was
// epoch-1. It returns the run's first epoch (Lineage.PrimarySince).
func (g *GenFile) BecamePrimary(epoch uint64) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := g.rec
	if next.PrimaryLast == 0 || next.PrimaryLast+1 != epoch {
		next.PrimarySince = epoch
	}
	next.PrimaryLast = epoch
	next.Epoch = max(next.Epoch, epoch)
	if err := g.writeLocked(next); err != nil {
		return 0, err
	}
	return next.PrimarySince, nil
}

// writeLocked replaces the record with rec, durably.
func (g *GenFile) writeLocked(rec genRecord) error {
	if err := writeJSON(g.path, "generation record", rec); err != nil {
		return err
	}
	g.rec = rec
	g.epoch.Store(rec.Epoch)
	return nil
}
