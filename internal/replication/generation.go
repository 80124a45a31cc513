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
}

func (g Generation) String() string {
	return fmt.Sprintf("epoch %d (data %s, volume id %s)", g.Epoch, orNone(g.DataID), orNone(g.VolumeID))
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
func appendHelloReply(b []byte, size int64, g Generation) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = binary.BigEndian.AppendUint64(b, g.Epoch)
	for _, s := range []string{g.VolumeID, g.DataID} {
		s = s[:min(len(s), maxIDLen)]
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

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
	if len(rest) != 0 {
		return 0, Generation{}, fmt.Errorf("%w: hello reply: %d trailing bytes", errProtocol, len(rest))
	}
	g.VolumeID, g.DataID = ids[0], ids[1]
	return int64(size), g, nil
}
