package initiator

import (
	"strings"
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

func kvs(s string) []pdu.KV {
	var out []pdu.KV
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, pdu.KV{Key: k, Value: v})
	}
	return out
}

func negotiate(t *testing.T, o Options, resp string) (Params, []pdu.KV, error) {
	t.Helper()
	n := newNegotiator(&o)
	n.sent(operationalKeys(&o, false))
	ans, err := n.receive(kvs(resp))
	if err != nil {
		return Params{}, ans, err
	}
	p, err := n.params(&o)
	return p, ans, err
}

func TestOperationalKeys(t *testing.T) {
	o := Options{HeaderDigest: true, ImmediateData: true, MaxRecvDataSegmentLength: 512,
		ExtraKeys: kvs("MaxBurstLength=1024 X-halun.test=1")}
	got := operationalKeys(&o, false)
	s := string(pdu.AppendText(nil, got))
	for _, want := range []string{"HeaderDigest=CRC32C\x00", "DataDigest=None\x00", "InitialR2T=No\x00",
		"ImmediateData=Yes\x00", "MaxRecvDataSegmentLength=512\x00", "ErrorRecoveryLevel=0\x00",
		"MaxBurstLength=1024\x00X-halun.test=1\x00"} {
		if !strings.Contains(s, want) {
			t.Errorf("offer %q lacks %q", s, want)
		}
	}
	if strings.Count(s, "MaxBurstLength=") != 1 {
		t.Errorf("ExtraKeys did not replace the standard MaxBurstLength: %q", s)
	}
	d := string(pdu.AppendText(nil, operationalKeys(&Options{}, true)))
	if strings.Contains(d, "InitialR2T") || !strings.Contains(d, "HeaderDigest=None") {
		t.Errorf("discovery offer %q", d)
	}
}

// TestNegotiation checks outcomes per RFC 7143 §13 key semantics.
func TestNegotiation(t *testing.T) {
	base := Options{InitialR2T: false, ImmediateData: true, MaxBurstLength: 131072, FirstBurstLength: 32768, MaxOutstandingR2T: 4}
	t.Run("target accepts everything", func(t *testing.T) {
		p, ans, err := negotiate(t, base, "HeaderDigest=None DataDigest=None InitialR2T=No ImmediateData=Yes "+
			"MaxBurstLength=131072 FirstBurstLength=32768 MaxOutstandingR2T=4 MaxRecvDataSegmentLength=65536 "+
			"TargetPortalGroupTag=7 TargetAlias=disk")
		if err != nil || len(ans) != 0 {
			t.Fatal(err, ans)
		}
		if p.InitialR2T || !p.ImmediateData || p.MaxBurstLength != 131072 || p.FirstBurstLength != 32768 ||
			p.MaxOutstandingR2T != 4 || p.TargetMaxRecvDataSegmentLength != 65536 || p.MaxRecvDataSegmentLength != 8192 ||
			p.TargetPortalGroupTag != 7 || p.TargetAlias != "disk" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("§13.11 InitialR2T is OR, §13.12 ImmediateData AND, §13.13-14 min", func(t *testing.T) {
		p, _, err := negotiate(t, base, "InitialR2T=Yes ImmediateData=No MaxBurstLength=65536 FirstBurstLength=8192 MaxOutstandingR2T=1")
		if err != nil {
			t.Fatal(err)
		}
		if !p.InitialR2T || p.ImmediateData || p.MaxBurstLength != 65536 || p.FirstBurstLength != 8192 || p.MaxOutstandingR2T != 1 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("§13.12 no MaxRecvDataSegmentLength declared means 8192", func(t *testing.T) {
		p, _, err := negotiate(t, base, "")
		if err != nil {
			t.Fatal(err)
		}
		if p.TargetMaxRecvDataSegmentLength != 8192 {
			t.Fatalf("%+v", p)
		}
		// Unanswered keys: the target keeps its default.
		if !p.InitialR2T || !p.ImmediateData || p.MaxBurstLength != 131072 || p.FirstBurstLength != 32768 || p.MaxOutstandingR2T != 1 {
			t.Fatalf("%+v", p)
		}
	})
	bad := []struct{ name, resp, want string }{
		{"min answered larger", "MaxBurstLength=262144", "MaxBurstLength=262144 to an offer of 131072"},
		{"OR answered No to Yes", "InitialR2T=No", ""},
		{"AND answered Yes to No", "", ""},
		{"not a number", "MaxBurstLength=lots", "not a number"},
		{"below range", "MaxRecvDataSegmentLength=100", "MaxRecvDataSegmentLength"},
		{"bad boolean", "ImmediateData=Maybe", "Yes or No"},
		{"digest not offered", "HeaderDigest=CRC32C", "not one of the offered"},
		{"changed answer", "MaxBurstLength=512 MaxBurstLength=1024", "changed its answer"},
	}
	for _, c := range bad {
		if c.want == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			_, _, err := negotiate(t, base, c.resp)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	t.Run("OR answered No to Yes", func(t *testing.T) {
		o := base
		o.InitialR2T = true
		if _, _, err := negotiate(t, o, "InitialR2T=No"); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("AND answered Yes to No", func(t *testing.T) {
		o := base
		o.ImmediateData = false
		if _, _, err := negotiate(t, o, "ImmediateData=Yes"); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("digest refused", func(t *testing.T) {
		o := base
		o.DataDigest = true
		for _, resp := range []string{"DataDigest=None", "DataDigest=Reject", "DataDigest=NotUnderstood", ""} {
			_, _, err := negotiate(t, o, resp)
			if err == nil || !strings.Contains(err.Error(), "refused DataDigest=CRC32C") && !strings.Contains(err.Error(), "not one of") {
				t.Errorf("%q: %v", resp, err)
			}
		}
		p, _, err := negotiate(t, o, "DataDigest=CRC32C")
		if err != nil || !p.DataDigest || p.HeaderDigest {
			t.Fatal(p, err)
		}
	})
	t.Run("ERL above 0 refused", func(t *testing.T) {
		o := base
		o.ExtraKeys = kvs("ErrorRecoveryLevel=2")
		if _, _, err := negotiate(t, o, "ErrorRecoveryLevel=1"); err == nil {
			t.Fatal("accepted ERL 1")
		}
	})
	t.Run("target offers are answered", func(t *testing.T) {
		_, ans, err := negotiate(t, base, "X-vendor.key=1 IFMarker=Yes OFMarker=junk")
		if err != nil {
			t.Fatal(err)
		}
		got := string(pdu.AppendText(nil, ans))
		want := "X-vendor.key=NotUnderstood\x00IFMarker=No\x00OFMarker=Reject\x00"
		if got != want {
			t.Fatalf("answers %q, want %q", got, want)
		}
	})
	t.Run("Irrelevant and NotUnderstood fall back to defaults", func(t *testing.T) {
		p, _, err := negotiate(t, base, "ImmediateData=Irrelevant MaxBurstLength=NotUnderstood")
		if err != nil {
			t.Fatal(err)
		}
		if !p.ImmediateData || p.MaxBurstLength != 131072 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("FirstBurstLength capped by MaxBurstLength", func(t *testing.T) {
		p, _, err := negotiate(t, base, "MaxBurstLength=4096 FirstBurstLength=32768")
		if err != nil || p.FirstBurstLength != 4096 {
			t.Fatal(p, err)
		}
	})
}

func TestCombine(t *testing.T) {
	cases := []struct{ key, a, b, want string }{
		{"MaxBurstLength", "4096", "8192", "4096"},
		{"MaxBurstLength", "8192", "4096", "4096"},
		{"DefaultTime2Wait", "2", "5", "5"},
		{"InitialR2T", "No", "No", "No"},
		{"InitialR2T", "No", "Yes", "Yes"},
		{"ImmediateData", "Yes", "No", "No"},
		{"HeaderDigest", "None", "CRC32C,None", "None"},
		{"HeaderDigest", "CRC32C,None", "CRC32C", "CRC32C"},
	}
	for _, c := range cases {
		got, err := combine(keySpecs[c.key], c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("%s(%s, %s) = %q %v, want %q", c.key, c.a, c.b, got, err, c.want)
		}
	}
	if _, err := combine(keySpecs["HeaderDigest"], "CRC32C", "None"); err == nil {
		t.Error("disjoint lists combined")
	}
}

func TestSecurityCHAP(t *testing.T) {
	o := &Options{InitiatorName: "iqn.i", TargetName: "iqn.t", CHAPUsername: "user", CHAPSecret: "secretsecret12",
		TargetCHAPUsername: "tgt", TargetCHAPSecret: "tgtsecret12345"}
	s := &security{o: o}
	k, transit, err := s.next(nil)
	if err != nil || transit || !strings.Contains(string(pdu.AppendText(nil, k)), "AuthMethod=CHAP\x00") {
		t.Fatal(k, transit, err)
	}
	k, transit, err = s.next(kvs("AuthMethod=CHAP"))
	if err != nil || transit || len(k) != 1 || k[0] != (pdu.KV{Key: "CHAP_A", Value: "5"}) {
		t.Fatal(k, transit, err)
	}
	chal := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	k, transit, err = s.next(kvs("CHAP_A=5 CHAP_I=9 CHAP_C=0x0102030405060708"))
	if err != nil || !transit {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range k {
		m[kv.Key] = kv.Value
	}
	if m["CHAP_N"] != "user" || m["CHAP_R"] != encodeHex(chapResponse(9, "secretsecret12", chal)) {
		t.Fatalf("%v", m)
	}
	if s.done() {
		t.Fatal("done before the target proved itself")
	}
	id, _ := decodeBinary("0x" + strings.Repeat("0", 1)) // exercise odd-length hex
	_ = id
	tc, err := decodeBinary(m["CHAP_C"])
	if err != nil {
		t.Fatal(err)
	}
	var tid uint64
	for _, kv := range k {
		if kv.Key == "CHAP_I" {
			tid = uint64(kv.Value[0] - '0')
			for _, ch := range kv.Value[1:] {
				tid = tid*10 + uint64(ch-'0')
			}
		}
	}
	wrong := encodeHex(chapResponse(byte(tid), "wrong", tc))
	s2 := *s
	if _, _, err := s2.next([]pdu.KV{{Key: "CHAP_N", Value: "tgt"}, {Key: "CHAP_R", Value: wrong}}); err == nil {
		t.Fatal("accepted a wrong mutual response")
	}
	good := encodeHex(chapResponse(byte(tid), "tgtsecret12345", tc))
	if _, transit, err := s.next([]pdu.KV{{Key: "CHAP_N", Value: "tgt"}, {Key: "CHAP_R", Value: good}}); err != nil || !transit || !s.done() {
		t.Fatal(transit, err)
	}
}

func TestDecodeBinary(t *testing.T) {
	for in, want := range map[string]string{"0x0a0B": "\x0a\x0b", "0xabc": "\x0a\xbc", "0bAQI=": "\x01\x02"} {
		got, err := decodeBinary(in)
		if err != nil || string(got) != want {
			t.Errorf("%s: %x %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0x", "12", "0xzz", "0b!!"} {
		if _, err := decodeBinary(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
