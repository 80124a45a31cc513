package ha

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The checker must be able to fail: each history below is built by hand
// with a known defect (or none), and analyze must say so.
func TestAnalyze_FindsWhatIsWrong(t *testing.T) {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	w := func(c, b int, v uint64, call, ret int64, ok bool) op {
		return op{Client: c, Write: true, Block: b, Value: v, Call: ms(call), Ret: ms(ret), OK: ok}
	}
	r := func(c, b int, v uint64, call, ret int64) op {
		return op{Client: c, Block: b, Value: v, Call: ms(call), Ret: ms(ret), OK: true}
	}
	final := func(b int, v uint64, call, ret int64) op {
		o := r(9, b, v, call, ret)
		o.Final = true
		return o
	}
	tests := []struct {
		name       string
		ops        []op
		initial    map[int]uint64
		wantOK     bool
		wantStale  bool
		wantLost   int
		wantPause  time.Duration
		wantFailed int
	}{
		{name: "sequential writes and reads",
			ops:    []op{w(0, 0, 1, 0, 1, true), r(1, 0, 1, 2, 3), w(0, 0, 2, 4, 5, true), r(1, 0, 2, 6, 7), final(0, 2, 10, 11)},
			wantOK: true, wantPause: 2 * time.Millisecond},
		{name: "a read concurrent with a write may see either value",
			ops:    []op{w(0, 0, 1, 0, 1, true), w(0, 0, 2, 2, 6, true), r(1, 0, 1, 3, 4), r(2, 0, 2, 3, 5), final(0, 2, 10, 11)},
			wantOK: true, wantPause: 3 * time.Millisecond},
		{name: "stale read after an acknowledged write",
			ops:    []op{w(0, 0, 1, 0, 1, true), w(0, 0, 2, 2, 3, true), r(1, 0, 1, 4, 5), final(0, 2, 10, 11)},
			wantOK: false, wantStale: true, wantPause: 2 * time.Millisecond},
		{name: "acknowledged write lost",
			ops:    []op{w(0, 0, 1, 0, 1, true), w(0, 0, 2, 2, 3, true), final(0, 1, 10, 11)},
			wantOK: false, wantStale: true, wantLost: 1, wantPause: 2 * time.Millisecond},
		{name: "initial value lost",
			ops:     []op{r(1, 0, 0, 0, 1), final(0, 0, 10, 11)},
			initial: map[int]uint64{0: 7},
			wantOK:  false, wantStale: true, wantLost: 1, wantPause: time.Millisecond},
		{name: "a failed write may land later",
			ops:    []op{w(0, 0, 1, 0, 1, true), w(0, 0, 2, 2, 3, false), r(1, 0, 1, 4, 5), final(0, 2, 10, 11)},
			wantOK: true, wantFailed: 1, wantPause: 4 * time.Millisecond},
		{name: "blocks are independent registers",
			ops:    []op{w(0, 0, 1, 0, 1, true), w(1, 1, 2, 0, 1, true), r(0, 1, 2, 2, 3), r(1, 0, 1, 2, 3), final(0, 1, 10, 11), final(1, 2, 12, 13)},
			wantOK: true, wantPause: 2 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := analyze(tc.ops, tc.initial, 0, 10*time.Second)
			if ok := v.Linearizable == porcupine.Ok; ok != tc.wantOK {
				t.Errorf("linearizable %v, want ok %v", v.Linearizable, tc.wantOK)
			}
			if (v.Stale != "") != tc.wantStale {
				t.Errorf("stale %q, want found %v", v.Stale, tc.wantStale)
			}
			if v.LostAcked != tc.wantLost {
				t.Errorf("lost %d, want %d", v.LostAcked, tc.wantLost)
			}
			if v.Failed != tc.wantFailed {
				t.Errorf("failed %d, want %d", v.Failed, tc.wantFailed)
			}
			if v.Pause != tc.wantPause {
				t.Errorf("pause %v, want %v", v.Pause, tc.wantPause)
			}
		})
	}
}

func TestBlockEncoding_DetectsTornBlocks(t *testing.T) {
	b := fill(0x1234)
	if v, torn := decode(b); v != 0x1234 || torn {
		t.Fatalf("decode(fill) = %#x, %v", v, torn)
	}
	copy(b[2048:], fill(0x99)[:512])
	if _, torn := decode(b); !torn {
		t.Fatal("a block mixing two writes is not reported torn")
	}
}
