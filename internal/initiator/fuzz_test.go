package initiator

import (
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// The fuzz targets cover every function that parses target-supplied bytes
// without a network. Seeds live in testdata/fuzz/<name>.

func FuzzParseResponseData(f *testing.F) {
	f.Add([]byte{0, 3, 0x70, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		sense, rest, err := ParseResponseData(b)
		if err != nil {
			return
		}
		if len(b) > 0 && 2+len(sense)+len(rest) != len(b) {
			t.Fatalf("sense %d + rest %d + 2 != %d", len(sense), len(rest), len(b))
		}
		ParseSense(sense)
		(&Response{Status: StatusCheckCondition, Sense: sense}).Err()
	})
}

func FuzzParseReportLUNs(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		luns, need, err := ParseReportLUNs(b)
		if err != nil {
			return
		}
		if need < 8 || len(luns) > (len(b)-8)/8 {
			t.Fatalf("need %d, %d LUNs from %d bytes", need, len(luns), len(b))
		}
	})
}

func FuzzParseSendTargets(f *testing.F) {
	f.Add([]byte("TargetName=iqn.a\x00TargetAddress=127.0.0.1:3260,1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := pdu.ParseText(b)
		if err != nil {
			return
		}
		ts, err := ParseSendTargets(kvs)
		if err != nil {
			return
		}
		for _, tg := range ts {
			if tg.Name == "" {
				t.Fatal("empty target name accepted")
			}
			for _, p := range tg.Portals {
				if p.Addr == "" {
					t.Fatal("empty portal accepted")
				}
			}
		}
	})
}

// FuzzLoginResponseKeys feeds arbitrary login response text to the
// negotiator: it must return an error or parameters within RFC ranges.
func FuzzLoginResponseKeys(f *testing.F) {
	f.Add([]byte("HeaderDigest=None\x00MaxBurstLength=4096\x00MaxRecvDataSegmentLength=512\x00"), false)
	f.Add([]byte("DataDigest=CRC32C\x00X-a=b\x00"), true)
	f.Fuzz(func(t *testing.T, b []byte, digests bool) {
		kvs, err := pdu.ParseText(b)
		if err != nil {
			return
		}
		o := Options{HeaderDigest: digests, DataDigest: digests, ImmediateData: true, MaxBurstLength: 65536}
		n := newNegotiator(&o)
		n.sent(operationalKeys(&o, false))
		if _, err := n.receive(kvs); err != nil {
			return
		}
		p, err := n.params(&o)
		if err != nil {
			return
		}
		if p.MaxBurstLength < 512 || p.MaxBurstLength > 65536 || p.FirstBurstLength > p.MaxBurstLength ||
			p.TargetMaxRecvDataSegmentLength < 512 || p.TargetMaxRecvDataSegmentLength > pdu.MaxDataSegment ||
			p.MaxOutstandingR2T < 1 || p.ErrorRecoveryLevel != 0 || digests && !(p.HeaderDigest && p.DataDigest) {
			t.Fatalf("out-of-range parameters %+v", p)
		}
	})
}

// FuzzAssembler drives Data-In reassembly with arbitrary PDU sequences.
func FuzzAssembler(f *testing.F) {
	f.Add(uint16(16), false, []byte{0, 0, 4, 1, 4, 4, 2, 8, 8})
	f.Fuzz(func(t *testing.T, size uint16, inOrder bool, script []byte) {
		a := newAssembler(make([]byte, size), inOrder)
		for i := 0; i+2 < len(script); i += 3 {
			if err := a.add(uint32(script[i]), uint32(script[i+1]), make([]byte, script[i+2])); err != nil {
				return
			}
		}
		if d, err := a.complete(); err == nil && len(d) > int(size) {
			t.Fatalf("%d bytes from a %d-byte buffer", len(d), size)
		}
	})
}

// FuzzCHAPChallenge feeds arbitrary target challenges to the CHAP steps.
func FuzzCHAPChallenge(f *testing.F) {
	f.Add([]byte("CHAP_A=5\x00CHAP_I=1\x00CHAP_C=0x0102\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := pdu.ParseText(b)
		if err != nil {
			return
		}
		s := &security{o: &Options{CHAPUsername: "u", CHAPSecret: "s", TargetCHAPSecret: "t"}, step: 2}
		if _, _, err := s.next(kvs); err != nil {
			return
		}
		_, _, _ = s.next(kvs)
	})
}

// FuzzALUAPages: the VPD 0x83 and REPORT TARGET PORT GROUPS parsers that
// steer multipath never panic and never read past their input.
func FuzzALUAPages(f *testing.F) {
	f.Add([]byte{0, 0x83, 0, 8, 0x51, 0x95, 0, 4, 0, 0, 0, 2}, uint16(2))
	f.Add([]byte{0, 0, 0, 12, 0x02, 0x8f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, id uint16) {
		if g, ok := targetPortGroupOf(b); ok && len(b) < 12 {
			t.Fatalf("group %d from %d bytes", g, len(b))
		}
		if st, ok := groupState(b, id); ok && st > 0xf {
			t.Fatalf("state %d", st)
		}
	})
}

func TestALUAPageParsers(t *testing.T) {
	page := []byte{0, 0x83, 0, 16, 0x51, 0x94, 0, 4, 0, 0, 0, 7, 0x51, 0x95, 0, 4, 0, 0, 0, 2}
	if g, ok := targetPortGroupOf(page); !ok || g != 2 {
		t.Errorf("target port group %d %v", g, ok)
	}
	rtpg := []byte{0, 0, 0, 24, 0x80, 0x8f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x02, 0x8f, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	if st, ok := groupState(rtpg, 2); !ok || st != 2 {
		t.Errorf("group 2 state %d %v", st, ok)
	}
	if _, ok := groupState(rtpg, 3); ok {
		t.Error("an unlisted group has a state")
	}
}
