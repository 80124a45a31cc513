package bench

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// recordSize is the length of one copy of a block's pattern; a block is
// blockSize/recordSize copies of it.
const recordSize = 32

// value identifies one write: which run, worker and write of that worker
// put it there, and the block it was meant for.
type value struct {
	Run    uint64
	Worker uint32
	Seq    uint64
	Block  uint64
}

func (v value) String() string {
	return fmt.Sprintf("worker %d write %d", v.Worker, v.Seq)
}

// fill returns a block of n bytes holding v.
func fill(v value, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+recordSize <= n; i += recordSize {
		binary.LittleEndian.PutUint64(b[i:], v.Run)
		binary.LittleEndian.PutUint32(b[i+8:], v.Worker)
		binary.LittleEndian.PutUint32(b[i+12:], 0)
		binary.LittleEndian.PutUint64(b[i+16:], v.Seq)
		binary.LittleEndian.PutUint64(b[i+24:], v.Block)
	}
	return b
}

// decode reads the value in b. torn is true when the copies disagree;
// ours says whether any copy belongs to run (a block this run never
// wrote holds whatever was there before).
func decode(b []byte, run uint64) (v value, torn, ours bool) {
	if len(b) < recordSize || len(b)%recordSize != 0 {
		return value{}, true, false
	}
	first := b[:recordSize]
	v = value{
		Run:    binary.LittleEndian.Uint64(first),
		Worker: binary.LittleEndian.Uint32(first[8:]),
		Seq:    binary.LittleEndian.Uint64(first[16:]),
		Block:  binary.LittleEndian.Uint64(first[24:]),
	}
	for i := 0; i < len(b); i += recordSize {
		rec := b[i : i+recordSize]
		if binary.LittleEndian.Uint64(rec) == run {
			ours = true
		}
		if !torn && string(rec) != string(first) {
			torn = true
		}
	}
	return v, torn, ours
}

// blockState is what a worker knows of one of its blocks.
type blockState struct {
	// acked is the last write acknowledged, if known.
	acked uint64
	known bool
	// maybe are the writes since acked whose outcome is unknown.
	maybe []uint64
}

// wrote records the outcome of a write of seq.
func (s *blockState) wrote(seq uint64, ok bool) {
	if ok {
		s.acked, s.known, s.maybe = seq, true, s.maybe[:0]
		return
	}
	s.maybe = append(s.maybe, seq)
}

// check verifies data read from block (owned by worker) against s; it
// returns a description of the problem, or "" if the data is a value the
// block may hold.
func (s *blockState) check(data []byte, run uint64, worker uint32, block uint64) string {
	v, torn, ours := decode(data, run)
	if !s.known && !ours {
		// Never acknowledged a write: the block may still hold what
		// was there before the run.
		return ""
	}
	expect := s.expected()
	switch {
	case torn:
		return fmt.Sprintf("block %d is torn (its first copy: %s of run %#x), expected %s", block, v, v.Run, expect)
	case v.Run != run:
		return fmt.Sprintf("block %d holds data not written by this run, expected %s", block, expect)
	case v.Worker != worker || v.Block != block:
		return fmt.Sprintf("block %d holds worker %d's write %d for block %d, expected %s", block, v.Worker, v.Seq, v.Block, expect)
	case s.known && v.Seq == s.acked, slices.Contains(s.maybe, v.Seq):
		return ""
	}
	return fmt.Sprintf("block %d holds write %d, expected %s", block, v.Seq, expect)
}

// expected describes what the block may hold.
func (s *blockState) expected() string {
	var e string
	if s.known {
		e = fmt.Sprintf("write %d (acknowledged)", s.acked)
	} else {
		e = "its content before the run"
	}
	if len(s.maybe) > 0 {
		e += fmt.Sprintf(" or one of the failed writes %v", s.maybe)
	}
	return e
}
