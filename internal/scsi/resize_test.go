package scsi

import "testing"

// SBC-3 4.10 / SPC-4 table: CAPACITY DATA HAS CHANGED after Resize, on
// every nexus; READ CAPACITY reports the new size.
func TestSBC3_4_10_CapacityDataChanged(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 2048)
	if err := tl.lu.Resize(4096 * 512); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Nexus{nexusA, nexusB} {
		wantCheck(t, tl.as(n, make([]byte, 6), nil), keyUnitAttention, ascCapacityDataChanged)
	}
	r := tl.do(cdb10(opReadCapacity10, 0, 0, 0), nil)
	wantGood(t, r)
	if be32(r.Data) != 4095 {
		t.Fatalf("last LBA %d", be32(r.Data))
	}
	wantGood(t, tl.do(cdb10(opWrite10, 0, 4095, 1), make([]byte, 512)))
	for _, bad := range []int64{0, 100, 1024 * 512} {
		if err := tl.lu.Resize(bad); err == nil {
			t.Errorf("Resize(%d) succeeded", bad)
		}
	}
}
