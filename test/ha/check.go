package ha

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"
)

// verdict is what one trial's history shows.
type verdict struct {
	Ops, Writes, Reads int
	// Failed operations: a failed write's effect is unknown, so it is
	// concurrent with everything after its call.
	Failed int
	// Linearizable: every read returned the value of a write that could
	// have been the last before it, blocks read as registers.
	Linearizable porcupine.CheckResult
	// Stale describes the first read that returned an overwritten value
	// (a lost or stale block), found without porcupine; "" if none.
	Stale string
	// LostAcked counts acknowledged writes that the final read shows
	// lost: a write acknowledged before the final read began, while the
	// block holds the value of a write that ended before it started.
	LostAcked int
	// Torn counts reads whose block mixed two writes.
	Torn int
	// Pause is the longest time after the fault with no operation
	// completing; WriteStall the same for writes alone.
	Pause, WriteStall time.Duration
	// Final is each block's value by the final reads.
	Final map[int]uint64
}

// readHistory reads a load's operations.
func readHistory(path string) ([]op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []op
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o op
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ops = append(ops, o)
	}
	return ops, sc.Err()
}

// registerInput is a block operation for porcupine.
type registerInput struct {
	write bool
	block int
	value uint64
}

// registerModel is one register per block: a write sets it, a read
// returns it.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		var keys []int
		for _, o := range h {
			b := o.Input.(registerInput).block
			if _, ok := by[b]; !ok {
				keys = append(keys, b)
			}
			by[b] = append(by[b], o)
		}
		slices.Sort(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return uint64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(registerInput)
		if in.write {
			return true, in.value
		}
		return output.(uint64) == state.(uint64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(registerInput)
		if in.write {
			return fmt.Sprintf("write(%d, %#x)", in.block, in.value)
		}
		return fmt.Sprintf("read(%d) -> %#x", in.block, output)
	},
}

// analyze checks a trial's history. initial is each block's value before
// the trial (the previous trial's final reads; zero for a new volume);
// faultAt is when the fault was injected (Unix ns).
func analyze(ops []op, initial map[int]uint64, faultAt int64, timeout time.Duration) verdict {
	v := verdict{Final: map[int]uint64{}}
	// Each block starts with a write of its initial value that ends
	// before anything else begins.
	start := int64(math.MaxInt64)
	for _, o := range ops {
		start = min(start, o.Call)
	}
	var h []porcupine.Operation
	blocks := map[int]bool{}
	for _, o := range ops {
		blocks[o.Block] = true
	}
	for b := range blocks {
		h = append(h, porcupine.Operation{ClientId: -1, Input: registerInput{true, b, initial[b]}, Call: start - 2, Return: start - 1})
	}
	for _, o := range ops {
		v.Ops++
		if o.Write {
			v.Writes++
		} else {
			v.Reads++
		}
		if !o.OK {
			v.Failed++
			if !o.Write {
				continue // a failed read observed nothing
			}
			o.Ret = math.MaxInt64 // a failed write may take effect any time later
		}
		if o.Torn {
			v.Torn++
			continue
		}
		if o.Final {
			v.Final[o.Block] = o.Value
		}
		h = append(h, porcupine.Operation{ClientId: o.Client, Input: registerInput{o.Write, o.Block, o.Value}, Call: o.Call, Output: o.Value, Return: o.Ret})
	}
	v.Linearizable = porcupine.CheckOperationsTimeout(registerModel, h, timeout)
	v.Stale = firstStaleRead(ops, initial)
	v.LostAcked = lostAcked(ops, initial)
	v.Pause, v.WriteStall = pauses(ops, faultAt)
	return v
}

// firstStaleRead finds a successful read that returned a value some
// acknowledged write had replaced before the read began: the value's
// write (or the initial value) ended before another acknowledged write
// to the block started, and that one ended before the read started.
func firstStaleRead(ops []op, initial map[int]uint64) string {
	writes := map[int]map[uint64]op{} // block → value → its write
	for _, o := range ops {
		if o.Write {
			if writes[o.Block] == nil {
				writes[o.Block] = map[uint64]op{}
			}
			writes[o.Block][o.Value] = o
		}
	}
	for _, r := range ops {
		if r.Write || !r.OK || r.Torn {
			continue
		}
		src, ok := writes[r.Block][r.Value]
		srcRet := int64(math.MinInt64) // the initial value
		switch {
		case ok && src.OK:
			srcRet = src.Ret
		case ok:
			continue // a write of unknown outcome: may land any time
		case r.Value != initial[r.Block]:
			return fmt.Sprintf("read of block %d returned %#x, which no write wrote", r.Block, r.Value)
		}
		for _, w := range writes[r.Block] {
			if w.OK && w.Value != r.Value && w.Call > srcRet && w.Ret < r.Call {
				return fmt.Sprintf("read of block %d at %d returned %#x, overwritten by %#x acknowledged at %d", r.Block, r.Call, r.Value, w.Value, w.Ret)
			}
		}
	}
	return ""
}

// lostAcked counts acknowledged writes the final reads show lost.
func lostAcked(ops []op, initial map[int]uint64) int {
	lost := 0
	for _, f := range ops {
		if !f.Final || !f.OK || f.Torn {
			continue
		}
		srcRet := int64(math.MinInt64)
		known := f.Value == initial[f.Block]
		for _, w := range ops {
			if w.Write && w.Block == f.Block && w.Value == f.Value {
				known = true
				srcRet = w.Ret
				if !w.OK {
					srcRet = math.MaxInt64
				}
			}
		}
		if !known {
			lost++ // the block holds nothing ever written: count it
			continue
		}
		for _, w := range ops {
			if w.Write && w.OK && w.Block == f.Block && w.Value != f.Value && w.Call > srcRet && w.Ret < f.Call {
				lost++
			}
		}
	}
	return lost
}

// pauses returns the longest spans after faultAt with no operation, and
// no write, completing.
func pauses(ops []op, faultAt int64) (time.Duration, time.Duration) {
	var all, writes []int64
	for _, o := range ops {
		if o.OK && !o.Final {
			all = append(all, o.Ret)
			if o.Write {
				writes = append(writes, o.Ret)
			}
		}
	}
	return longestGap(all, faultAt), longestGap(writes, faultAt)
}

func longestGap(times []int64, from int64) time.Duration {
	slices.Sort(times)
	prev, gap := from, int64(0)
	for _, t := range times {
		if t < from {
			continue
		}
		gap = max(gap, t-prev)
		prev = t
	}
	return time.Duration(gap)
}
