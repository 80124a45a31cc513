package initiator

import (
	"encoding/binary"
	"fmt"
	"testing"
)

func TestParseSense(t *testing.T) {
	fixed := make([]byte, 18)
	fixed[0], fixed[2], fixed[7], fixed[12], fixed[13] = 0x70, 0x05, 10, 0x24, 0x01
	desc := []byte{0x72, 0x06, 0x29, 0x02, 0, 0, 0, 0}
	cases := []struct {
		b              []byte
		key, asc, ascq uint8
		ok             bool
	}{
		{fixed, 5, 0x24, 1, true},
		{desc, 6, 0x29, 2, true},
		{fixed[:3], 5, 0, 0, true},
		{[]byte{0xf0, 0, 3}, 3, 0, 0, true}, // VALID bit set
		{nil, 0, 0, 0, false},
		{[]byte{0x72, 1}, 0, 0, 0, false},
		{[]byte{0x10, 1, 2, 3}, 0, 0, 0, false},
	}
	for i, c := range cases {
		k, a, q, ok := ParseSense(c.b)
		if k != c.key || a != c.asc || q != c.ascq || ok != c.ok {
			t.Errorf("case %d: %d %#x %#x %v", i, k, a, q, ok)
		}
	}
}

// TestParseResponseData checks RFC 7143 §11.4.7 (SenseLength + sense data).
func TestParseResponseData(t *testing.T) {
	sense, rest, err := ParseResponseData([]byte{0, 3, 1, 2, 3, 9})
	if err != nil || string(sense) != "\x01\x02\x03" || string(rest) != "\x09" {
		t.Fatal(sense, rest, err)
	}
	if s, r, err := ParseResponseData(nil); s != nil || r != nil || err != nil {
		t.Fatal(s, r, err)
	}
	if s, _, err := ParseResponseData([]byte{0, 0}); s != nil || err != nil {
		t.Fatal(s, err)
	}
	for _, b := range [][]byte{{0}, {0, 4, 1, 2, 3}} {
		if _, _, err := ParseResponseData(b); err == nil {
			t.Errorf("%v accepted", b)
		}
	}
}

func TestResponseErr(t *testing.T) {
	r := &Response{Status: StatusCheckCondition, Sense: []byte{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0}}
	err := r.Err()
	se, ok := err.(*SCSIError)
	if !ok || se.SenseKey != 5 || se.ASC != 0x20 {
		t.Fatal(err)
	}
	if (&Response{Status: StatusGood}).Err() != nil {
		t.Fatal("GOOD is an error")
	}
	if _, ok := (&Response{Response: 1}).Err().(*ResponseError); !ok {
		t.Fatal("target failure not a ResponseError")
	}
	if e := (&Response{Status: StatusReservationConflict}).Err().(*SCSIError); e.Status != 0x18 {
		t.Fatal(e)
	}
}

// TestLUN checks SAM-5 §4.7 peripheral and flat space addressing.
func TestLUN(t *testing.T) {
	cases := []struct{ n, field uint64 }{
		{0, 0},
		{1, 0x0001_0000_0000_0000},
		{255, 0x00ff_0000_0000_0000},
		{256, 0x4100_0000_0000_0000},
		{16383, 0x7fff_0000_0000_0000},
	}
	for _, c := range cases {
		if got := EncodeLUN(c.n); got != c.field {
			t.Errorf("EncodeLUN(%d) = %#x, want %#x", c.n, got, c.field)
		}
		if got := DecodeLUN(c.field); got != c.n {
			t.Errorf("DecodeLUN(%#x) = %d, want %d", c.field, got, c.n)
		}
	}
	for _, raw := range []uint64{0x0001_0000_0000_0001, 0x0101_0000_0000_0000, 0xc000_0000_0000_0000} {
		if EncodeLUN(raw) != raw || DecodeLUN(raw) != raw {
			t.Errorf("raw %#x not passed through", raw)
		}
	}
}

func TestParseReportLUNs(t *testing.T) {
	b := make([]byte, 8+3*8)
	binary.BigEndian.PutUint32(b, 3*8)
	binary.BigEndian.PutUint64(b[8:], EncodeLUN(0))
	binary.BigEndian.PutUint64(b[16:], EncodeLUN(1))
	binary.BigEndian.PutUint64(b[24:], EncodeLUN(300))
	luns, need, err := ParseReportLUNs(b)
	if err != nil || need != len(b) || fmt.Sprint(luns) != "[0 1 300]" {
		t.Fatal(luns, need, err)
	}
	// Truncated by the allocation length.
	luns, need, err = ParseReportLUNs(b[:16])
	if err != nil || need != 32 || fmt.Sprint(luns) != "[0]" {
		t.Fatal(luns, need, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 5, 0, 0, 0, 0}} {
		if _, _, err := ParseReportLUNs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestParseSendTargets checks RFC 7143 Appendix C answers.
func TestParseSendTargets(t *testing.T) {
	got, err := ParseSendTargets(kvs("TargetName=iqn.a TargetAddress=10.0.0.1:3260,1 TargetAddress=[fe80::1]:3261,2 " +
		"TargetAlias=x TargetName=iqn.b TargetAddress=host.example,7"))
	if err != nil {
		t.Fatal(err)
	}
	want := "[{iqn.a [{10.0.0.1:3260 1} {[fe80::1]:3261 2}]} {iqn.b [{host.example:3260 7}]}]"
	if fmt.Sprint(got) != want {
		t.Fatalf("%v, want %s", got, want)
	}
	for _, bad := range []string{"TargetAddress=1.2.3.4:3260,1", "TargetName=", "TargetName=a TargetAddress=1.2.3.4:3260,x",
		"TargetName=a TargetAddress=,1", "TargetName=a TargetAddress=1.2.3.4:0,1", "TargetName=a TargetAddress=1.2.3.4:99999"} {
		if _, err := ParseSendTargets(kvs(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if p, err := ParsePortal("::1"); err != nil || p.Addr != "[::1]:3260" {
		t.Errorf("%v %v", p, err)
	}
}
