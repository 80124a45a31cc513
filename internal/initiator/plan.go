package initiator

// Data-Out planning (RFC 7143 §4.2.5.2 and §13.11-13.14): how much of a
// write travels as immediate data, which unsolicited Data-Out PDUs follow the
// command, and how each R2T's burst is cut into PDUs.

// dataPDU is one Data-Out PDU of a sequence.
type dataPDU struct {
	Offset, Length int
	DataSN         uint32
	Final          bool
}

// xferParams are the negotiated values that shape outgoing data.
type xferParams struct {
	ImmediateData, InitialR2T bool
	FirstBurstLength          int
	MaxBurstLength            int
	// MaxSend is the target's MaxRecvDataSegmentLength.
	MaxSend int
}

func (p Params) xfer() xferParams {
	return xferParams{ImmediateData: p.ImmediateData, InitialR2T: p.InitialR2T,
		FirstBurstLength: p.FirstBurstLength, MaxBurstLength: p.MaxBurstLength,
		MaxSend: p.TargetMaxRecvDataSegmentLength}
}

// planUnsolicited splits the first total bytes of a write: immediate is the
// length sent in the command PDU, outs the unsolicited Data-Out sequence
// (TTT 0xffffffff) that follows it. Unsolicited data in all never exceeds
// FirstBurstLength; the remainder, if any, waits for R2Ts.
func planUnsolicited(p xferParams, total int) (immediate int, outs []dataPDU) {
	limit := min(total, p.FirstBurstLength)
	if p.ImmediateData {
		immediate = min(limit, p.MaxSend)
	}
	if p.InitialR2T {
		return immediate, nil
	}
	return immediate, planSequence(immediate, limit-immediate, p.MaxSend)
}

// planSequence cuts length bytes from offset into PDUs of at most maxSeg
// bytes, numbered from DataSN 0, the last one Final.
func planSequence(offset, length, maxSeg int) []dataPDU {
	if length <= 0 {
		return nil
	}
	if maxSeg <= 0 {
		maxSeg = DefaultMaxRecvDataSegmentLength
	}
	outs := make([]dataPDU, 0, (length+maxSeg-1)/maxSeg)
	for sn := uint32(0); length > 0; sn++ {
		n := min(length, maxSeg)
		outs = append(outs, dataPDU{Offset: offset, Length: n, DataSN: sn})
		offset += n
		length -= n
	}
	outs[len(outs)-1].Final = true
	return outs
}

// solicitedRemainder is the number of bytes of a total-byte write that the
// target must ask for with R2Ts.
func solicitedRemainder(p xferParams, total int) int {
	imm, outs := planUnsolicited(p, total)
	sent := imm
	for _, d := range outs {
		sent += d.Length
	}
	return total - sent
}
