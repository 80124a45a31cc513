package scsi

import (
	"bytes"
	"sync"
	"testing"
)

func writeAtomicCDB(b1 byte, lba uint64, boundary, n uint16) []byte {
	c := make([]byte, 16)
	c[0], c[1] = opWriteAtomic16, b1
	put64(c[2:], lba)
	put16(c[10:], boundary)
	put16(c[12:], n)
	return c
}

// SBC-4 5.48: WRITE ATOMIC(16) CDB decoding and sense paths.
func TestSBC4_5_48_WriteAtomic16(t *testing.T) {
	blk := fill(512, 0xa5)
	cases := []struct {
		name string
		cfg  LUConfig
		cdb  []byte
		data []byte
		key  uint8
		asc  uint16
	}{
		{"one block", LUConfig{}, writeAtomicCDB(0, 0, 0, 1), blk, 0, 0},
		{"FUA and DPO", LUConfig{}, writeAtomicCDB(0x18, 5, 0, 1), blk, 0, 0},
		{"zero blocks", LUConfig{}, writeAtomicCDB(0, 0, 0, 0), nil, 0, 0},
		{"zero blocks at end", LUConfig{}, writeAtomicCDB(0, 1024, 0, 0), nil, 0, 0},
		{"zero blocks past end", LUConfig{}, writeAtomicCDB(0, 1025, 0, 0), nil, keyIllegalRequest, ascLBAOutOfRange},
		{"beyond end", LUConfig{}, writeAtomicCDB(0, 1023, 0, 2), append(blk, blk...), keyIllegalRequest, ascLBAOutOfRange},
		{"LBA 2^63", LUConfig{}, writeAtomicCDB(0, 1<<63, 0, 1), blk, keyIllegalRequest, ascLBAOutOfRange},
		{"WRPROTECT", LUConfig{}, writeAtomicCDB(0x20, 0, 0, 1), blk, keyIllegalRequest, ascInvalidFieldInCDB},
		{"atomic boundary", LUConfig{}, writeAtomicCDB(0, 0, 1, 1), blk, keyIllegalRequest, ascInvalidFieldInCDB},
		{"partial data", LUConfig{}, writeAtomicCDB(0, 0, 0, 2), blk, keyIllegalRequest, ascInvalidFieldInCommandIU},
		{"read-only", LUConfig{ReadOnly: true}, writeAtomicCDB(0, 0, 0, 1), blk, keyDataProtect, ascWriteProtected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, c.cfg, 1024)
			r := tl.do(c.cdb, c.data)
			if c.key == 0 {
				wantGood(t, r)
				return
			}
			wantCheck(t, r, c.key, c.asc)
		})
	}
}

// SBC-4 4.29: readers see an atomic write entirely or not at all.
func TestSBC4_4_29_AtomicAgainstReaders(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 8192)
	const blocks = 4096 // 2 MiB: spans memory store chunks
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wantGood(t, tl.do(writeAtomicCDB(0, 0, 0, blocks), fill(blocks*512, byte(i))))
		}
	}()
	for range 50 {
		d := tl.do(cdb16(opRead16, 0, 0, blocks), nil).Data
		if !bytes.Equal(d, fill(len(d), d[0])) {
			t.Fatal("read saw a torn atomic write")
		}
	}
	close(stop)
	wg.Wait()
}

func TestSBC4_6_6_4_BlockLimitsAtomic(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 1024)
	d := tl.do(inquiryCDB(true, 0xb0, 64), nil).Data
	if be32(d[44:]) == 0 || be32(d[44:]) > be32(d[8:]) {
		t.Fatalf("MAXIMUM ATOMIC TRANSFER LENGTH %d, MAXIMUM TRANSFER LENGTH %d", be32(d[44:]), be32(d[8:]))
	}
	big := newTestLU(t, LUConfig{}, 1<<17)
	wantCheck(t, big.do(writeAtomicCDB(0, 0, 0, uint16(big.lu.maxAtomicBlocks()+1)), nil), keyIllegalRequest, ascInvalidFieldInCDB)
}
