package pdu

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestRFC7143_11_2_2_3_ExtendedCDB: a 32-byte CDB travels as 16 bytes in the
// BHS and 16 in an extended CDB AHS whose AHSLength is CDBLength - 15 = 17 (the
// reserved byte plus 16 CDB bytes), 20 bytes with no padding.
func TestRFC7143_11_2_2_3_ExtendedCDB(t *testing.T) {
	var cdb [32]byte
	for i := range cdb {
		cdb[i] = byte(0x80 + i)
	}
	ahs := AppendAHS(nil, ExtendedCDBAHS(cdb[16:]))
	want := unhex(t, `
		00 11 01 00 // AHSLength 17, AHSType 1, reserved
		90 91 92 93 // CDB bytes 16..31
		94 95 96 97
		98 99 9a 9b
		9c 9d 9e 9f`)
	if !bytes.Equal(ahs, want) {
		t.Fatalf("extended CDB AHS:\n% x\nwant\n% x", ahs, want)
	}
	ext, _, hasBidi, err := CommandAHS(ahs)
	if err != nil || hasBidi || !bytes.Equal(ext, cdb[16:]) {
		t.Fatalf("CommandAHS = % x, %v, %v", ext, hasBidi, err)
	}

	// Through the framing: TotalAHSLength is 5 words and the header digest
	// covers the AHS.
	cmd := SCSICommand{Final: true, Read: true, ITT: 9, ExpectedDataTransferLength: 4096}
	copy(cmd.CDB[:], cdb[:16])
	var h Header
	cmd.Encode(&h)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Opts.HeaderDigest = true
	if err := w.Write(&h, ahs, nil); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 48+20+4 || buf.Bytes()[4] != 5 {
		t.Fatalf("PDU of %d bytes, TotalAHSLength byte %d; want 72 and 5", buf.Len(), buf.Bytes()[4])
	}
	r := NewReader(&buf)
	r.Opts.HeaderDigest = true
	var p PDU
	if err := r.Read(&p); err != nil {
		t.Fatal(err)
	}
	var got SCSICommand
	got.Decode(&p.Header)
	ext, _, _, err = CommandAHS(p.AHS)
	if err != nil {
		t.Fatal(err)
	}
	full := append(got.CDB[:], ext...)
	if !bytes.Equal(full, cdb[:]) {
		t.Errorf("reassembled CDB % x, want % x", full, cdb)
	}
}

// A 17-byte CDB needs one byte of AHS: AHSLength 2, padded to 8 bytes.
func TestRFC7143_11_2_2_3_ExtendedCDBPadding(t *testing.T) {
	ahs := AppendAHS(nil, ExtendedCDBAHS([]byte{0xee}))
	want := unhex(t, "00 02 01 00  ee 00 00 00")
	if !bytes.Equal(ahs, want) {
		t.Fatalf("got % x, want % x", ahs, want)
	}
	ext, _, _, err := CommandAHS(ahs)
	if err != nil || !bytes.Equal(ext, []byte{0xee}) {
		t.Fatalf("CommandAHS = % x, %v", ext, err)
	}
}

func TestRFC7143_11_2_2_4_BidiReadLength(t *testing.T) {
	ahs := AppendAHS(nil, BidiReadLengthAHS(0x00010000))
	want := unhex(t, `
		00 05 02 00 // AHSLength 5, AHSType 2, reserved
		00 01 00 00 // Bidirectional Read Expected Data Transfer Length`)
	if !bytes.Equal(ahs, want) {
		t.Fatalf("got % x, want % x", ahs, want)
	}
	ext, n, ok, err := CommandAHS(ahs)
	if err != nil || !ok || n != 0x10000 || ext != nil {
		t.Fatalf("CommandAHS = % x, %#x, %v, %v", ext, n, ok, err)
	}
	// Both AHS in one command.
	both := AppendAHS(AppendAHS(nil, ExtendedCDBAHS([]byte{1, 2, 3})), BidiReadLengthAHS(7))
	ext, n, ok, err = CommandAHS(both)
	if err != nil || !ok || n != 7 || !bytes.Equal(ext, []byte{1, 2, 3}) {
		t.Fatalf("CommandAHS(both) = % x, %d, %v, %v", ext, n, ok, err)
	}
	segs, err := ParseAHS(both)
	if err != nil {
		t.Fatal(err)
	}
	wantSegs := []AHSSegment{{AHSExtendedCDB, []byte{0, 1, 2, 3}}, {AHSBidiReadLength, []byte{0, 0, 0, 0, 7}}}
	if !reflect.DeepEqual(segs, wantSegs) {
		t.Errorf("ParseAHS = %v, want %v", segs, wantSegs)
	}
}

func TestRFC7143_11_2_2_MalformedAHS(t *testing.T) {
	for _, c := range []struct {
		name, hex, err string
		parseOK        bool // ParseAHS accepts it, CommandAHS does not
	}{
		{name: "truncated AHS header", hex: "00 05 02", err: "truncated"},
		{name: "AHSLength 0", hex: "00 00 01 00", err: "AHSLength 0"},
		{name: "length beyond area", hex: "00 09 01 00 00 00 00 00", err: "exceeds"},
		{name: "missing padding", hex: "00 02 01 00 ee", err: "exceeds"},
		{name: "huge AHSLength", hex: "ff ff 01 00 00 00 00 00", err: "exceeds"},
		{name: "second segment truncated", hex: "00 01 01 00 00 01", err: "truncated"},
		{name: "unknown type", hex: "00 01 03 00", err: "unknown AHS type 3", parseOK: true},
		{name: "extended CDB without CDB bytes", hex: "00 01 01 00", err: "no CDB bytes", parseOK: true},
		{name: "bidi length too short", hex: "00 04 02 00 00 00 01 00", err: "want 5", parseOK: true},
		{name: "bidi length too long", hex: "00 06 02 00 00 00 01 00 00 00 00 00", err: "want 5", parseOK: true},
		{name: "two extended CDBs", hex: "00 02 01 00 aa 00 00 00 00 02 01 00 bb 00 00 00", err: "more than one extended", parseOK: true},
		{name: "two bidi lengths", hex: "00 05 02 00 00 00 00 01 00 05 02 00 00 00 00 02", err: "more than one bidirectional", parseOK: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := unhex(t, c.hex)
			_, perr := ParseAHS(b)
			if (perr == nil) != c.parseOK {
				t.Errorf("ParseAHS error = %v, want error: %v", perr, !c.parseOK)
			}
			_, _, _, err := CommandAHS(b)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("CommandAHS error = %v, want one containing %q", err, c.err)
			}
		})
	}
	if segs, err := ParseAHS(nil); err != nil || segs != nil {
		t.Errorf("ParseAHS(nil) = %v, %v", segs, err)
	}
}

// Segment data must not let an append overwrite the next segment.
func TestParseAHSDataCapacity(t *testing.T) {
	both := AppendAHS(AppendAHS(nil, ExtendedCDBAHS([]byte{1, 2, 3, 4, 5})), BidiReadLengthAHS(7))
	segs, err := ParseAHS(both)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(segs[0].Data, 0xff, 0xff, 0xff)
	if _, n, _, err := CommandAHS(both); err != nil || n != 7 {
		t.Errorf("after append to segment data: %d, %v", n, err)
	}
}
