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
	// PeerEpoch and PeerExtents are the activity log of the primary of
	// PeerEpoch as this copy's node last recorded it as a replica
	// (PeerActivity): where that primary's writes may have been in
	// flight, so where this copy and another in-sync one may differ if
	// that primary was lost. PeerEpoch 0: none recorded.
	PeerEpoch   uint64
	PeerExtents []int64
}

func (g Generation) String() string {
	s := fmt.Sprintf("epoch %d (data %s, volume id %s)", g.Epoch, orNone(g.DataID), orNone(g.VolumeID))
	if g.Primary {
		s += fmt.Sprintf(", written as primary, %d extents in its activity log", len(g.Extents))
	}
	if len(g.PeerExtents) > 0 {
		s += fmt.Sprintf(", %d extents in the activity log of the primary of epoch %d", len(g.PeerExtents), g.PeerEpoch)
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
//	19+n+m       its activity log's extents (appendExtents; none unless
//	             primary)
//	...          PeerEpoch (uint64), then PeerExtents (appendExtents)
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
	if !g.Primary {
		ext = nil
	}
	b = appendExtents(b, ext)
	b = binary.BigEndian.AppendUint64(b, g.PeerEpoch)
	return appendExtents(b, g.PeerExtents)
}

// appendExtents encodes a list of activity log extents after b: their
// number (uint32), then each one's offset (uint64). A list longer than
// maxHelloExtents is sent empty (never expected: a log holds
// ActivityExtents at most).
func appendExtents(b []byte, offs []int64) []byte {
	if len(offs) > maxHelloExtents {
		offs = nil
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(offs)))
	for _, e := range offs {
		b = binary.BigEndian.AppendUint64(b, uint64(e))
	}
	return b
}

// parseExtents decodes a list appendExtents encoded at the start of p
// and returns the rest.
func parseExtents(p []byte) ([]int64, []byte, error) {
	if len(p) < 4 {
		return nil, nil, fmt.Errorf("%w: extent list of %d bytes", errProtocol, len(p))
	}
	k := binary.BigEndian.Uint32(p)
	p = p[4:]
	if k > maxHelloExtents || uint64(len(p)) < 8*uint64(k) {
		return nil, nil, fmt.Errorf("%w: %d extents in %d bytes", errProtocol, k, len(p))
	}
	var offs []int64
	for i := range k {
		e := binary.BigEndian.Uint64(p[8*i:])
		if e > 1<<62 || e%ALExtent != 0 {
			return nil, nil, fmt.Errorf("%w: extent offset %d", errProtocol, e)
		}
		offs = append(offs, int64(e))
	}
	return offs, p[8*k:], nil
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
	if len(rest) < 1 || rest[0] > 1 {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: bad primary flag", errProtocol)
	}
	g.Primary = rest[0] == 1
	var err error
	if g.Extents, rest, err = parseExtents(rest[1:]); err != nil {
		return 0, Generation{}, fmt.Errorf("hello reply: %w", err)
	}
	if len(g.Extents) > 0 && !g.Primary {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: activity log extents of a copy not written as primary", errProtocol)
	}
	if len(rest) < 8 {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: no primary's activity log", errProtocol)
	}
	g.PeerEpoch = binary.BigEndian.Uint64(rest)
	if g.PeerExtents, rest, err = parseExtents(rest[8:]); err != nil {
		return 0, Generation{}, fmt.Errorf("hello reply: %w", err)
	}
	if len(rest) != 0 {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: %d bytes after the end", errProtocol, len(rest))
	}
	g.VolumeID, g.DataID = ids[0], ids[1]
	return int64(size), g, nil
}
