package pdu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
)

var digestModes = []struct {
	name   string
	hd, dd bool
}{
	{"no digests", false, false},
	{"header digest", true, false},
	{"data digest", false, true},
	{"both digests", true, true},
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func dataInHeader(itt uint32) Header {
	var h Header
	(&DataIn{Final: true, ITT: itt, TTT: ReservedTag, DataSN: itt}).Encode(&h)
	return h
}

// wireLen is the length RFC 7143 §11.1 gives a PDU on the wire.
func wireLen(ahs, data int, hd, dd bool) int {
	n := HeaderLen + ahs + data + pad(data)
	if hd {
		n += 4
	}
	if dd && data > 0 {
		n += 4
	}
	return n
}

func TestRFC7143_11_1_RoundTrip(t *testing.T) {
	ahsCases := map[string][]byte{
		"no AHS":       nil,
		"extended CDB": AppendAHS(nil, ExtendedCDBAHS(pattern(16, 0x40))),
		"CDB and bidi": AppendAHS(AppendAHS(nil, ExtendedCDBAHS(pattern(5, 0x40))), BidiReadLengthAHS(512)),
	}
	sizes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 511, 4096, 8191}
	for _, m := range digestModes {
		for an, ahs := range ahsCases {
			t.Run(m.name+"/"+an, func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf)
				w.Opts = Options{HeaderDigest: m.hd, DataDigest: m.dd}
				total := 0
				for i, n := range sizes {
					h := dataInHeader(uint32(i))
					if err := w.Write(&h, ahs, pattern(n, byte(i))); err != nil {
						t.Fatal(err)
					}
					if h.DataSegmentLength() != n || h.TotalAHSLength() != len(ahs) {
						t.Errorf("Write did not set lengths in the caller's header: %d, %d",
							h.DataSegmentLength(), h.TotalAHSLength())
					}
					total += wireLen(len(ahs), n, m.hd, m.dd)
					if buf.Len() != total {
						t.Fatalf("after PDU %d (data %d): stream is %d bytes, want %d", i, n, buf.Len(), total)
					}
				}
				r := NewReader(iotest.HalfReader(&buf))
				r.Opts = w.Opts
				var p PDU
				for i, n := range sizes {
					if err := r.Read(&p); err != nil {
						t.Fatalf("PDU %d: %v", i, err)
					}
					var d DataIn
					d.Decode(&p.Header)
					if d.ITT != uint32(i) || p.Header.Opcode() != OpDataIn {
						t.Fatalf("PDU %d: decoded %+v", i, d)
					}
					if !bytes.Equal(p.AHS, ahs) {
						t.Errorf("PDU %d: AHS % x, want % x", i, p.AHS, ahs)
					}
					if !bytes.Equal(p.Data, pattern(n, byte(i))) || (n == 0) != (p.Data == nil) {
						t.Errorf("PDU %d: data of %d bytes differs (want %d)", i, len(p.Data), n)
					}
				}
				if err := r.Read(&p); err != io.EOF {
					t.Errorf("read past the last PDU: %v, want io.EOF", err)
				}
			})
		}
	}
}

// TestRFC7143_11_1_Padding checks data segment lengths 1..8 byte by byte:
// zero padding to a 4-byte boundary, DataSegmentLength excluding it, and the
// data digest covering it.
func TestRFC7143_11_1_Padding(t *testing.T) {
	for _, dd := range []bool{false, true} {
		for n := 1; n <= 8; n++ {
			t.Run(fmt.Sprintf("len %d data digest %v", n, dd), func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf)
				w.Opts.DataDigest = dd
				h := dataInHeader(1)
				data := bytes.Repeat([]byte{0xdd}, n)
				if err := w.Write(&h, nil, data); err != nil {
					t.Fatal(err)
				}
				wire := buf.Bytes()
				padded := (n + 3) / 4 * 4
				want := HeaderLen + padded
				if dd {
					want += 4
				}
				if len(wire) != want {
					t.Fatalf("%d bytes on the wire, want %d", len(wire), want)
				}
				if got := int(wire[5])<<16 | int(wire[6])<<8 | int(wire[7]); got != n {
					t.Errorf("DataSegmentLength %d, want %d (padding excluded)", got, n)
				}
				seg := wire[HeaderLen : HeaderLen+padded]
				if !bytes.Equal(seg[:n], data) || !bytes.Equal(seg[n:], make([]byte, padded-n)) {
					t.Errorf("data segment % x, want data then zero padding", seg)
				}
				if dd {
					if got, want := getDigest(wire[HeaderLen+padded:]), CRC32C(seg); got != want {
						t.Errorf("data digest %#08x, want CRC32C over data and padding %#08x", got, want)
					}
				}
				r := NewReader(bytes.NewReader(wire))
				r.Opts.DataDigest = dd
				var p PDU
				if err := r.Read(&p); err != nil || !bytes.Equal(p.Data, data) {
					t.Fatalf("Read: % x, %v", p.Data, err)
				}
			})
		}
	}
}

// Padding bytes SHOULD be zero; a receiver accepts others (and the data digest
// covers whatever was sent).
func TestRFC7143_11_1_NonZeroPaddingAccepted(t *testing.T) {
	for _, dd := range []bool{false, true} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Opts.DataDigest = dd
		h := dataInHeader(1)
		if err := w.Write(&h, nil, []byte{1, 2, 3, 4, 5}); err != nil {
			t.Fatal(err)
		}
		wire := buf.Bytes()
		copy(wire[HeaderLen+5:], []byte{0xee, 0xee, 0xee})
		if dd {
			putDigest(wire[HeaderLen+8:], CRC32C(wire[HeaderLen:HeaderLen+8]))
		}
		r := NewReader(bytes.NewReader(wire))
		r.Opts.DataDigest = dd
		var p PDU
		if err := r.Read(&p); err != nil || !bytes.Equal(p.Data, []byte{1, 2, 3, 4, 5}) {
			t.Errorf("data digest %v: % x, %v", dd, p.Data, err)
		}
	}
}

// nopOut is a PDU written after a faulty one to show the stream is in sync.
func writeNOPOut(t *testing.T, w *Writer, itt uint32, data []byte) {
	t.Helper()
	var h Header
	(&NOPOut{Immediate: true, ITT: itt, TTT: ReservedTag}).Encode(&h)
	if err := w.Write(&h, nil, data); err != nil {
		t.Fatal(err)
	}
}

func readNOPOut(t *testing.T, r *Reader, itt uint32, data []byte) {
	t.Helper()
	var p PDU
	if err := r.Read(&p); err != nil {
		t.Fatalf("reading the PDU after: %v", err)
	}
	var m NOPOut
	m.Decode(&p.Header)
	if p.Header.Opcode() != OpNOPOut || m.ITT != itt || !bytes.Equal(p.Data, data) {
		t.Fatalf("PDU after: %v %+v data % x", p.Header.Opcode(), m, p.Data)
	}
}

func TestMaxRecvDataSegmentLength(t *testing.T) {
	for _, m := range digestModes {
		for _, n := range []int{9, 10, 11, 12, 8192} {
			t.Run(fmt.Sprintf("%s/%d", m.name, n), func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf)
				w.Opts = Options{HeaderDigest: m.hd, DataDigest: m.dd}
				ahs := AppendAHS(nil, BidiReadLengthAHS(99))
				h := dataInHeader(7)
				if err := w.Write(&h, ahs, pattern(n, 1)); err != nil {
					t.Fatal(err)
				}
				h = dataInHeader(8)
				if err := w.Write(&h, nil, pattern(8, 2)); err != nil { // exactly the limit
					t.Fatal(err)
				}
				writeNOPOut(t, w, 9, []byte("ping"))

				r := NewReader(&buf)
				r.Opts = w.Opts
				r.Opts.MaxRecvDataSegmentLength = 8
				var p PDU
				p.Data = []byte("stale")
				err := r.Read(&p)
				if !errors.Is(err, ErrDataTooLong) {
					t.Fatalf("Read = %v, want ErrDataTooLong", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%d > 8", n)) {
					t.Errorf("error %q does not give the lengths", err)
				}
				var d DataIn
				d.Decode(&p.Header)
				if d.ITT != 7 || p.Header.DataSegmentLength() != n || !bytes.Equal(p.AHS, ahs) || p.Data != nil {
					t.Errorf("after ErrDataTooLong: ITT %d DSL %d AHS % x data % x", d.ITT,
						p.Header.DataSegmentLength(), p.AHS, p.Data)
				}
				if err := r.Read(&p); err != nil || !bytes.Equal(p.Data, pattern(8, 2)) {
					t.Fatalf("PDU at the limit: % x, %v", p.Data, err)
				}
				readNOPOut(t, r, 9, []byte("ping"))
			})
		}
	}
}

func TestRFC7143_11_2_3_HeaderDigestError(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Opts = Options{HeaderDigest: true, DataDigest: true}
	h := dataInHeader(3)
	ahs := AppendAHS(nil, BidiReadLengthAHS(1))
	if err := w.Write(&h, ahs, pattern(100, 3)); err != nil {
		t.Fatal(err)
	}
	wire := buf.Bytes()
	// Any flipped bit in the BHS, the AHS or the digest itself is caught.
	for _, off := range []int{0, 1, 7, 16, 47, 48, 55, 56, 59} {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(wire)
			bad[off] ^= bit
			r := NewReader(bytes.NewReader(bad))
			r.Opts = w.Opts
			var p PDU
			if err := r.Read(&p); !errors.Is(err, ErrHeaderDigest) {
				t.Errorf("bit %#x of byte %d flipped: %v, want ErrHeaderDigest", bit, off, err)
			}
		}
	}
}

func TestRFC7143_11_2_3_DataDigestError(t *testing.T) {
	for _, hd := range []bool{false, true} {
		for _, n := range []int{1, 5, 512} {
			t.Run(fmt.Sprintf("header digest %v/%d bytes", hd, n), func(t *testing.T) {
				var buf bytes.Buffer
				w := NewWriter(&buf)
				w.Opts = Options{HeaderDigest: hd, DataDigest: true}
				h := dataInHeader(4)
				data := pattern(n, 4)
				if err := w.Write(&h, nil, data); err != nil {
					t.Fatal(err)
				}
				first := buf.Len()
				writeNOPOut(t, w, 5, nil)
				writeNOPOut(t, w, 6, []byte("after"))
				start := HeaderLen
				if hd {
					start += 4
				}
				// Corrupt the data, its padding (if any), then the digest.
				for _, off := range []int{start, start + n - 1, first - 5, first - 1} {
					bad := bytes.Clone(buf.Bytes())
					bad[off] ^= 0x10
					r := NewReader(bytes.NewReader(bad))
					r.Opts = w.Opts
					var p PDU
					if err := r.Read(&p); !errors.Is(err, ErrDataDigest) {
						t.Fatalf("byte %d corrupted: %v, want ErrDataDigest", off, err)
					}
					var d DataIn
					d.Decode(&p.Header)
					if d.ITT != 4 || len(p.Data) != n {
						t.Errorf("after ErrDataDigest: header ITT %d, data %d bytes; want 4 and %d", d.ITT, len(p.Data), n)
					}
					readNOPOut(t, r, 5, nil)
					readNOPOut(t, r, 6, []byte("after"))
				}
			})
		}
	}
}

// TestTruncatedStream cuts a stream of PDUs at every length: a cut at a PDU
// boundary is a clean io.EOF, anywhere else io.ErrUnexpectedEOF, and nothing
// panics.
func TestTruncatedStream(t *testing.T) {
	for _, m := range digestModes {
		t.Run(m.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Opts = Options{HeaderDigest: m.hd, DataDigest: m.dd}
			boundaries := map[int]bool{0: true}
			h := dataInHeader(1)
			if err := w.Write(&h, AppendAHS(nil, ExtendedCDBAHS(pattern(3, 9))), pattern(13, 1)); err != nil {
				t.Fatal(err)
			}
			boundaries[buf.Len()] = true
			writeNOPOut(t, w, 2, nil)
			boundaries[buf.Len()] = true
			writeNOPOut(t, w, 3, pattern(8, 3))
			boundaries[buf.Len()] = true
			wire := buf.Bytes()
			for cut := 0; cut < len(wire); cut++ {
				for _, limit := range []int{0, 8} {
					r := NewReader(iotest.OneByteReader(bytes.NewReader(wire[:cut])))
					r.Opts = w.Opts
					r.Opts.MaxRecvDataSegmentLength = limit
					read := 0
					var p PDU
					var err error
					for {
						if err = r.Read(&p); err != nil && !errors.Is(err, ErrDataTooLong) {
							break
						}
						read += wireLen(p.Header.TotalAHSLength(), p.Header.DataSegmentLength(), m.hd, m.dd)
					}
					if boundaries[cut] {
						if err != io.EOF || read != cut {
							t.Errorf("cut at boundary %d (limit %d): %v after %d bytes, want io.EOF", cut, limit, err, read)
						}
					} else if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("cut at %d (limit %d): %v, want io.ErrUnexpectedEOF", cut, limit, err)
					}
				}
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReaderPassesIOErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{boom}))
	var p PDU
	if err := r.Read(&p); !errors.Is(err, boom) {
		t.Errorf("Read = %v, want one wrapping boom", err)
	}
}

func TestReaderAlloc(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i, n := range []int{5, 8, 100} {
		h := dataInHeader(uint32(i))
		if err := w.Write(&h, nil, pattern(n, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	var asked []int
	pool := make([]byte, 8)
	r := NewReader(&buf)
	r.Opts.Alloc = func(n int) []byte {
		asked = append(asked, n)
		return pool // too small for the last PDU: Read must not panic
	}
	var p PDU
	for i, n := range []int{5, 8, 100} {
		if err := r.Read(&p); err != nil || !bytes.Equal(p.Data, pattern(n, byte(i))) {
			t.Fatalf("PDU %d: % x, %v", i, p.Data, err)
		}
		if n <= 8 && &p.Data[0] != &pool[0] {
			t.Errorf("PDU %d not read into the Alloc buffer", i)
		}
	}
	if fmt.Sprint(asked) != "[8 8 100]" {
		t.Errorf("Alloc asked for %v, want the padded lengths [8 8 100]", asked)
	}
}

func TestWriterRejectsBadLengths(t *testing.T) {
	w := NewWriter(io.Discard)
	var h Header
	for _, n := range []int{1, 2, 3, 5, 1021, 1024} {
		if err := w.Write(&h, make([]byte, n), nil); err == nil {
			t.Errorf("AHS of %d bytes accepted", n)
		}
	}
	if err := w.Write(&h, make([]byte, 1020), nil); err != nil {
		t.Errorf("AHS of 1020 bytes (255 words): %v", err)
	}
	if err := w.Write(&h, nil, make([]byte, MaxDataSegment+1)); err == nil {
		t.Error("data segment beyond 24 bits accepted")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n--
	return len(b), nil
}

func TestWriterErrorAndNoRetention(t *testing.T) {
	w := NewWriter(&failWriter{n: 1})
	h := dataInHeader(1)
	if err := w.Write(&h, nil, make([]byte, 10)); err == nil {
		t.Fatal("write error not reported")
	}
	for i, b := range w.bufs {
		if b != nil {
			t.Errorf("Writer still references buffer %d after Write", i)
		}
	}
	if w.nb != nil {
		t.Error("Writer still references its net.Buffers")
	}
}

// TestWriterNoAllocs: Write allocates nothing per call in steady state.
func TestWriterNoAllocs(t *testing.T) {
	for _, m := range digestModes {
		w := NewWriter(io.Discard)
		w.Opts = Options{HeaderDigest: m.hd, DataDigest: m.dd}
		h := dataInHeader(1)
		ahs := AppendAHS(nil, ExtendedCDBAHS(pattern(16, 0)))
		data := pattern(4097, 0)
		_ = w.Write(&h, ahs, data) // let the header buffer grow once
		if a := testing.AllocsPerRun(100, func() {
			if err := w.Write(&h, ahs, data); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: %.1f allocations per Write, want 0", m.name, a)
		}
	}
}

// TestTCPLoopback frames PDUs over a real TCP connection, where Write uses
// writev.
func TestTCPLoopback(t *testing.T) {
	client, server := tcpPair(t)
	opts := Options{HeaderDigest: true, DataDigest: true}
	sizes := []int{0, 1, 3, 4096, 65537, 262144}
	errc := make(chan error, 1)
	go func() {
		w := NewWriter(server)
		w.Opts = opts
		for i, n := range sizes {
			h := dataInHeader(uint32(i))
			if err := w.Write(&h, nil, pattern(n, byte(i))); err != nil {
				errc <- err
				return
			}
		}
		errc <- server.Close()
	}()
	r := NewReader(client)
	r.Opts = opts
	var p PDU
	for i, n := range sizes {
		if err := r.Read(&p); err != nil {
			t.Fatalf("PDU %d: %v", i, err)
		}
		if !bytes.Equal(p.Data, pattern(n, byte(i))) {
			t.Fatalf("PDU %d: data differs", i)
		}
	}
	if err := r.Read(&p); err != io.EOF {
		t.Errorf("after the last PDU: %v, want io.EOF", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func tcpPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Skipf("no TCP loopback: %v", err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		tb.Fatal(a.err)
	}
	tb.Cleanup(func() { client.Close(); a.c.Close() })
	return client, a.c
}
