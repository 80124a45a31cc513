package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame header layout, big endian:
//
//	0  magic   "HLRP"
//	4  version 5 (2: the hello reply carries the replica's generation;
//	           3: msgResize; 4: the hello reply carries a former
//	           primary's activity log; 5: msgActivity, and the hello
//	           reply carries the activity log the replica recorded)
//	5  type    (msg*)
//	6  flags   (flag*)
//	8  seq     request number, echoed by its reply
//	16 epoch   the volume's epoch the sender holds
//	24 offset  byte offset in the volume (write, unmap); the new size
//	           (resize); status in replies
//	32 length  unmap: bytes; others: the payload's length
//	36 payload length
//
// The payload follows: a write's data, a hello's volume name, a hello
// reply's volume size and generation (appendHelloReply), an activity
// message's extents (appendExtents), an error reply's message.
const (
	headerLen  = 40
	version    = 5
	maxPayload = 8<<20 + 4096 // a write of the largest transfer, with room
	magic      = "HLRP"
)

// Message types.
const (
	msgHello  byte = 1 // primary → replica: volume name; reply: the replica's epoch, size and generation
	msgWrite  byte = 2 // data at offset
	msgUnmap  byte = 3 // offset, length
	msgSync   byte = 4 // make every completed write durable
	msgReply  byte = 5 // replica → primary: status in offset, message in payload
	msgPing   byte = 6 // liveness; replied with msgReply
	msgResize byte = 7 // grow the volume to the size in offset
	// msgActivity carries the primary's activity log (every extent in
	// it) at the sender's epoch; it has no reply. See PeerActivity.
	msgActivity byte = 8
	msgMaxType       = msgActivity
)

// Flags.
const (
	flagDurable uint16 = 1 << 0 // a write or unmap durable before its reply
)

// Reply status codes (in the offset field of msgReply).
const (
	statusOK         uint64 = 0
	statusStaleEpoch uint64 = 1 // the request's epoch is below the replica's
	statusIO         uint64 = 2 // the replica's store failed
	statusNoSpace    uint64 = 3
	statusRange      uint64 = 4 // outside the volume
	statusNoVolume   uint64 = 5 // hello for a volume the replica does not hold
	statusProtocol   uint64 = 6 // a request the replica cannot read
)

// frame is one message.
type frame struct {
	typ     byte
	flags   uint16
	seq     uint64
	epoch   uint64
	offset  uint64 // status in replies
	length  uint32 // unmap length
	payload []byte
}

// errProtocol marks input that is not this protocol.
var errProtocol = errors.New("replication: protocol error")

// appendFrame encodes f after b.
func appendFrame(b []byte, f *frame) []byte {
	return append(appendHeader(b, f), f.payload...)
}

// appendHeader encodes f's header, announcing len(f.payload), after b.
func appendHeader(b []byte, f *frame) []byte {
	var h [headerLen]byte
	copy(h[0:4], magic)
	h[4] = version
	h[5] = f.typ
	binary.BigEndian.PutUint16(h[6:], f.flags)
	binary.BigEndian.PutUint64(h[8:], f.seq)
	binary.BigEndian.PutUint64(h[16:], f.epoch)
	binary.BigEndian.PutUint64(h[24:], f.offset)
	binary.BigEndian.PutUint32(h[32:], f.length)
	binary.BigEndian.PutUint32(h[36:], uint32(len(f.payload)))
	return append(b, h[:]...)
}

// parseHeader checks and decodes a header; the payload length is
// returned for the caller to read.
func parseHeader(h []byte, f *frame) (int, error) {
	if len(h) < headerLen {
		return 0, fmt.Errorf("%w: short header (%d bytes)", errProtocol, len(h))
	}
	if string(h[0:4]) != magic {
		return 0, fmt.Errorf("%w: bad magic %q", errProtocol, h[0:4])
	}
	if h[4] != version {
		return 0, fmt.Errorf("%w: version %d, this halun speaks %d", errProtocol, h[4], version)
	}
	f.typ = h[5]
	if f.typ == 0 || f.typ > msgMaxType {
		return 0, fmt.Errorf("%w: message type %d", errProtocol, f.typ)
	}
	f.flags = binary.BigEndian.Uint16(h[6:])
	f.seq = binary.BigEndian.Uint64(h[8:])
	f.epoch = binary.BigEndian.Uint64(h[16:])
	f.offset = binary.BigEndian.Uint64(h[24:])
	f.length = binary.BigEndian.Uint32(h[32:])
	n := binary.BigEndian.Uint32(h[36:])
	if n > maxPayload {
		return 0, fmt.Errorf("%w: payload of %d bytes (at most %d)", errProtocol, n, maxPayload)
	}
	if (f.typ == msgUnmap || f.typ == msgResize) && n != 0 {
		return 0, fmt.Errorf("%w: message type %d with a payload", errProtocol, f.typ)
	}
	return int(n), nil
}

// readFrame reads one frame from r into f, reusing buf for the payload
// when it is large enough; it returns the buffer used.
func readFrame(r io.Reader, f *frame, buf []byte) ([]byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return buf, err
	}
	n, err := parseHeader(h[:], f)
	if err != nil {
		return buf, err
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	f.payload = buf[:n]
	if _, err := io.ReadFull(r, f.payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}
