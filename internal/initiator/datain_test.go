package initiator

import (
	"bytes"
	"strings"
	"testing"
)

// TestAssembler checks Data-In reassembly (RFC 7143 §11.7.4-11.7.5: DataSN
// per command from 0, buffer offsets, DataPDUInOrder).
func TestAssembler(t *testing.T) {
	type pdu struct {
		sn, off uint32
		data    string
	}
	cases := []struct {
		name    string
		size    int
		inOrder bool
		pdus    []pdu
		want    string // reassembled data, or "ERR:substring" for an add error, "HOLE" for a completion error
	}{
		{"single", 5, true, []pdu{{0, 0, "hello"}}, "hello"},
		{"in order", 6, true, []pdu{{0, 0, "ab"}, {1, 2, "cd"}, {2, 4, "ef"}}, "abcdef"},
		{"short transfer (underflow)", 10, true, []pdu{{0, 0, "ab"}, {1, 2, "cd"}}, "abcd"},
		{"no data", 10, true, nil, ""},
		{"empty PDU", 4, true, []pdu{{0, 0, ""}, {1, 0, "abcd"}}, "abcd"},
		{"DataSN gap", 6, true, []pdu{{0, 0, "ab"}, {2, 2, "cd"}}, "ERR:DataSN sequence number 2, expected 1"},
		{"DataSN not from 0", 6, true, []pdu{{1, 0, "ab"}}, "ERR:DataSN sequence number 1, expected 0"},
		{"offset out of order", 6, true, []pdu{{0, 0, "ab"}, {1, 4, "ef"}}, "ERR:expected 2"},
		{"beyond expected length", 4, true, []pdu{{0, 0, "abc"}, {1, 3, "de"}}, "ERR:exceeds"},
		{"huge offset", 4, false, []pdu{{0, 0xffffffff, "a"}}, "ERR:exceeds"},
		{"out of order allowed", 6, false, []pdu{{0, 4, "ef"}, {1, 0, "ab"}, {2, 2, "cd"}}, "abcdef"},
		{"overlap", 6, false, []pdu{{0, 0, "abcd"}, {1, 2, "xx"}}, "ERR:overlaps"},
		{"overlap before", 6, false, []pdu{{0, 2, "cd"}, {1, 1, "xx"}}, "ERR:overlaps"},
		{"hole", 6, false, []pdu{{0, 0, "ab"}, {1, 4, "ef"}}, "HOLE"},
		{"hole at start", 6, false, []pdu{{0, 2, "cd"}}, "HOLE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAssembler(make([]byte, c.size), c.inOrder)
			for _, p := range c.pdus {
				if err := a.add(p.sn, p.off, []byte(p.data)); err != nil {
					if !strings.HasPrefix(c.want, "ERR:") || !strings.Contains(err.Error(), c.want[4:]) {
						t.Fatalf("add %+v: %v, want %s", p, err, c.want)
					}
					return
				}
			}
			got, err := a.complete()
			if c.want == "HOLE" {
				if err == nil {
					t.Fatalf("complete: %q, want a hole error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, []byte(c.want)) {
				t.Fatalf("complete: %q %v, want %q", got, err, c.want)
			}
			if a.count() != uint32(len(c.pdus)) {
				t.Fatalf("count %d, want %d", a.count(), len(c.pdus))
			}
		})
	}
}

// TestAssemblerR2TShare checks that R2TSN and DataSN share one sequence
// for bidirectional commands (RFC 7143 §11.7.5).
func TestAssemblerR2TShare(t *testing.T) {
	a := newAssembler(make([]byte, 4), true)
	if err := a.sn("R2TSN", 0); err != nil {
		t.Fatal(err)
	}
	if err := a.add(1, 0, []byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := a.sn("R2TSN", 2); err != nil {
		t.Fatal(err)
	}
	if err := a.add(2, 2, []byte("cd")); err == nil {
		t.Fatal("DataSN 2 accepted after R2TSN 2")
	}
}
