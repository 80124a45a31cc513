package replication

import (
	"encoding/binary"
	"fmt"
)

// Generation is what a node's copy of a volume descends from, as a
// replica reports it in its hello reply. Epochs serve as the generation
// identifiers (as DRBD's generation UUIDs do): every promotion starts a
// new one, etcd hands them out, and a replica raises its Epoch durably
// before it applies the first write of a higher epoch, so a copy's Epoch
// is the last epoch whose writes it may hold.
type Generation struct {
	// VolumeID is the volume's identifier in the cluster's record (chosen
	// when the record was created); "" when unknown.
	VolumeID string
	// DataID is chosen at random when this copy was initialised (a new
	// or wiped image); it names the copy in logs.
	DataID string
	// Epoch is the last epoch whose writes this copy applied; 0 means
	// none: the copy holds no data the cluster wrote.
	Epoch uint64
	// Primary: the copy was last written as the volume's primary (this
	// node was primary at Epoch). Extents are then its activity log's:
	// where writes of its last run may have been in flight, reached
	// some copies and not others (offsets of ALExtent-sized extents).
	Primary bool
	Extents []int64
}

func (g Generation) String() string {
	s := fmt.Sprintf("epoch %d (data %s, volume id %s)", g.Epoch, orNone(g.DataID), orNone(g.VolumeID))
	if g.Primary {
		s += fmt.Sprintf(", written as primary, %d extents in its activity log", len(g.Extents))
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// maxIDLen bounds a generation's identifiers on the wire.
const maxIDLen = 64

// appendHelloReply encodes a hello reply's payload after b:
//
//	0  size      the replica's volume size in bytes
//	8  epoch     Generation.Epoch
//	16 n         length of the volume id (at most maxIDLen)
//	17           volume id
//	17+n m       length of the data id (at most maxIDLen)
//	18+n         data id
//	18+n+m       1 if the copy was last written as primary, else 0
//	19+n+m k     number of activity log extents (uint32; 0 unless primary)
//	23+n+m       k extent offsets (uint64 each)
func appendHelloReply(b []byte, size int64, g Generation) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint64(b, g.Epoch)
	for _, s := range []string{g.VolumeID, g.DataID} {
		s = s[:min(len(s), maxIDLen)]
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	primary := byte(0)
	if g.Primary {
		primary = 1
	}
	b = append(b, primary)
	ext := g.Extents
	if !g.Primary || len(ext) > maxHelloExtents {
		ext = nil
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ext)))
	for _, e := range ext {
		b = binary.BigEndian.AppendUint64(b, uint64(e))
	}
	return b
}

// maxHelloExtents bounds the activity log a hello reply carries (the log
// holds ActivityExtents at most).
const maxHelloExtents = 1 << 16

// parseHelloReply decodes a hello reply's payload; anything but exactly
// one encoding is a protocol error.
func parseHelloReply(p []byte) (int64, Generation, error) {
	var g Generation
	if len(p) < 18 {
		return 0, g, fmt.Errorf("%w: hello reply of %d bytes", errProtocol, len(p))
	}
	size := binary.BigEndian.Uint64(p)
	if size > 1<<62 {
		return 0, g, fmt.Errorf("%w: hello reply: volume size %d", errProtocol, size)
	}
	g.Epoch = binary.BigEndian.Uint64(p[8:])
	rest := p[16:]
	var ids [2]string
	for i := range ids {
		if len(rest) < 1 || int(rest[0]) > maxIDLen || len(rest) < 1+int(rest[0]) {
			return 0, Generation{}, fmt.Errorf("%w: hello reply: bad identifier", errProtocol)
		}
		ids[i] = string(rest[1 : 1+rest[0]])
		rest = rest[1+rest[0]:]
	}
	if len(rest) < 5 || rest[0] > 1 {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: bad primary flag or extent count", errProtocol)
	}
	g.Primary = rest[0] == 1
	k := binary.BigEndian.Uint32(rest[1:])
	rest = rest[5:]
	if k > maxHelloExtents || (k > 0 && !g.Primary) || uint64(len(rest)) != 8*uint64(k) {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: %d extents in %d bytes", errProtocol, k, len(rest))
	}
	for i := range k {
		e := binary.BigEndian.Uint64(rest[8*i:])
		if e > 1<<62 || e%ALExtent != 0 {
			return 0, Generation{}, fmt.Errorf("%w: hello reply: extent offset %d", errProtocol, e)
		}
		g.Extents = append(g.Extents, int64(e))
	}
	g.VolumeID, g.DataID = ids[0], ids[1]
	return int64(size), g, nil
}
