package pdu

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestRFC7143_6_1_TextRoundTrip(t *testing.T) {
	for _, kvs := range [][]KV{
		nil,
		{{"InitiatorName", "iqn.1994-05.com.redhat:client"}},
		{{"SessionType", "Normal"}, {"TargetName", "iqn.2026-01.org.halun:disk0"},
			{"HeaderDigest", "CRC32C,None"}, {"MaxRecvDataSegmentLength", "262144"}},
		{{"X-com.example.Empty", ""}, {"CHAP_C", "0x" + strings.Repeat("ab", 1024)}},
		{{"K", "a=b=c"}, {"K", "duplicate keys keep order"}},
		{{strings.Repeat("K", MaxKeyLen), strings.Repeat("v", MaxValueLen)}},
	} {
		b := AppendText(nil, kvs)
		got, err := ParseText(b)
		if err != nil {
			t.Fatalf("ParseText(AppendText(%v)): %v", kvs, err)
		}
		if !reflect.DeepEqual(got, kvs) {
			t.Errorf("round trip:\n got %v\nwant %v", got, kvs)
		}
	}
	// AppendText appends.
	b := AppendText([]byte("A=1\x00"), []KV{{"B", "2"}})
	if string(b) != "A=1\x00B=2\x00" {
		t.Errorf("AppendText onto a prefix = %q", b)
	}
}

func TestRFC7143_6_1_TextExactBytes(t *testing.T) {
	b := AppendText(nil, []KV{{"SendTargets", "All"}})
	if !bytes.Equal(b, []byte("SendTargets=All\x00")) {
		t.Errorf("got %q", b)
	}
	got, err := ParseText([]byte("HeaderDigest=None\x00\x00\x00DataDigest=None\x00\x00"))
	if err != nil || !reflect.DeepEqual(got, []KV{{"HeaderDigest", "None"}, {"DataDigest", "None"}}) {
		t.Errorf("padding NULs: %v, %v", got, err)
	}
}

func TestRFC7143_6_1_MalformedText(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen+1)
	for _, c := range []struct{ name, in, err string }{
		{"no NUL terminator", "A=1", "without NUL"},
		{"last pair without NUL", "A=1\x00B=2", "without NUL"},
		{"no equals sign", "Abc\x00", "no key=value form"},
		{"empty key", "=value\x00", "no key=value form"},
		{"key too long", long + "=v\x00", "exceeds 63"},
		{"value too long", "K=" + strings.Repeat("v", MaxValueLen+1) + "\x00", "exceeds 8192"},
	} {
		t.Run(c.name, func(t *testing.T) {
			kvs, err := ParseText([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseText = %v, %v; want error containing %q", kvs, err, c.err)
			}
		})
	}
	// The error for a long malformed pair quotes only its start.
	_, err := ParseText([]byte(strings.Repeat("x", 1000) + "\x00"))
	if err == nil || len(err.Error()) > 100 {
		t.Errorf("error for a long pair: %v", err)
	}
}

func TestRFC7143_6_1_KeyLengthLimit(t *testing.T) {
	ok := strings.Repeat("k", MaxKeyLen)
	if kvs, err := ParseText([]byte(ok + "=v\x00")); err != nil || len(kvs) != 1 || kvs[0].Key != ok {
		t.Errorf("63-byte key: %v, %v", kvs, err)
	}
	if _, err := ParseText([]byte(ok + "k=v\x00")); err == nil {
		t.Error("64-byte key accepted")
	}
}
