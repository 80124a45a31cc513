package initiator

import (
	"fmt"
	"sort"
)

// assembler reassembles a command's Data-In payload by offset and checks the
// shared DataSN/R2TSN numbering (RFC 7143 §11.7.5: Data-In and R2T PDUs of a
// task share one sequence).
type assembler struct {
	buf     []byte
	inOrder bool     // DataPDUInOrder=Yes: each PDU must start where the last ended
	nextSN  uint32   // next expected DataSN or R2TSN
	ranges  [][2]int // received byte ranges, sorted, merged
	high    int      // highest end offset received
}

func newAssembler(buf []byte, inOrder bool) *assembler {
	return &assembler{buf: buf, inOrder: inOrder}
}

// sn checks and consumes one sequence number.
func (a *assembler) sn(kind string, got uint32) error {
	if got != a.nextSN {
		return fmt.Errorf("%s sequence number %d, expected %d", kind, got, a.nextSN)
	}
	a.nextSN++
	return nil
}

// add stores one Data-In PDU's payload.
func (a *assembler) add(dataSN, offset uint32, data []byte) error {
	if err := a.sn("DataSN", dataSN); err != nil {
		return err
	}
	off, n := int(offset), len(data)
	if uint64(offset)+uint64(n) > uint64(len(a.buf)) {
		return fmt.Errorf("Data-In at offset %d of %d bytes exceeds the %d-byte expected transfer", offset, n, len(a.buf))
	}
	if n == 0 {
		return nil
	}
	if a.inOrder && off != a.high {
		return fmt.Errorf("Data-In at offset %d, expected %d (DataPDUInOrder=Yes)", off, a.high)
	}
	// Reject overlap with anything already received.
	i := sort.Search(len(a.ranges), func(i int) bool { return a.ranges[i][1] > off })
	if i < len(a.ranges) && a.ranges[i][0] < off+n {
		return fmt.Errorf("Data-In at offset %d of %d bytes overlaps received bytes [%d, %d)", off, n, a.ranges[i][0], a.ranges[i][1])
	}
	copy(a.buf[off:], data)
	a.insert(off, off+n)
	a.high = max(a.high, off+n)
	return nil
}

func (a *assembler) insert(lo, hi int) {
	i := sort.Search(len(a.ranges), func(i int) bool { return a.ranges[i][0] >= lo })
	a.ranges = append(a.ranges, [2]int{})
	copy(a.ranges[i+1:], a.ranges[i:])
	a.ranges[i] = [2]int{lo, hi}
	// Merge neighbours.
	out := a.ranges[:0]
	for _, r := range a.ranges {
		if len(out) > 0 && out[len(out)-1][1] == r[0] {
			out[len(out)-1][1] = r[1]
			continue
		}
		out = append(out, r)
	}
	a.ranges = out
}

// count is the number of Data-In and R2T PDUs seen (the target's ExpDataSN
// at the end of the command).
func (a *assembler) count() uint32 { return a.nextSN }

// complete returns the contiguous data received from offset 0, or an error if
// the received ranges leave a hole.
func (a *assembler) complete() ([]byte, error) {
	switch len(a.ranges) {
	case 0:
		return a.buf[:0], nil
	case 1:
		if a.ranges[0][0] == 0 {
			return a.buf[:a.ranges[0][1]], nil
		}
	}
	return nil, fmt.Errorf("Data-In left holes: received ranges %v", a.ranges)
}
