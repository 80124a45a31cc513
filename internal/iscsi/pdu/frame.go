package pdu

import (
	"errors"
	"fmt"
	"io"
	"net"
)

// PDU is one whole protocol data unit: the BHS, the raw AHS area (a multiple
// of 4 bytes) and the unpadded data segment.
type PDU struct {
	Header Header
	AHS    []byte
	Data   []byte
}

// Framing errors. ErrDataDigest leaves the PDU's header valid so the receiver
// can reject that PDU precisely; the others desynchronise the stream and end
// the connection.
var (
	ErrHeaderDigest = errors.New("pdu: header digest mismatch")
	ErrDataDigest   = errors.New("pdu: data digest mismatch")
	ErrDataTooLong  = errors.New("pdu: data segment exceeds MaxRecvDataSegmentLength")
)

// MaxDataSegment is the largest data segment the 24-bit length field allows.
const MaxDataSegment = 1<<24 - 1

// Options are the per-connection framing parameters negotiated at login.
type Options struct {
	HeaderDigest bool
	DataDigest   bool
	// MaxRecvDataSegmentLength bounds incoming data segments; 0 means the
	// 24-bit maximum.
	MaxRecvDataSegmentLength int
	// Alloc, if set, supplies data segment buffers of exactly n bytes.
	Alloc func(n int) []byte
}

// Reader reads PDUs from a stream.
type Reader struct {
	r    io.Reader
	Opts Options
	dig  [4]byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Read reads the next PDU into p. On ErrDataTooLong the data segment has been
// discarded and p.Header is valid. On ErrDataDigest, p is complete but its data
// must not be used.
func (rd *Reader) Read(p *PDU) error {
	if _, err := io.ReadFull(rd.r, p.Header[:]); err != nil {
		return err
	}
	ahsLen := p.Header.TotalAHSLength()
	if ahsLen > 0 {
		if cap(p.AHS) >= ahsLen {
			p.AHS = p.AHS[:ahsLen]
		} else {
			p.AHS = make([]byte, ahsLen)
		}
		if _, err := io.ReadFull(rd.r, p.AHS); err != nil {
			return unexpected(err)
		}
	} else {
		p.AHS = p.AHS[:0]
	}
	if rd.Opts.HeaderDigest {
		if _, err := io.ReadFull(rd.r, rd.dig[:]); err != nil {
			return unexpected(err)
		}
		if CRC32C(p.Header[:], p.AHS) != getDigest(rd.dig[:]) {
			return ErrHeaderDigest
		}
	}
	n := p.Header.DataSegmentLength()
	p.Data = nil
	if n == 0 {
		return nil
	}
	padded := n + pad(n)
	limit := rd.Opts.MaxRecvDataSegmentLength
	if limit > 0 && n > limit {
		skip := int64(padded)
		if rd.Opts.DataDigest {
			skip += 4
		}
		if _, err := io.CopyN(io.Discard, rd.r, skip); err != nil {
			return unexpected(err)
		}
		return fmt.Errorf("%w: %d > %d", ErrDataTooLong, n, limit)
	}
	var buf []byte
	if rd.Opts.Alloc != nil {
		buf = rd.Opts.Alloc(padded)
	} else {
		buf = make([]byte, padded)
	}
	if _, err := io.ReadFull(rd.r, buf[:padded]); err != nil {
		return unexpected(err)
	}
	p.Data = buf[:n]
	if rd.Opts.DataDigest {
		if _, err := io.ReadFull(rd.r, rd.dig[:]); err != nil {
			return unexpected(err)
		}
		if CRC32C(buf[:padded]) != getDigest(rd.dig[:]) {
			return ErrDataDigest
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer writes PDUs to a stream, header and data in one vectored write.
// A Writer is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	Opts Options
	head []byte
	tail [8]byte
	bufs [3][]byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, head: make([]byte, 0, HeaderLen+64)} }

// Write sends header h (its data segment length is set from data), the raw AHS
// and data, adding padding and digests as negotiated.
func (wr *Writer) Write(h *Header, ahs, data []byte) error {
	if len(data) > MaxDataSegment {
		return fmt.Errorf("pdu: data segment of %d bytes too long", len(data))
	}
	if len(ahs)%4 != 0 || len(ahs) > 255*4 {
		return fmt.Errorf("pdu: AHS of %d bytes is not a valid length", len(ahs))
	}
	h.SetTotalAHSLength(len(ahs))
	h.SetDataSegmentLength(len(data))
	head := append(wr.head[:0], h[:]...)
	head = append(head, ahs...)
	if wr.Opts.HeaderDigest {
		var d [4]byte
		putDigest(d[:], CRC32C(head))
		head = append(head, d[:]...)
	}
	wr.head = head
	bufs := wr.bufs[:1]
	bufs[0] = head
	if len(data) > 0 {
		p := pad(len(data))
		tail := wr.tail[:p]
		copy(tail, zeroPad[:p])
		if wr.Opts.DataDigest {
			var d [4]byte
			putDigest(d[:], CRC32C(data, zeroPad[:p]))
			tail = append(tail, d[:]...)
		}
		bufs = append(bufs, data)
		if len(tail) > 0 {
			bufs = append(bufs, tail)
		}
	}
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(wr.w)
	return err
}

// WritePDU is a convenience for Write(&p.Header, p.AHS, p.Data).
func (wr *Writer) WritePDU(p *PDU) error { return wr.Write(&p.Header, p.AHS, p.Data) }
