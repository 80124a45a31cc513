package integration

import (
	"bytes"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// TestRFC7143_11_3_1_FinalMeansNoUnsolicitedData: with InitialR2T=No, a
// write command with the F bit set and no immediate data announces that
// no unsolicited Data-Out follows, so the target solicits all of its data
// with R2Ts instead of waiting for FirstBurstLength of unsolicited data.
func TestRFC7143_11_3_1_FinalMeansNoUnsolicitedData(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	rc := rawLogin(t, tt, initiator.Options{})
	goodTUR(t, rc)
	w := sendCmd(t, rc, write10(0, 8), 4096, true, false, nil)
	p := next(t, rc, pdu.OpR2T, 5*time.Second)
	var r pdu.R2T
	r.Decode(&p.Header)
	if r.ITT != w || r.BufferOffset != 0 || r.DesiredDataLength != 4096 {
		t.Fatalf("R2T ITT %#x offset %d length %d; want ITT %#x for all 4096 bytes", r.ITT, r.BufferOffset,
			r.DesiredDataLength, w)
	}
	payload := bytes.Repeat([]byte{0x5a}, 4096)
	d := pdu.DataOut{Final: true, ITT: w, TTT: r.TTT, ExpStatSN: rc.ExpStatSN}
	var h pdu.Header
	d.Encode(&h)
	if err := rc.SendPDU(&h, nil, payload); err != nil {
		t.Fatal(err)
	}
	if st, key := status(t, rc, w); st != 0 {
		t.Fatalf("WRITE status %#x sense key %#x", st, key)
	}
}
