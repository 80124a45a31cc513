package initiator

import (
	"fmt"
	"testing"
)

// TestPlanUnsolicitedTable checks RFC 7143 §13.10-13.14 (InitialR2T,
// ImmediateData, FirstBurstLength, MaxRecvDataSegmentLength) on fixed cases.
func TestPlanUnsolicitedTable(t *testing.T) {
	type pdus = []dataPDU
	cases := []struct {
		name  string
		p     xferParams
		total int
		imm   int
		outs  pdus
	}{
		{"r2t=yes imm=no: nothing unsolicited", xferParams{InitialR2T: true, FirstBurstLength: 65536, MaxSend: 8192}, 100000, 0, nil},
		{"r2t=yes imm=yes: immediate up to MRDSL", xferParams{InitialR2T: true, ImmediateData: true, FirstBurstLength: 65536, MaxSend: 8192}, 100000, 8192, nil},
		{"r2t=yes imm=yes: small write all immediate", xferParams{InitialR2T: true, ImmediateData: true, FirstBurstLength: 65536, MaxSend: 8192}, 512, 512, nil},
		{"r2t=yes imm=yes: immediate capped by FirstBurstLength", xferParams{InitialR2T: true, ImmediateData: true, FirstBurstLength: 4096, MaxSend: 8192}, 100000, 4096, nil},
		{"r2t=no imm=no: Data-Out up to FirstBurstLength", xferParams{FirstBurstLength: 20000, MaxSend: 8192}, 100000, 0,
			pdus{{0, 8192, 0, false}, {8192, 8192, 1, false}, {16384, 3616, 2, true}}},
		{"r2t=no imm=yes: immediate then Data-Out", xferParams{ImmediateData: true, FirstBurstLength: 20000, MaxSend: 8192}, 100000, 8192,
			pdus{{8192, 8192, 0, false}, {16384, 3616, 1, true}}},
		{"r2t=no imm=yes: write smaller than FirstBurstLength", xferParams{ImmediateData: true, FirstBurstLength: 65536, MaxSend: 512}, 1500, 512,
			pdus{{512, 512, 0, false}, {1024, 476, 1, true}}},
		{"r2t=no imm=yes: fits in the command", xferParams{ImmediateData: true, FirstBurstLength: 65536, MaxSend: 8192}, 4096, 4096, nil},
		{"r2t=no imm=no: tiny MRDSL", xferParams{FirstBurstLength: 2048, MaxSend: 512}, 4096, 0,
			pdus{{0, 512, 0, false}, {512, 512, 1, false}, {1024, 512, 2, false}, {1536, 512, 3, true}}},
		{"no data", xferParams{ImmediateData: true, FirstBurstLength: 65536, MaxSend: 8192}, 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			imm, outs := planUnsolicited(c.p, c.total)
			if imm != c.imm || fmt.Sprint(outs) != fmt.Sprint(c.outs) {
				t.Errorf("got imm=%d outs=%v, want imm=%d outs=%v", imm, outs, c.imm, c.outs)
			}
		})
	}
}

// TestPlanAllCombinations checks, for every combination of the parameters
// that shape a write, that immediate data, the unsolicited sequence and the
// R2T-solicited sequences a target would ask for (bursts of MaxBurstLength)
// cover the write exactly once, in order, with PDUs no larger than the
// target's MaxRecvDataSegmentLength, DataSN restarting at 0 per sequence
// and F on each sequence's last PDU (RFC 7143 §4.2.5.2, §11.7).
func TestPlanAllCombinations(t *testing.T) {
	sizes := []int{0, 1, 511, 512, 513, 4096, 8191, 8192, 8193, 65536, 65537, 262144, 300000, 1 << 20}
	lens := []int{512, 1000, 8192, 65536, 262144}
	for _, imm := range []bool{false, true} {
		for _, r2t := range []bool{false, true} {
			for _, fbl := range lens {
				for _, mbl := range lens {
					if fbl > mbl {
						continue // FirstBurstLength <= MaxBurstLength (RFC 7143 §13.14)
					}
					for _, ms := range lens {
						p := xferParams{ImmediateData: imm, InitialR2T: r2t, FirstBurstLength: fbl, MaxBurstLength: mbl, MaxSend: ms}
						for _, total := range sizes {
							checkPlan(t, p, total)
						}
					}
				}
			}
		}
	}
}

func checkPlan(t *testing.T, p xferParams, total int) {
	t.Helper()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%+v total=%d: %s", p, total, fmt.Sprintf(format, a...))
	}
	imm, outs := planUnsolicited(p, total)
	if !p.ImmediateData && imm != 0 {
		fail("immediate data %d with ImmediateData=No", imm)
	}
	if imm > p.MaxSend || imm > p.FirstBurstLength || imm > total {
		fail("immediate data %d too long", imm)
	}
	if p.InitialR2T && len(outs) > 0 {
		fail("unsolicited Data-Out with InitialR2T=Yes")
	}
	if p.ImmediateData && total > 0 && imm == 0 {
		fail("no immediate data with ImmediateData=Yes")
	}
	pos := imm
	checkSeq := func(seq []dataPDU, start, length int) {
		t.Helper()
		if length == 0 {
			if len(seq) != 0 {
				fail("PDUs for an empty sequence")
			}
			return
		}
		off := start
		for i, d := range seq {
			if d.Offset != off || d.Length <= 0 || d.Length > p.MaxSend || d.DataSN != uint32(i) || d.Final != (i == len(seq)-1) {
				fail("bad PDU %d %+v in sequence at %d", i, d, start)
			}
			off += d.Length
		}
		if off != start+length {
			fail("sequence at %d ends at %d, want %d", start, off, start+length)
		}
	}
	unsolicited := 0
	for _, d := range outs {
		unsolicited += d.Length
	}
	checkSeq(outs, imm, unsolicited)
	pos += unsolicited
	if pos > p.FirstBurstLength && pos > 0 {
		fail("%d bytes unsolicited, FirstBurstLength %d", pos, p.FirstBurstLength)
	}
	if !p.InitialR2T && pos != min(total, p.FirstBurstLength) {
		fail("%d bytes unsolicited, want %d", pos, min(total, p.FirstBurstLength))
	}
	if rem := solicitedRemainder(p, total); rem != total-pos {
		fail("solicitedRemainder %d, want %d", rem, total-pos)
	}
	for pos < total {
		n := min(total-pos, p.MaxBurstLength)
		checkSeq(planSequence(pos, n, p.MaxSend), pos, n)
		pos += n
	}
}

func TestPlanSequenceZeroMaxSeg(t *testing.T) {
	seq := planSequence(0, 20000, 0)
	if len(seq) != 3 || seq[0].Length != DefaultMaxRecvDataSegmentLength || !seq[2].Final {
		t.Fatalf("%v", seq)
	}
}
