package bench

import (
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 12345, 1 << 30, 1<<63 - 1} {
		b := bucketOf(us)
		if b < prev || b >= len(histogram{}.counts) {
			t.Fatalf("bucketOf(%d) = %d after %d", us, b, prev)
		}
		if up := upper(b); up < us || (b > 0 && upper(b-1) >= us) {
			t.Fatalf("%d µs in bucket %d with bounds (%d, %d]", us, b, upper(b-1), up)
		}
		prev = b
	}
}

func TestQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("an empty histogram has a median")
	}
	for i := 1; i <= 100; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 51 * time.Millisecond}, {0.99, 100 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		got := h.quantile(tt.q)
		if got < tt.want-tt.want/16 || got > tt.want+tt.want/16 {
			t.Errorf("quantile(%v) = %v, want %v within 1/16", tt.q, got, tt.want)
		}
	}
	var o histogram
	o.add(time.Second)
	h.merge(&o)
	if h.n != 101 || h.max != time.Second {
		t.Errorf("after merge: %d samples, max %v", h.n, h.max)
	}
}
