package pdu

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/iscsi/pdu

var (
	sinkHeader Header
	sinkCmd    SCSICommand
	sinkDataIn DataIn
	sinkCRC    uint32
)

func BenchmarkHeaderEncode(b *testing.B) {
	cmd := SCSICommand{Final: true, Read: true, Attr: AttrSimple, LUN: 1 << 48, ITT: 7,
		ExpectedDataTransferLength: 4096, CmdSN: 9, ExpStatSN: 10, CDB: [16]byte{0x28, 0, 0, 0, 0x10, 0, 0, 0, 8}}
	din := DataIn{Final: true, HasStatus: true, ITT: 7, TTT: ReservedTag, StatSN: 10, ExpCmdSN: 11,
		MaxCmdSN: 40, BufferOffset: 4096}
	b.Run("SCSICommand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cmd.Encode(&sinkHeader)
		}
	})
	b.Run("DataIn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			din.Encode(&sinkHeader)
		}
	})
}

func BenchmarkHeaderDecode(b *testing.B) {
	var hc, hd Header
	(&SCSICommand{Final: true, Read: true, ITT: 7, ExpectedDataTransferLength: 4096,
		CDB: [16]byte{0x28}}).Encode(&hc)
	(&DataIn{Final: true, HasStatus: true, ITT: 7, TTT: ReservedTag}).Encode(&hd)
	b.Run("SCSICommand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkCmd.Decode(&hc)
		}
	})
	b.Run("DataIn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkDataIn.Decode(&hd)
		}
	})
}

func BenchmarkCRC32C(b *testing.B) {
	data := pattern(8192, 1)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sinkCRC = CRC32C(data)
	}
}

var benchSizes = []int{4 << 10, 256 << 10}

func sizeName(n int) string { return fmt.Sprintf("%dKiB", n>>10) }

// drain returns a writer whose bytes a goroutine discards: one end of a
// net.Pipe or of a TCP loopback connection.
func drain(b *testing.B, kind string) io.Writer {
	var w, r net.Conn
	switch kind {
	case "pipe":
		w, r = net.Pipe()
		b.Cleanup(func() { w.Close(); r.Close() })
	case "tcp":
		w, r = tcpPair(b)
	default:
		return io.Discard
	}
	go io.Copy(io.Discard, r)
	return w
}

func BenchmarkWriterWrite(b *testing.B) {
	for _, n := range benchSizes {
		for _, dd := range []bool{false, true} {
			for _, sink := range []string{"discard", "pipe", "tcp"} {
				b.Run(fmt.Sprintf("%s/datadigest=%v/%s", sizeName(n), dd, sink), func(b *testing.B) {
					w := NewWriter(drain(b, sink))
					w.Opts.DataDigest = dd
					data := pattern(n, 3)
					var h Header
					(&DataIn{Final: true, ITT: 1, TTT: ReservedTag}).Encode(&h)
					b.SetBytes(int64(n))
					b.ReportAllocs()
					for b.Loop() {
						if err := w.Write(&h, nil, data); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// loopReader serves the same bytes over and over.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.b) {
		l.off = 0
	}
	n := copy(p, l.b[l.off:])
	l.off += n
	return n, nil
}

// feed returns a reader of wire repeated forever: from memory, or from a
// goroutine writing it into a net.Pipe or a TCP loopback connection.
func feed(b *testing.B, kind string, wire []byte) io.Reader {
	var w, r net.Conn
	switch kind {
	case "pipe":
		w, r = net.Pipe()
		b.Cleanup(func() { w.Close(); r.Close() })
	case "tcp":
		r, w = tcpPair(b)
	default:
		return &loopReader{b: wire}
	}
	go func() {
		for {
			if _, err := w.Write(wire); err != nil {
				return
			}
		}
	}()
	return r
}

func BenchmarkReaderRead(b *testing.B) {
	for _, n := range benchSizes {
		for _, dd := range []bool{false, true} {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Opts.DataDigest = dd
			var h Header
			(&DataIn{Final: true, ITT: 1, TTT: ReservedTag}).Encode(&h)
			if err := w.Write(&h, nil, pattern(n, 3)); err != nil {
				b.Fatal(err)
			}
			wire := buf.Bytes()
			for _, src := range []string{"memory", "pipe", "tcp"} {
				for _, reuse := range []bool{true, false} {
					if !reuse && src != "memory" {
						continue
					}
					name := fmt.Sprintf("%s/datadigest=%v/%s", sizeName(n), dd, src)
					if !reuse {
						name += "/alloc-per-PDU"
					}
					b.Run(name, func(b *testing.B) {
						r := NewReader(feed(b, src, wire))
						r.Opts.DataDigest = dd
						if reuse {
							pool := make([]byte, n)
							r.Opts.Alloc = func(int) []byte { return pool }
						}
						var p PDU
						b.SetBytes(int64(n))
						b.ReportAllocs()
						for b.Loop() {
							if err := r.Read(&p); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		}
	}
}
