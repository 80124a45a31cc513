package cluster_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/halun/halun/internal/initiator"
)

// lbaStatus returns the provisioning status (0 mapped, 1 deallocated) of
// the first GET LBA STATUS descriptor at lba, and its block count.
func lbaStatus(t *testing.T, ctx context.Context, mp *initiator.Multipath, lba uint64) (byte, uint32) {
	t.Helper()
	var data []byte
	if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		cdb := make([]byte, 16)
		cdb[0], cdb[1] = 0x9e, 0x12 // SERVICE ACTION IN(16), GET LBA STATUS
		binary.BigEndian.PutUint64(cdb[2:], lba)
		binary.BigEndian.PutUint32(cdb[10:], 24)
		r, err := s.Execute(ctx, lun, cdb, nil, 24)
		if err == nil {
			err = r.Err()
			data = r.Data
		}
		return err
	}); err != nil {
		t.Fatalf("GET LBA STATUS: %v", err)
	}
	if len(data) < 24 {
		t.Fatalf("GET LBA STATUS returned %d bytes", len(data))
	}
	return data[20] & 0x0f, binary.BigEndian.Uint32(data[16:20])
}

// TestUnmap_ReplicatedAndReportedAfterFailover (SBC-3 5.29, 5.17): a range
// UNMAPped through the primary reads as zeros and is reported deallocated
// by GET LBA STATUS, on the primary and, after it crashes, on the node
// that took over.
func TestUnmap_ReplicatedAndReportedAfterFailover(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{})
	if err := mp.Write(ctx, 0, bytes.Repeat([]byte{0xab}, 2<<20), 512); err != nil {
		t.Fatal(err)
	}
	if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		param := make([]byte, 24)
		binary.BigEndian.PutUint16(param[0:], 22)
		binary.BigEndian.PutUint16(param[2:], 16)
		binary.BigEndian.PutUint64(param[8:], 0)
		binary.BigEndian.PutUint32(param[16:], 2048) // the first MiB
		cdb := make([]byte, 10)
		cdb[0] = 0x42
		binary.BigEndian.PutUint16(cdb[7:], uint16(len(param)))
		r, err := s.Execute(ctx, lun, cdb, param, 0)
		if err == nil {
			err = r.Err()
		}
		return err
	}); err != nil {
		t.Fatalf("UNMAP: %v", err)
	}
	check := func(when string) {
		t.Helper()
		if st, n := lbaStatus(t, ctx, mp, 0); st != 1 || n < 2048 {
			t.Errorf("%s: LBA 0 status %d for %d blocks, want deallocated for 2048", when, st, n)
		}
		if st, _ := lbaStatus(t, ctx, mp, 2048); st != 0 {
			t.Errorf("%s: LBA 2048 status %d, want mapped", when, st)
		}
		got, err := mp.Read(ctx, 0, 8, 512)
		if err != nil || !bytes.Equal(got, make([]byte, 4096)) {
			t.Errorf("%s: an unmapped block does not read as zeros (%v)", when, err)
		}
		got, err = mp.Read(ctx, 2048, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0xab}, 4096)) {
			t.Errorf("%s: a written block lost (%v)", when, err)
		}
	}
	check("on the primary")
	primary, other := primaryOf(nodes)
	primary.cl.Crash()
	primary.srv.Stop()
	check("after the failover to " + other.name)
}
