package scsi

import (
	"bytes"
	"testing"
)

func TestSBC3_5_11_ReadWriteRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		write []byte
		read  []byte
	}{
		{"6", cdb6(opWrite6, 10, 2), cdb6(opRead6, 10, 2)},
		{"10", cdb10(opWrite10, 0, 10, 2), cdb10(opRead10, 0, 10, 2)},
		{"12", cdb12(opWrite12, 0, 10, 2), cdb12(opRead12, 0, 10, 2)},
		{"16", cdb16(opWrite16, 0, 10, 2), cdb16(opRead16, 0, 10, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{}, 1000)
			d := fill(1024, c.name[0])
			r := tl.do(c.write, d)
			wantGood(t, r)
			if r.DataOutLength != 1024 {
				t.Errorf("DataOutLength = %d, want 1024", r.DataOutLength)
			}
			r = tl.do(c.read, nil)
			wantGood(t, r)
			if !bytes.Equal(r.Data, d) {
				t.Fatal("read data differs from written")
			}
		})
	}
}

func TestSBC3_5_11_Read10_LBAOutOfRange(t *testing.T) {
	const blocks = 1000
	cases := []struct {
		name string
		cdb  []byte
	}{
		{"read6 one past end", cdb6(opRead6, blocks, 1)},
		{"read6 last block, two blocks", cdb6(opRead6, blocks-1, 2)},
		{"read10 past end", cdb10(opRead10, 0, blocks, 1)},
		{"read10 0 blocks one past end", cdb10(opRead10, 0, blocks+1, 0)},
		{"read10 lba 2^31", cdb10(opRead10, 0, 1<<31, 1)},
		{"read10 lba -1", cdb10(opRead10, 0, 0xffffffff, 1)},
		{"read12 straddling end", cdb12(opRead12, 0, blocks-1, 2)},
		{"read16 lba 2^63", cdb16(opRead16, 0, 1<<63, 1)},
		{"read16 lba -1 wraps", cdb16(opRead16, 0, ^uint64(0), 2)},
		{"write10 past end", cdb10(opWrite10, 0, blocks, 1)},
		{"write16 lba -1", cdb16(opWrite16, 0, ^uint64(0), 1)},
		{"verify10 past end", cdb10(opVerify10, 0, blocks, 1)},
		{"writeverify12 past end", cdb12(opWriteVerify12, 0, blocks, 1)},
		{"synccache10 past end", cdb10(opSyncCache10, 0, blocks, 1)},
		{"prefetch16 past end", cdb16(opPreFetch16, 0, blocks, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{}, blocks)
			wantCheck(t, tl.do(c.cdb, make([]byte, 1024)), keyIllegalRequest, ascLBAOutOfRange)
		})
	}
}

func TestSBC3_5_11_ZeroTransferLength(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	for _, cdb := range [][]byte{
		cdb10(opRead10, 0, 0, 0), cdb12(opRead12, 0, 99, 0), cdb16(opRead16, 0, 100, 0),
		cdb10(opWrite10, 0, 0, 0), cdb16(opWrite16, 0, 100, 0), cdb10(opVerify10, 0, 5, 0),
	} {
		r := tl.do(cdb, nil)
		wantGood(t, r)
		if len(r.Data) != 0 {
			t.Errorf("%x: %d bytes of data for zero blocks", cdb[0], len(r.Data))
		}
	}
}

func TestSBC3_5_10_Read6_ZeroMeans256(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 1000)
	r := tl.do(cdb6(opRead6, 0, 0), nil)
	wantGood(t, r)
	if len(r.Data) != 256*512 {
		t.Fatalf("READ(6) length 0 returned %d bytes, want 256 blocks", len(r.Data))
	}
	r = tl.do(cdb6(opWrite6, 0, 0), make([]byte, 256*512))
	wantGood(t, r)
	if r.DataOutLength != 256*512 {
		t.Fatalf("WRITE(6) length 0 DataOutLength %d, want 256 blocks", r.DataOutLength)
	}
}

func TestSBC3_5_11_ProtectFieldWithoutProtection(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	for _, cdb := range [][]byte{
		cdb10(opRead10, 0x20, 0, 1), cdb12(opRead12, 0x40, 0, 1), cdb16(opRead16, 0xe0, 0, 1),
		cdb10(opWrite10, 0x20, 0, 1), cdb16(opWrite16, 0x60, 0, 1), cdb10(opVerify10, 0x20, 0, 1),
	} {
		s := wantCheck(t, tl.do(cdb, make([]byte, 512)), keyIllegalRequest, ascInvalidFieldInCDB)
		if s.sks != fieldPointer(true, 1, 7) {
			t.Errorf("%x: sense key specific % x, want CDB byte 1 bit 7", cdb[0], s.sks)
		}
	}
}

func TestSBC3_4_15_WriteDurability(t *testing.T) {
	cases := []struct {
		name      string
		cache     bool
		cdb       []byte
		wantSyncs int64
	}{
		{"write-back, no FUA", true, cdb10(opWrite10, 0, 0, 1), 0},
		{"write-back, FUA", true, cdb10(opWrite10, 0x08, 0, 1), 1},
		{"write-back, FUA 16", true, cdb16(opWrite16, 0x08, 0, 1), 1},
		{"write-back, DPO only", true, cdb12(opWrite12, 0x10, 0, 1), 0},
		{"write-through", false, cdb10(opWrite10, 0, 0, 1), 1},
		{"write-through, write6", false, cdb6(opWrite6, 0, 1), 1},
		{"write and verify syncs", true, cdb10(opWriteVerify10, 0, 0, 1), 1},
		{"synchronize cache", true, cdb10(opSyncCache10, 0, 0, 0), 1},
		{"synchronize cache 16", true, cdb16(opSyncCache16, 0x02, 0, 0), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{WriteCache: c.cache}, 100)
			before := tl.store.syncs.Load()
			wantGood(t, tl.do(c.cdb, make([]byte, 512)))
			if got := tl.store.syncs.Load() - before; got != c.wantSyncs {
				t.Fatalf("%d syncs, want %d", got, c.wantSyncs)
			}
		})
	}
}

// TestSBC3_WriteResiduals follows libiscsi's iSCSIResiduals write tests:
// the store receives min(EDTL, SPDTL) bytes when that is whole blocks, a
// partial block is refused with INVALID FIELD IN COMMAND INFORMATION UNIT,
// and data beyond the truncation point is never written.
func TestSBC3_WriteResiduals(t *testing.T) {
	const bs = 512
	cases := []struct {
		name     string
		cdb      []byte
		sent     int
		wantB    int // bytes that become 'b'
		wantGood bool
	}{
		{"1 block, EDTL 0", cdb10(opWrite10, 0, 0, 1), 0, 0, true},
		{"1 block, EDTL 10000", cdb10(opWrite10, 0, 0, 1), 10000, bs, true},
		{"1 block, EDTL 200", cdb10(opWrite10, 0, 0, 1), 200, 0, false},
		{"2 blocks, EDTL 1 block", cdb10(opWrite10, 0, 0, 2), bs, bs, true},
		{"1 block, EDTL 2 blocks", cdb12(opWrite12, 0, 0, 1), 2 * bs, bs, true},
		{"2 blocks, EDTL 1.5 blocks", cdb16(opWrite16, 0, 0, 2), bs + bs/2, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{}, 100)
			wantGood(t, tl.do(cdb10(opWrite10, 0, 0, 20), fill(20*bs, 'a')))
			r := tl.do(c.cdb, fill(c.sent, 'b'))
			if c.wantGood {
				wantGood(t, r)
			} else {
				wantCheck(t, r, keyIllegalRequest, ascInvalidFieldInCommandIU)
			}
			_, n, _ := lbaRange(pad16(c.cdb))
			if r.DataOutLength != n*bs {
				t.Errorf("DataOutLength %d, want %d", r.DataOutLength, n*bs)
			}
			got := tl.do(cdb10(opRead10, 0, 0, 20), nil).Data
			for i, b := range got {
				want := byte('a')
				if i < c.wantB {
					want = 'b'
				}
				if b != want {
					t.Fatalf("byte %d = %q, want %q", i, b, want)
				}
			}
		})
	}
}

func TestSPC4_ReadOnlyDataProtect(t *testing.T) {
	tl := newTestLU(t, LUConfig{ReadOnly: true, Thin: true}, 100)
	for _, cdb := range [][]byte{
		cdb6(opWrite6, 0, 1), cdb10(opWrite10, 0, 0, 1), cdb12(opWrite12, 0, 0, 1), cdb16(opWrite16, 0, 0, 1),
		cdb10(opWriteVerify10, 0, 0, 1), cdb16(opWriteVerify16, 0, 0, 1), cdb10(opWriteSame10, 0, 0, 1),
		cdb16(opWriteSame16, 0x08, 0, 1), cdb10(opUnmap, 0, 0, 24), cdb16(opCompareAndWrite, 0, 0, 0),
		cdb16(opOrWrite16, 0, 0, 1),
	} {
		wantCheck(t, tl.do(cdb, make([]byte, 1024)), keyDataProtect, ascWriteProtected)
	}
	wantGood(t, tl.do(cdb10(opRead10, 0, 0, 1), nil))
}

func TestSBC3_5_35_VerifyByteCheck(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	d := fill(2048, 'x')
	wantGood(t, tl.do(cdb10(opWrite10, 0, 8, 4), d))

	// BYTCHK 0: medium check only.
	wantGood(t, tl.do(cdb10(opVerify10, 0, 8, 4), nil))
	// BYTCHK 01b: compare; matching data is GOOD.
	r := tl.do(cdb12(opVerify12, 0x02, 8, 4), d)
	wantGood(t, r)
	if r.DataOutLength != 2048 {
		t.Errorf("VERIFY BYTCHK=1 DataOutLength %d", r.DataOutLength)
	}
	// A difference at byte 1000 is MISCOMPARE with INFORMATION 1000.
	bad := append([]byte(nil), d...)
	bad[1000] = 'y'
	s := wantCheck(t, tl.do(cdb16(opVerify16, 0x02, 8, 4), bad), keyMiscompare, ascMiscompareDuringVerify)
	if !s.infoValid || s.info != 1000 {
		t.Errorf("INFORMATION %d (valid %v), want offset 1000", s.info, s.infoValid)
	}
	// BYTCHK 11b: one block compared against each.
	r = tl.do(cdb10(opVerify10, 0x06, 8, 4), d[:512])
	wantGood(t, r)
	if r.DataOutLength != 512 {
		t.Errorf("VERIFY BYTCHK=3 DataOutLength %d", r.DataOutLength)
	}
	wantCheck(t, tl.do(cdb10(opVerify10, 0x06, 7, 4), d[:512]), keyMiscompare, ascMiscompareDuringVerify)
	// BYTCHK 10b is reserved.
	wantCheck(t, tl.do(cdb10(opVerify10, 0x04, 8, 4), d), keyIllegalRequest, ascInvalidFieldInCDB)
}

func TestSBC3_5_40_WriteAndVerify(t *testing.T) {
	tl := newTestLU(t, LUConfig{WriteCache: true}, 100)
	for _, cdb := range [][]byte{cdb10(opWriteVerify10, 0x02, 3, 2), cdb12(opWriteVerify12, 0, 3, 2), cdb16(opWriteVerify16, 0x02, 3, 2)} {
		d := fill(1024, cdb[0])
		wantGood(t, tl.do(cdb, d))
		if got := tl.do(cdb10(opRead10, 0, 3, 2), nil).Data; !bytes.Equal(got, d) {
			t.Fatalf("%x: data not written", cdb[0])
		}
	}
}

func TestSBC3_MaximumTransferLength(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 1<<20)
	max := uint32(tl.lu.maxTransferBlocks())
	wantGood(t, tl.do(cdb16(opRead16, 0, 0, max), nil))
	s := wantCheck(t, tl.do(cdb16(opRead16, 0, 0, max+1), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	if s.sks != fieldPointer(true, 10, -1) {
		t.Errorf("field pointer % x, want byte 10", s.sks)
	}
}
