package pdu

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rfcB4 are the CRC32C examples of RFC 7143 Appendix B.4: the data and the
// four CRC bytes in the order the appendix lists them, which is the order they
// travel in on the wire.
func rfcB4(t testing.TB) []struct {
	name string
	data []byte
	wire []byte
} {
	inc, dec := make([]byte, 32), make([]byte, 32)
	for i := range inc {
		inc[i], dec[i] = byte(i), byte(31-i)
	}
	return []struct {
		name string
		data []byte
		wire []byte
	}{
		{"32 bytes of zeroes", make([]byte, 32), unhex(t, "aa 36 91 8a")},
		{"32 bytes of ones", bytes.Repeat([]byte{0xff}, 32), unhex(t, "43 ab a8 62")},
		{"32 bytes of incrementing 00..1f", inc, unhex(t, "4e 79 dd 46")},
		{"32 bytes of decrementing 1f..00", dec, unhex(t, "5c db 3f 11")},
		{"iSCSI SCSI Read (10) Command PDU", unhex(t, `
			01 c0 00 00
			00 00 00 00
			00 00 00 00
			00 00 00 00
			14 00 00 00
			00 00 04 00
			00 00 00 14
			00 00 00 18
			28 00 00 00
			00 00 00 00
			02 00 00 00
			00 00 00 00`), unhex(t, "56 3a 96 d9")},
	}
}

func TestRFC7143_B_4_CRC32C(t *testing.T) {
	for _, v := range rfcB4(t) {
		t.Run(v.name, func(t *testing.T) {
			got := CRC32C(v.data)
			// The appendix lists the least significant byte first.
			if want := binary.LittleEndian.Uint32(v.wire); got != want {
				t.Errorf("CRC32C = %#08x, want %#08x", got, want)
			}
			var w [4]byte
			putDigest(w[:], got)
			if !bytes.Equal(w[:], v.wire) {
				t.Errorf("wire bytes % x, want % x", w, v.wire)
			}
			if getDigest(v.wire) != got {
				t.Errorf("getDigest(% x) = %#08x, want %#08x", v.wire, getDigest(v.wire), got)
			}
			// Split anywhere, the parts digest as one stream.
			for i := 0; i <= len(v.data); i += 7 {
				if c := CRC32C(v.data[:i], nil, v.data[i:]); c != got {
					t.Errorf("CRC32C split at %d = %#08x, want %#08x", i, c, got)
				}
			}
		})
	}
}

// TestRFC7143_B_4_HeaderDigestOnWire sends the appendix's READ(10) PDU with
// header digests and expects the appendix's CRC bytes after the BHS.
func TestRFC7143_B_4_HeaderDigestOnWire(t *testing.T) {
	cmd := SCSICommand{Final: true, Read: true, ITT: 0x14000000, ExpectedDataTransferLength: 1024,
		CmdSN: 0x14, ExpStatSN: 0x18, CDB: [16]byte{0x28, 0, 0, 0, 0, 0, 0, 0, 0x02}}
	var h Header
	cmd.Encode(&h)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Opts.HeaderDigest = true
	if err := w.Write(&h, nil, nil); err != nil {
		t.Fatal(err)
	}
	v := rfcB4(t)[4]
	want := append(append([]byte{}, v.data...), v.wire...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("wire:\n% x\nwant\n% x", buf.Bytes(), want)
	}
	r := NewReader(bytes.NewReader(want))
	r.Opts.HeaderDigest = true
	var p PDU
	if err := r.Read(&p); err != nil {
		t.Fatalf("Read of the appendix PDU: %v", err)
	}
	var got SCSICommand
	got.Decode(&p.Header)
	if got != cmd {
		t.Errorf("decoded %+v, want %+v", got, cmd)
	}
}

func TestPad(t *testing.T) {
	for n, want := range []int{0, 3, 2, 1, 0, 3, 2, 1, 0} {
		if got := pad(n); got != want {
			t.Errorf("pad(%d) = %d, want %d", n, got, want)
		}
	}
}
