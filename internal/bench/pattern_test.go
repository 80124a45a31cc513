package bench

import (
	"strings"
	"testing"
)

func TestCheckAcceptsOnlyWhatTheBlockMayHold(t *testing.T) {
	const run, worker, block, size = 0x1234, 2, 10, 4096
	w := func(seq uint64) []byte { return fill(value{Run: run, Worker: worker, Seq: seq, Block: block}, size) }
	var s blockState
	before := fill(value{Run: 99, Worker: 1, Seq: 5, Block: block}, size)
	if msg := s.check(before, run, worker, block); msg != "" {
		t.Errorf("a block never written in this run: %s", msg)
	}
	if msg := s.check(make([]byte, size), run, worker, block); msg != "" {
		t.Errorf("zeros before the first write: %s", msg)
	}
	s.wrote(1, false) // outcome unknown: old content or write 1
	for _, b := range [][]byte{before, w(1)} {
		if msg := s.check(b, run, worker, block); msg != "" {
			t.Errorf("after a failed write: %s", msg)
		}
	}
	s.wrote(2, true)
	s.wrote(3, false)
	for _, b := range [][]byte{w(2), w(3)} {
		if msg := s.check(b, run, worker, block); msg != "" {
			t.Errorf("acknowledged 2, failed 3: %s", msg)
		}
	}
	torn := w(2)
	copy(torn[size/2:], w(3)[size/2:])
	other := fill(value{Run: run, Worker: worker + 1, Seq: 2, Block: block}, size)
	misplaced := fill(value{Run: run, Worker: worker, Seq: 2, Block: block + 4}, size)
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"an older write", w(1), "holds write 1, expected write 2 (acknowledged) or one of the failed writes [3]"},
		{"a torn block", torn, "is torn"},
		{"another run's data", before, "not written by this run"},
		{"zeros", make([]byte, size), "not written by this run"},
		{"another worker's write", other, "holds worker 3's write 2"},
		{"a write for another block", misplaced, "for block 14"},
	} {
		if msg := s.check(tt.data, run, worker, block); !strings.Contains(msg, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, msg, tt.want)
		}
	}
	s.wrote(4, true)
	if msg := s.check(w(3), run, worker, block); msg == "" {
		t.Error("a failed write is still accepted after a later one was acknowledged")
	}
}
