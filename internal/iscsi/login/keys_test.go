package login

import (
	"strings"
	"testing"
)

// keyCase offers pairs in a direct operational login and checks one reply.
type keyCase struct {
	name  string
	mod   func(*Settings)
	offer []string
	key   string // reply key to check
	want  string // expected reply value; "" means no reply
	check func(*testing.T, Negotiated)
}

func runKeyCases(t *testing.T, cases []keyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, res := opLogin(t, tc.mod, tc.offer...)
			if v, ok := got[tc.key]; tc.want == "" && ok || tc.want != "" && v != tc.want {
				t.Fatalf("%s answered %q, want %q (reply %v)", tc.key, v, tc.want, got)
			}
			if tc.check != nil {
				tc.check(t, res.Params)
			}
		})
	}
}

func TestRFC7143_13_1_HeaderDigestDataDigest_List(t *testing.T) {
	crcOnly := func(s *Settings) { s.HeaderDigest = []string{DigestCRC32C} }
	runKeyCases(t, []keyCase{
		{name: "initiator preference wins", offer: []string{"HeaderDigest=CRC32C,None"}, key: "HeaderDigest", want: "CRC32C",
			check: func(t *testing.T, n Negotiated) {
				if !n.HeaderDigest {
					t.Error("HeaderDigest not negotiated")
				}
			}},
		{name: "None first", offer: []string{"HeaderDigest=None,CRC32C"}, key: "HeaderDigest", want: "None"},
		{name: "unknown values ignored", offer: []string{"DataDigest=MD5,,CRC32C"}, key: "DataDigest", want: "CRC32C",
			check: func(t *testing.T, n Negotiated) {
				if !n.DataDigest || n.HeaderDigest {
					t.Errorf("digests %v/%v", n.HeaderDigest, n.DataDigest)
				}
			}},
		{name: "nothing acceptable is rejected", offer: []string{"DataDigest=MD5"}, key: "DataDigest", want: "Reject"},
		{name: "target requires CRC32C", mod: crcOnly, offer: []string{"HeaderDigest=None,CRC32C"}, key: "HeaderDigest", want: "CRC32C"},
	})
	t.Run("target requires CRC32C, initiator refuses", func(t *testing.T) {
		c := newConv(t)
		ti := c.env.targets[iqnTarget]
		crcOnly(&ti.Params)
		c.env.targets[iqnTarget] = ti
		wantStatus(t, c.step(StageOperational, StageFullFeature, true, first("HeaderDigest=None")...), StatusInitiatorError)
	})
}

func TestRFC7143_13_2_MaxConnections_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "target's 1 wins", offer: []string{"MaxConnections=8"}, key: "MaxConnections", want: "1"},
		{name: "initiator's lower wins", mod: func(s *Settings) { s.MaxConnections = 4 },
			offer: []string{"MaxConnections=2"}, key: "MaxConnections", want: "2",
			check: func(t *testing.T, n Negotiated) {
				if n.MaxConnections != 2 {
					t.Error(n.MaxConnections)
				}
			}},
		{name: "0 out of range", offer: []string{"MaxConnections=0"}, key: "MaxConnections", want: "Reject"},
		{name: "65536 out of range", offer: []string{"MaxConnections=65536"}, key: "MaxConnections", want: "Reject"},
	})
}

func TestRFC7143_13_3_SendTargetsDuringLogin_Reject(t *testing.T) {
	runKeyCases(t, []keyCase{{name: "SendTargets", offer: []string{"SendTargets=All"}, key: "SendTargets", want: "Reject"}})
}

func TestRFC7143_13_6_TargetOnlyKeysFromInitiator(t *testing.T) {
	for _, k := range []string{"TargetAlias=x", "TargetAddress=10.0.0.1:3260,1", "TargetPortalGroupTag=1"} {
		c := newConv(t)
		wantStatus(t, c.step(StageOperational, StageFullFeature, true, first(k)...), StatusInitiatorError)
	}
}

func TestRFC7143_13_10_InitialR2T_OR(t *testing.T) {
	yes := func(s *Settings) { s.InitialR2T = true }
	runKeyCases(t, []keyCase{
		{name: "No OR No", offer: []string{"InitialR2T=No"}, key: "InitialR2T", want: "No",
			check: func(t *testing.T, n Negotiated) {
				if n.InitialR2T {
					t.Error("InitialR2T")
				}
			}},
		{name: "Yes OR No", offer: []string{"InitialR2T=Yes"}, key: "InitialR2T", want: "Yes"},
		{name: "No OR Yes", mod: yes, offer: []string{"InitialR2T=No"}, key: "InitialR2T", want: "Yes",
			check: func(t *testing.T, n Negotiated) {
				if !n.InitialR2T {
					t.Error("InitialR2T")
				}
			}},
		{name: "not offered keeps default Yes", offer: nil, key: "InitialR2T", want: "",
			check: func(t *testing.T, n Negotiated) {
				if !n.InitialR2T {
					t.Error("default InitialR2T is Yes")
				}
			}},
		{name: "lower case is not Boolean", offer: []string{"InitialR2T=yes"}, key: "InitialR2T", want: "Reject"},
	})
}

func TestRFC7143_13_11_ImmediateData_AND(t *testing.T) {
	no := func(s *Settings) { s.ImmediateData = false }
	runKeyCases(t, []keyCase{
		{name: "Yes AND Yes", offer: []string{"ImmediateData=Yes"}, key: "ImmediateData", want: "Yes"},
		{name: "No AND Yes", offer: []string{"ImmediateData=No"}, key: "ImmediateData", want: "No",
			check: func(t *testing.T, n Negotiated) {
				if n.ImmediateData || n.ImmediateLimit() != 0 {
					t.Error("ImmediateData")
				}
			}},
		{name: "Yes AND No", mod: no, offer: []string{"ImmediateData=Yes"}, key: "ImmediateData", want: "No"},
		{name: "garbage", offer: []string{"ImmediateData=1"}, key: "ImmediateData", want: "Reject"},
	})
}

func TestRFC7143_13_12_MaxRecvDataSegmentLength_Declarative(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "each side declares", offer: []string{"MaxRecvDataSegmentLength=4096"},
			key: "MaxRecvDataSegmentLength", want: "262144",
			check: func(t *testing.T, n Negotiated) {
				if n.MaxSendSegment() != 4096 || n.MaxRecvSegment() != 262144 {
					t.Errorf("send %d recv %d", n.MaxSendSegment(), n.MaxRecvSegment())
				}
			}},
		{name: "hex value", offer: []string{"MaxRecvDataSegmentLength=0x10000"},
			key: "MaxRecvDataSegmentLength", want: "262144",
			check: func(t *testing.T, n Negotiated) {
				if n.MaxSendSegment() != 65536 {
					t.Error(n.MaxSendSegment())
				}
			}},
		{name: "target declares unasked", offer: nil, key: "MaxRecvDataSegmentLength", want: "262144",
			check: func(t *testing.T, n Negotiated) {
				if n.MaxSendSegment() != 8192 {
					t.Error("initiator default is 8192")
				}
			}},
	})
	for _, v := range []string{"511", "16777216", "abc", "0x", strings.Repeat("1", 300)} {
		c := newConv(t)
		wantStatus(t, c.step(StageOperational, StageFullFeature, true, first("MaxRecvDataSegmentLength="+v)...), StatusInitiatorError)
	}
}

func TestRFC7143_13_13_MaxBurstLength_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "target lower", offer: []string{"MaxBurstLength=16776192"}, key: "MaxBurstLength", want: "1048576"},
		{name: "initiator lower", offer: []string{"MaxBurstLength=262144"}, key: "MaxBurstLength", want: "262144"},
		{name: "below 512", offer: []string{"MaxBurstLength=511"}, key: "MaxBurstLength", want: "Reject"},
		{name: "above 2^24-1", offer: []string{"MaxBurstLength=16777216"}, key: "MaxBurstLength", want: "Reject"},
		{name: "not a number", offer: []string{"MaxBurstLength=-1"}, key: "MaxBurstLength", want: "Reject"},
		{name: "beyond 2^64", offer: []string{"MaxBurstLength=99999999999999999999"}, key: "MaxBurstLength", want: "Reject"},
		{name: "longer than 255 bytes", offer: []string{"MaxBurstLength=" + strings.Repeat("0", 300)}, key: "MaxBurstLength", want: "Reject"},
	})
}

func TestRFC7143_13_14_FirstBurstLength_NotAboveMaxBurstLength(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "min of offers", offer: []string{"FirstBurstLength=16384"}, key: "FirstBurstLength", want: "16384"},
		{name: "capped by MaxBurstLength of the same request, sent after it",
			offer: []string{"FirstBurstLength=65536", "MaxBurstLength=16384"}, key: "FirstBurstLength", want: "16384",
			check: func(t *testing.T, n Negotiated) {
				if n.FirstBurstLength != 16384 || n.MaxBurstLength != 16384 {
					t.Errorf("FBL %d MBL %d", n.FirstBurstLength, n.MaxBurstLength)
				}
			}},
		{name: "irrelevant combination still answered", offer: []string{"InitialR2T=Yes", "ImmediateData=No", "FirstBurstLength=4096"},
			key: "FirstBurstLength", want: "4096",
			check: func(t *testing.T, n Negotiated) {
				if n.UnsolicitedLimit() != 0 {
					t.Error("unsolicited data allowed with InitialR2T=Yes, ImmediateData=No")
				}
			}},
	})
	// MaxBurstLength lowered in a later request below the FirstBurstLength
	// already answered: the result is clamped.
	c := newConv(t)
	wantOK(t, c.step(StageOperational, 0, false, first("FirstBurstLength=65536")...))
	r := c.step(StageOperational, StageFullFeature, true, "MaxBurstLength=8192")
	if !r.Done {
		t.Fatalf("%+v", r)
	}
	if p := c.n.Result().Params; p.FirstBurstLength != 8192 {
		t.Fatalf("FirstBurstLength %d above MaxBurstLength %d", p.FirstBurstLength, p.MaxBurstLength)
	}
}

func TestRFC7143_13_15_DefaultTime2Wait_Max(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "initiator higher", offer: []string{"DefaultTime2Wait=10"}, key: "DefaultTime2Wait", want: "10"},
		{name: "target higher", offer: []string{"DefaultTime2Wait=0"}, key: "DefaultTime2Wait", want: "2"},
		{name: "above 3600", offer: []string{"DefaultTime2Wait=3601"}, key: "DefaultTime2Wait", want: "Reject"},
	})
}

func TestRFC7143_13_16_DefaultTime2Retain_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "target 0", offer: []string{"DefaultTime2Retain=20"}, key: "DefaultTime2Retain", want: "0"},
		{name: "initiator lower", mod: func(s *Settings) { s.DefaultTime2Retain = 20 },
			offer: []string{"DefaultTime2Retain=5"}, key: "DefaultTime2Retain", want: "5"},
	})
}

func TestRFC7143_13_17_MaxOutstandingR2T_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "min", offer: []string{"MaxOutstandingR2T=16"}, key: "MaxOutstandingR2T", want: "1"},
		{name: "0 out of range", offer: []string{"MaxOutstandingR2T=0"}, key: "MaxOutstandingR2T", want: "Reject"},
	})
}

func TestRFC7143_13_18_DataPDUInOrder_OR(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "No OR Yes", offer: []string{"DataPDUInOrder=No"}, key: "DataPDUInOrder", want: "Yes",
			check: func(t *testing.T, n Negotiated) {
				if !n.DataPDUInOrder {
					t.Error("DataPDUInOrder")
				}
			}},
	})
}

func TestRFC7143_13_19_DataSequenceInOrder_OR(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "No OR Yes", offer: []string{"DataSequenceInOrder=No"}, key: "DataSequenceInOrder", want: "Yes"},
	})
}

func TestRFC7143_13_20_ErrorRecoveryLevel_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "2 to 0", offer: []string{"ErrorRecoveryLevel=2"}, key: "ErrorRecoveryLevel", want: "0"},
		{name: "3 out of range", offer: []string{"ErrorRecoveryLevel=3"}, key: "ErrorRecoveryLevel", want: "Reject"},
	})
}

func TestRFC7143_13_22_ExtensionAndUnknownKeys_NotUnderstood(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "X- private", offer: []string{"X-com.example.foo=1"}, key: "X-com.example.foo", want: "NotUnderstood"},
		{name: "X# registered", offer: []string{"X#NodeArchitecture=Linux"}, key: "X#NodeArchitecture", want: "NotUnderstood"},
		{name: "unknown", offer: []string{"FooBar=1"}, key: "FooBar", want: "NotUnderstood"},
		{name: "iSER TargetRecvDataSegmentLength", offer: []string{"TargetRecvDataSegmentLength=8192"},
			key: "TargetRecvDataSegmentLength", want: "NotUnderstood"},
		{name: "RDMAExtensions over TCP", offer: []string{"RDMAExtensions=Yes"}, key: "RDMAExtensions", want: "No"},
	})
}

func TestRFC7143_13_23_TaskReporting_List(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "RFC3720", offer: []string{"TaskReporting=FastAbort,RFC3720"}, key: "TaskReporting", want: "RFC3720"},
		{name: "none acceptable", offer: []string{"TaskReporting=FastAbort"}, key: "TaskReporting", want: "Reject"},
	})
}

func TestRFC7143_13_24_ProtocolLevel_Min(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "2 to 1", offer: []string{"iSCSIProtocolLevel=2"}, key: "iSCSIProtocolLevel", want: "1"},
		{name: "0", offer: []string{"iSCSIProtocolLevel=0"}, key: "iSCSIProtocolLevel", want: "0"},
		{name: "32 out of range", offer: []string{"iSCSIProtocolLevel=32"}, key: "iSCSIProtocolLevel", want: "Reject"},
	})
}

func TestRFC7143_13_ObsoletedMarkerKeys(t *testing.T) {
	runKeyCases(t, []keyCase{
		{name: "IFMarker Yes", offer: []string{"IFMarker=Yes"}, key: "IFMarker", want: "No"},
		{name: "OFMarker No", offer: []string{"OFMarker=No"}, key: "OFMarker", want: "No"},
		{name: "IFMarkInt", offer: []string{"IFMarkInt=2048~8192"}, key: "IFMarkInt", want: "Reject"},
		{name: "OFMarkInt", offer: []string{"OFMarkInt=2048"}, key: "OFMarkInt", want: "Reject"},
	})
}

// TestRFC7143_6_1_ReservedConstantsAsOffer: Reject, Irrelevant and
// NotUnderstood may only answer; proposing them is a protocol error.
func TestRFC7143_6_1_ReservedConstantsAsOffer(t *testing.T) {
	for _, v := range []string{"Reject", "Irrelevant", "NotUnderstood"} {
		c := newConv(t)
		wantStatus(t, c.step(StageOperational, StageFullFeature, true, first("MaxBurstLength="+v)...), StatusInitiatorError)
	}
}

// TestRFC7143_6_2_KeyRepeated: negotiating or declaring a key twice is a
// protocol error answered with initiator error.
func TestRFC7143_6_2_KeyRepeated(t *testing.T) {
	c := newConv(t)
	wantStatus(t, c.step(StageOperational, StageFullFeature, true,
		first("MaxBurstLength=4096", "MaxBurstLength=8192")...), StatusInitiatorError)

	c = newConv(t)
	wantOK(t, c.step(StageOperational, 0, false, first("ImmediateData=Yes")...))
	wantStatus(t, c.step(StageOperational, StageFullFeature, true, "ImmediateData=Yes"), StatusInitiatorError)

	c = newConv(t)
	wantStatus(t, c.step(StageOperational, StageFullFeature, true,
		first("InitiatorName=iqn.other")...), StatusInitiatorError)

	// An unchanged declaration may be repeated; a changed one may not.
	c = newConv(t)
	wantOK(t, c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...))
	wantOK(t, c.step(StageOperational, 0, false, "InitiatorName="+iqnInit, "TargetName="+iqnTarget))
	wantStatus(t, c.step(StageOperational, 0, false, "InitiatorAlias=renamed"), StatusInitiatorError)

	c = newConv(t)
	wantOK(t, c.step(StageSecurity, 0, false, first("AuthMethod=None")...))
	wantStatus(t, c.step(StageSecurity, 0, false, "AuthMethod=None"), StatusInitiatorError)
}

// TestRFC7143_6_2_TargetOffersKeys: a key the initiator did not offer whose
// default the target cannot accept is offered by the target, which sets T only
// after the initiator answered.
func TestRFC7143_6_2_TargetOffersKeys(t *testing.T) {
	strict := func(s *Settings) {
		s.ImmediateData = false
		s.MaxBurstLength, s.FirstBurstLength = 65536, 8192
		s.HeaderDigest = []string{DigestCRC32C}
	}
	setup := func() *conv {
		c := newConv(t)
		ti := c.env.targets[iqnTarget]
		strict(&ti.Params)
		c.env.targets[iqnTarget] = ti
		return c
	}
	c := setup()
	r := c.step(StageOperational, StageFullFeature, true, first()...)
	wantOK(t, r)
	if r.Header.Transit || r.Done {
		t.Fatal("target set T with its offers outstanding")
	}
	got := keys(t, r.Data)
	for k, v := range map[string]string{"ImmediateData": "No", "MaxBurstLength": "65536",
		"FirstBurstLength": "8192", "HeaderDigest": "CRC32C"} {
		if got[k] != v {
			t.Errorf("offer %s=%q, want %q (%v)", k, got[k], v, got)
		}
	}
	if _, ok := got["DataDigest"]; ok {
		t.Error("DataDigest offered although None is acceptable")
	}
	r = c.step(StageOperational, StageFullFeature, true, "ImmediateData=No", "MaxBurstLength=32768",
		"FirstBurstLength=8192", "HeaderDigest=CRC32C")
	wantOK(t, r)
	if !r.Done || len(r.Data) != 0 {
		t.Fatalf("final %+v %q", r.Header, r.Data)
	}
	p := c.n.Result().Params
	if p.ImmediateData || p.MaxBurstLength != 32768 || p.FirstBurstLength != 8192 || !p.HeaderDigest {
		t.Fatalf("negotiated %+v", p)
	}

	// Unanswered offers, or answers beyond what was offered, fail the login.
	c = setup()
	c.step(StageOperational, StageFullFeature, true, first()...)
	wantStatus(t, c.step(StageOperational, StageFullFeature, true, "ImmediateData=No"), StatusInitiatorError)
	c = setup()
	c.step(StageOperational, StageFullFeature, true, first()...)
	wantStatus(t, c.step(StageOperational, 0, false, "MaxBurstLength=131072"), StatusInitiatorError)
	c = setup()
	c.step(StageOperational, StageFullFeature, true, first()...)
	wantStatus(t, c.step(StageOperational, 0, false, "HeaderDigest=Reject"), StatusInitiatorError)
}

// TestRFC7143_12_1_AuthMethodOutsideSecurityStage: AuthMethod belongs to the
// security stage.
func TestRFC7143_12_1_AuthMethodOutsideSecurityStage(t *testing.T) {
	c := newConv(t)
	wantStatus(t, c.step(StageOperational, StageFullFeature, true, first("AuthMethod=None")...), StatusInitiatorError)
}

// TestRFC7143_13_LeadingOnlyKeysIrrelevant: session-wide keys on an added
// connection and session keys in a Discovery session are Irrelevant.
func TestRFC7143_13_LeadingOnlyKeysIrrelevant(t *testing.T) {
	for _, k := range []string{"MaxConnections=1", "InitialR2T=Yes", "ImmediateData=Yes", "MaxBurstLength=512",
		"FirstBurstLength=512", "DefaultTime2Wait=1", "DefaultTime2Retain=1", "MaxOutstandingR2T=1",
		"DataPDUInOrder=Yes", "DataSequenceInOrder=Yes", "ErrorRecoveryLevel=0", "TaskReporting=RFC3720",
		"iSCSIProtocolLevel=1"} {
		c := newConv(t)
		c.req.TSIH = 9
		r := c.step(StageOperational, StageFullFeature, true, first(k)...)
		wantOK(t, r)
		name := strings.SplitN(k, "=", 2)[0]
		if v := keys(t, r.Data)[name]; v != "Irrelevant" {
			t.Errorf("%s on an added connection answered %q", name, v)
		}
	}
}

func TestRFC7143_6_2_FFPTextNegotiation(t *testing.T) {
	n := DefaultNegotiated()
	reply, rest, err := NegotiateText(&n, []kv{
		{Key: "MaxRecvDataSegmentLength", Value: "65536"}, {Key: "SendTargets", Value: "All"},
		{Key: "InitiatorAlias", Value: "x"}, {Key: "MaxBurstLength", Value: "512"},
		{Key: "X-vendor", Value: "1"}, {Key: "HeaderDigest", Value: "CRC32C"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.MaxRecvDataSegmentLength != 65536 || len(rest) != 1 || rest[0].Key != "SendTargets" {
		t.Fatalf("n %+v rest %v", n, rest)
	}
	want := []kv{{Key: "MaxBurstLength", Value: "Reject"}, {Key: "X-vendor", Value: "NotUnderstood"},
		{Key: "HeaderDigest", Value: "Reject"}}
	if len(reply) != len(want) {
		t.Fatalf("reply %v", reply)
	}
	for i := range want {
		if reply[i] != want[i] {
			t.Fatalf("reply %v, want %v", reply, want)
		}
	}
	reply, _, _ = NegotiateText(&n, []kv{{Key: "MaxRecvDataSegmentLength", Value: "1"}})
	if len(reply) != 1 || reply[0].Value != "Reject" || n.MaxRecvDataSegmentLength != 65536 {
		t.Fatalf("invalid declaration: %v %d", reply, n.MaxRecvDataSegmentLength)
	}
	if _, _, err := NegotiateText(&n, []kv{{Key: "SendTargets", Value: "All"}, {Key: "SendTargets", Value: "All"}}); err == nil {
		t.Fatal("repeated key accepted")
	}
	if _, _, err := NegotiateText(&n, []kv{{Key: "MaxRecvDataSegmentLength", Value: "Irrelevant"}}); err == nil {
		t.Fatal("reserved value accepted as offer")
	}
}
