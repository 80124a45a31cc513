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
	// Alloc, if set, supplies the buffer a data segment of n bytes (its
	// padded length) is read into; a buffer with less capacity is replaced
	// by a fresh one.
	Alloc func(n int) []byte
}

// Reader reads PDUs from a stream.
type Reader struct {
	r    io.Reader
	Opts Options
	dig  [4]byte
	pad  [4]byte
	// Accept, if set, vets each BHS as soon as its 48 bytes are in, before
	// any AHS or data is read; its error is returned from ReadHeader. A
	// receiver uses it to refuse a PDU whose lengths it must not trust.
	Accept func(h *Header) error
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Read reads the next PDU into p, reusing p.AHS's storage. A stream that ends
// cleanly before the first header byte gives io.EOF; one that ends inside a
// PDU gives an error wrapping io.ErrUnexpectedEOF. On ErrDataTooLong the data
// segment has been discarded and p.Header and p.AHS are valid, as is the
// stream for the next PDU. On ErrDataDigest, p is complete but its data must
// not be used; the stream is in sync. After any other error the stream is not.
// Read is ReadHeader followed by ReadData.
func (rd *Reader) Read(p *PDU) error {
	if err := rd.ReadHeader(p); err != nil {
		return err
	}
	return rd.ReadData(p, nil)
}

// ReadHeader reads the BHS, the AHS and the header digest of the next PDU,
// leaving its data segment unread, so a receiver can look at the header
// before deciding where the data goes (or refusing it) and then call
// ReadData. Its errors are Read's for those parts.
func (rd *Reader) ReadHeader(p *PDU) error {
	p.Data = nil
	if _, err := io.ReadFull(rd.r, p.Header[:]); err != nil {
		if err == io.EOF {
			return err
		}
		return fmt.Errorf("pdu: reading basic header segment: %w", err)
	}
	if rd.Accept != nil {
		if err := rd.Accept(&p.Header); err != nil {
			return err
		}
	}
	ahsLen := p.Header.TotalAHSLength()
	if ahsLen > 0 {
		if cap(p.AHS) >= ahsLen {
			p.AHS = p.AHS[:ahsLen]
		} else {
			p.AHS = make([]byte, ahsLen)
		}
		if _, err := io.ReadFull(rd.r, p.AHS); err != nil {
			return unexpected("additional header segments", err)
		}
	} else {
		p.AHS = p.AHS[:0]
	}
	if rd.Opts.HeaderDigest {
		if _, err := io.ReadFull(rd.r, rd.dig[:]); err != nil {
			return unexpected("header digest", err)
		}
		if CRC32C(p.Header[:], p.AHS) != getDigest(rd.dig[:]) {
			return ErrHeaderDigest
		}
	}
	return nil
}

// ReadData reads the data segment announced by p.Header (after ReadHeader)
// into dst[:n] when dst is at least n bytes long, so a receiver can place
// data straight where it belongs; otherwise into a buffer from
// Options.Alloc or a new one. p.Data is set to the data. The error cases
// are those of Read.
func (rd *Reader) ReadData(p *PDU, dst []byte) error {
	n := p.Header.DataSegmentLength()
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
			return unexpected("oversized data segment", err)
		}
		return fmt.Errorf("%w: %d > %d", ErrDataTooLong, n, limit)
	}
	var buf []byte
	if len(dst) >= n {
		buf = dst[:n]
	} else {
		if rd.Opts.Alloc != nil {
			buf = rd.Opts.Alloc(padded)
		}
		if cap(buf) < padded {
			buf = make([]byte, padded)
		}
		buf = buf[:n]
	}
	if _, err := io.ReadFull(rd.r, buf); err != nil {
		return unexpected("data segment", err)
	}
	padBytes := rd.pad[:padded-n]
	if len(padBytes) > 0 {
		if _, err := io.ReadFull(rd.r, padBytes); err != nil {
			return unexpected("data segment padding", err)
		}
	}
	p.Data = buf
	if rd.Opts.DataDigest {
		if _, err := io.ReadFull(rd.r, rd.dig[:]); err != nil {
			p.Data = nil
			return unexpected("data digest", err)
		}
		if CRC32C(buf, padBytes) != getDigest(rd.dig[:]) {
			return ErrDataDigest
		}
	}
	return nil
}

// unexpected wraps an error met inside a PDU, turning io.EOF into
// io.ErrUnexpectedEOF.
func unexpected(what string, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("pdu: reading %s: %w", what, err)
}

// Writer writes PDUs to a stream, header and data in one vectored write
// (writev) when the stream supports it, as *net.TCPConn does. Write does not
// allocate in steady state. A Writer is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	Opts Options
	head []byte
	tail [8]byte
	bufs [3][]byte
	// nb lives in the Writer so that handing its address to
	// net.Buffers.WriteTo does not allocate.
	nb net.Buffers
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, head: make([]byte, 0, HeaderLen+64)} }

// Write sends header h (its TotalAHSLength and DataSegmentLength are set from
// ahs and data), the raw AHS and data, adding padding and digests as
// negotiated. ahs must be a whole number of 4-byte words, at most 1020 bytes.
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
	wr.nb = bufs
	_, err := wr.nb.WriteTo(wr.w)
	// Keep no reference to the caller's data, written or not.
	wr.bufs = [3][]byte{}
	wr.nb = nil
	return err
}

// WritePDU is a convenience for Write(&p.Header, p.AHS, p.Data).
func (wr *Writer) WritePDU(p *PDU) error { return wr.Write(&p.Header, p.AHS, p.Data) }
