package pdu

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// Fuzz targets. Run one with, for example,
//
//	go test -run '^$' -fuzz '^FuzzReader$' -fuzztime 30s ./internal/iscsi/pdu
//
// Seeds live in testdata/fuzz/<FuzzName>/ and run as ordinary tests.

// fuzzOpts maps the fuzzer's option byte to framing options. The data segment
// limit keeps the fuzzer from allocating 16 MiB for every random length.
func fuzzOpts(o byte) Options {
	opts := Options{HeaderDigest: o&1 != 0, DataDigest: o&2 != 0, MaxRecvDataSegmentLength: 1 << 16}
	if o&4 != 0 {
		opts.MaxRecvDataSegmentLength = 64
	}
	return opts
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// FuzzReader feeds arbitrary bytes to a Reader. Nothing may panic; every PDU
// read successfully must re-encode to the bytes it was read from (with any
// non-zero padding replaced by zeros, and the data digest recomputed over
// it); io.EOF may only come at a PDU boundary.
func FuzzReader(f *testing.F) {
	for _, seed := range readerSeeds(f) {
		f.Add(seed.stream, seed.opts)
	}
	f.Fuzz(func(t *testing.T, stream []byte, o byte) {
		opts := fuzzOpts(o)
		cr := &countingReader{r: bytes.NewReader(stream)}
		r := NewReader(cr)
		r.Opts = opts
		var out bytes.Buffer
		w := NewWriter(&out)
		w.Opts = opts
		for {
			start := cr.n
			var p PDU
			err := r.Read(&p)
			end := cr.n
			switch {
			case err == nil:
			case err == io.EOF:
				if start != len(stream) {
					t.Fatalf("io.EOF at offset %d of %d", start, len(stream))
				}
				return
			case errors.Is(err, ErrDataDigest), errors.Is(err, ErrDataTooLong):
				continue // the stream stays in sync
			default:
				return
			}
			want := bytes.Clone(stream[start:end])
			n := p.Header.DataSegmentLength()
			if n > 0 {
				seg := HeaderLen + p.Header.TotalAHSLength()
				if opts.HeaderDigest {
					seg += 4
				}
				padded := n + pad(n)
				clear(want[seg+n : seg+padded])
				if opts.DataDigest {
					putDigest(want[seg+padded:], CRC32C(want[seg:seg+padded]))
				}
			}
			out.Reset()
			if err := w.WritePDU(&p); err != nil {
				t.Fatalf("re-encoding a PDU that was read: %v", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("re-encoded PDU differs:\n got % x\nwant % x", out.Bytes(), want)
			}
		}
	})
}

type readerSeed struct {
	stream []byte
	opts   byte
}

func readerSeeds(tb testing.TB) []readerSeed {
	var seeds []readerSeed
	for o := range byte(4) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Opts = fuzzOpts(o)
		var h Header
		(&SCSICommand{Final: true, Write: true, ITT: 1, ExpectedDataTransferLength: 5}).Encode(&h)
		if err := w.Write(&h, AppendAHS(nil, ExtendedCDBAHS([]byte{1, 2})), []byte("hello")); err != nil {
			tb.Fatal(err)
		}
		(&NOPOut{ITT: 2, TTT: ReservedTag}).Encode(&h)
		if err := w.Write(&h, nil, nil); err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, readerSeed{buf.Bytes(), o})
	}
	return seeds
}

// FuzzDecodeEncode decodes a random BHS as every typed message: encoding the
// message gives a header of the message's opcode that decodes to the same
// message and encodes to the same bytes again.
func FuzzDecodeEncode(f *testing.F) {
	f.Add(make([]byte, HeaderLen))
	f.Add(bytes.Repeat([]byte{0xff}, HeaderLen))
	f.Add(unhex(f, `01 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00 14 00 00 00 00 00 04 00
		00 00 00 14 00 00 00 18 28 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		copy(h[:], b)
		fuzzMessage[NOPOut](t, OpNOPOut, &h)
		fuzzMessage[NOPIn](t, OpNOPIn, &h)
		fuzzMessage[SCSICommand](t, OpSCSICommand, &h)
		fuzzMessage[SCSIResponse](t, OpSCSIResponse, &h)
		fuzzMessage[TaskMgmtReq](t, OpTaskMgmtReq, &h)
		fuzzMessage[TaskMgmtResp](t, OpTaskMgmtResp, &h)
		fuzzMessage[DataOut](t, OpDataOut, &h)
		fuzzMessage[DataIn](t, OpDataIn, &h)
		fuzzMessage[R2T](t, OpR2T, &h)
		fuzzMessage[AsyncMessage](t, OpAsyncMessage, &h)
		fuzzMessage[TextReq](t, OpTextReq, &h)
		fuzzMessage[TextResp](t, OpTextResp, &h)
		fuzzMessage[LoginReq](t, OpLoginReq, &h)
		fuzzMessage[LoginResp](t, OpLoginResp, &h)
		fuzzMessage[LogoutReq](t, OpLogoutReq, &h)
		fuzzMessage[LogoutResp](t, OpLogoutResp, &h)
		fuzzMessage[SNACKReq](t, OpSNACKReq, &h)
		fuzzMessage[Reject](t, OpReject, &h)
	})
}

func fuzzMessage[T any, P message[T]](t *testing.T, op Opcode, h *Header) {
	t.Helper()
	var m1, m2 T
	P(&m1).Decode(h)
	var h1, h2 Header
	P(&m1).Encode(&h1)
	if h1.Opcode() != op {
		t.Fatalf("%T encodes opcode %v", m1, h1.Opcode())
	}
	P(&m2).Decode(&h1)
	if !reflect.DeepEqual(m1, m2) {
		t.Fatalf("%T: Decode(Encode(m)) != m:\n got %+v\nwant %+v", m1, m2, m1)
	}
	P(&m2).Encode(&h2)
	if h1 != h2 {
		t.Fatalf("%T: encoding is not stable:%s", m1, headerDiff(&h2, &h1))
	}
}

// FuzzParseText: ParseText never panics, whatever it accepts obeys the §6.1
// limits, and AppendText gives back text that parses to the same pairs.
func FuzzParseText(f *testing.F) {
	f.Add([]byte("InitiatorName=iqn.1994-05.com.redhat:x\x00SessionType=Normal\x00"))
	f.Add([]byte("A=\x00\x00\x00B=c=d\x00"))
	f.Add([]byte("=x\x00"))
	f.Add([]byte("nokey\x00"))
	f.Add([]byte("K=unterminated"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := ParseText(b)
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv.Key == "" || len(kv.Key) > MaxKeyLen || len(kv.Value) > MaxValueLen ||
				bytes.ContainsAny([]byte(kv.Key), "=\x00") || bytes.IndexByte([]byte(kv.Value), 0) >= 0 {
				t.Fatalf("ParseText accepted pair %q", kv)
			}
		}
		enc := AppendText(nil, kvs)
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		kvs2, err := ParseText(enc)
		if err != nil {
			t.Fatalf("ParseText(AppendText(%q)): %v", kvs, err)
		}
		if !reflect.DeepEqual(kvs, kvs2) {
			t.Fatalf("round trip:\n got %q\nwant %q", kvs2, kvs)
		}
	})
}

// FuzzParseAHS: ParseAHS and CommandAHS never panic; the segments ParseAHS
// accepts re-encode with AppendAHS to the same bytes (padding zeroed).
func FuzzParseAHS(f *testing.F) {
	f.Add(AppendAHS(nil, ExtendedCDBAHS(make([]byte, 16))))
	f.Add(AppendAHS(AppendAHS(nil, ExtendedCDBAHS([]byte{1})), BidiReadLengthAHS(512)))
	f.Add(unhex(f, "00 02 01 00 ee"))
	f.Add(unhex(f, "00 00 01 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ext, bidi, hasBidi, cerr := CommandAHS(b)
		segs, err := ParseAHS(b)
		if err != nil {
			if cerr == nil {
				t.Fatalf("CommandAHS accepted what ParseAHS rejects: %v", err)
			}
			return
		}
		var enc []byte
		off := 0
		for _, s := range segs {
			enc = AppendAHS(enc, s)
			n := 3 + len(s.Data)
			if !bytes.Equal(enc[off:off+n], b[off:off+n]) {
				t.Fatalf("segment at %d re-encodes to % x, was % x", off, enc[off:off+n], b[off:off+n])
			}
			if !bytes.Equal(enc[off+n:], zeroPad[:pad(n)]) {
				t.Fatalf("padding % x", enc[off+n:])
			}
			off = len(enc)
		}
		if len(enc) != len(b) {
			t.Fatalf("re-encoded %d bytes, was %d", len(enc), len(b))
		}
		segs2, err := ParseAHS(enc)
		if err != nil || !reflect.DeepEqual(segs, segs2) {
			t.Fatalf("ParseAHS(re-encoded) = %v, %v; want %v", segs2, err, segs)
		}
		if cerr == nil {
			var back []byte
			if ext != nil {
				back = AppendAHS(back, ExtendedCDBAHS(ext))
			}
			if hasBidi {
				back = AppendAHS(back, BidiReadLengthAHS(bidi))
			}
			if _, _, _, err := CommandAHS(back); err != nil {
				t.Fatalf("CommandAHS rejects its own output: %v", err)
			}
		}
	})
}
