package iscsi

import "testing"

func TestBufPoolClasses(t *testing.T) {
	for _, n := range []int{1, 512, 4096, 4097, 65536, 1 << 20, 1<<20 + 1, 16 << 20, 16<<20 + 1} {
		b := getBuf(n)
		if len(b) != n {
			t.Fatalf("getBuf(%d) has length %d", n, len(b))
		}
		if n <= 16<<20 && (cap(b) < n || cap(b)&(cap(b)-1) != 0) {
			t.Fatalf("getBuf(%d) capacity %d is not its power-of-two class", n, cap(b))
		}
		putBuf(b)
	}
}

func BenchmarkBufPool64K(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		putBuf(getBuf(65536))
	}
}
