package scsi

import "testing"

func TestSPC4_7_5_8_CommandExtent(t *testing.T) {
	cases := []struct {
		name string
		cdb  []byte
		want Extent
		ok   bool
	}{
		{"READ(10)", []byte{0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0}, Extent{LBA: 100, Blocks: 8}, true},
		{"WRITE(16)", []byte{0x8a, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 16, 0, 0}, Extent{LBA: 256, Blocks: 16, Write: true}, true},
		{"WRITE(6) 0 means 256", []byte{0x0a, 0, 0, 5, 0, 0}, Extent{LBA: 5, Blocks: 256, Write: true}, true},
		{"COMPARE AND WRITE", []byte{0x89, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0}, Extent{LBA: 9, Blocks: 1, Write: true}, true},
		{"SYNCHRONIZE CACHE", []byte{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Extent{Write: true, All: true}, true},
		{"UNMAP", []byte{0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, Extent{Write: true, All: true}, true},
		{"INQUIRY", []byte{0x12, 0, 0, 0, 36, 0}, Extent{}, false},
		{"truncated", []byte{0x28, 0}, Extent{}, false},
	}
	for _, c := range cases {
		got, ok := CommandExtent(c.cdb)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: got %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestExtentOverlaps(t *testing.T) {
	r := func(lba, n uint64) Extent { return Extent{LBA: lba, Blocks: n} }
	w := func(lba, n uint64) Extent { return Extent{LBA: lba, Blocks: n, Write: true} }
	cases := []struct {
		a, b Extent
		want bool
	}{
		{r(0, 8), r(0, 8), false},
		{w(0, 8), r(7, 1), true},
		{w(0, 8), r(8, 1), false},
		{r(10, 5), w(0, 11), true},
		{w(0, 1), Extent{Write: true, All: true}, true},
		{r(0, 1), Extent{Write: true, All: true}, true},
	}
	for _, c := range cases {
		if got := c.a.Overlaps(c.b); got != c.want || c.b.Overlaps(c.a) != c.want {
			t.Errorf("%+v vs %+v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
