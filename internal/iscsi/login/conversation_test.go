package login

import (
	"strings"
	"testing"
)

// openISCSIOps are the operational keys Linux open-iscsi sends.
var openISCSIOps = []string{
	"HeaderDigest=None", "DataDigest=None", "DefaultTime2Wait=2", "DefaultTime2Retain=0",
	"IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0", "InitialR2T=No", "ImmediateData=Yes",
	"MaxBurstLength=16776192", "FirstBurstLength=262144", "MaxOutstandingR2T=1",
	"MaxConnections=1", "DataPDUInOrder=Yes", "DataSequenceInOrder=Yes",
	"MaxRecvDataSegmentLength=262144",
}

// TestRFC7143_6_3_LoginSecurityOperationalFFP is the open-iscsi conversation:
// security stage with AuthMethod=None, operational stage, full feature phase.
func TestRFC7143_6_3_LoginSecurityOperationalFFP(t *testing.T) {
	c := newConv(t)
	r := c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...)
	wantOK(t, r)
	if !r.Header.Transit || r.Header.CSG != StageSecurity || r.Header.NSG != StageOperational || r.Done {
		t.Fatalf("security response header %+v", r.Header)
	}
	if r.Header.TSIH != 0 {
		t.Fatalf("TSIH %d before the final response", r.Header.TSIH)
	}
	got := keys(t, r.Data)
	if got["AuthMethod"] != "None" || got["TargetPortalGroupTag"] != "1" ||
		got["TargetAlias"] != "disk one" || len(got) != 3 {
		t.Fatalf("security reply %v", got)
	}

	r = c.step(StageOperational, StageFullFeature, true, openISCSIOps...)
	wantOK(t, r)
	if !r.Done || r.Header.TSIH != 0x1234 || r.Header.CSG != StageOperational {
		t.Fatalf("final response %+v done=%v", r.Header, r.Done)
	}
	got = keys(t, r.Data)
	want := map[string]string{
		"HeaderDigest": "None", "DataDigest": "None", "DefaultTime2Wait": "2", "DefaultTime2Retain": "0",
		"IFMarker": "No", "OFMarker": "No", "ErrorRecoveryLevel": "0", "InitialR2T": "No",
		"ImmediateData": "Yes", "MaxBurstLength": "1048576", "FirstBurstLength": "262144",
		"MaxOutstandingR2T": "1", "MaxConnections": "1", "DataPDUInOrder": "Yes",
		"DataSequenceInOrder": "Yes", "MaxRecvDataSegmentLength": "262144",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("reply %v has extra keys", got)
	}
	res := c.n.Result()
	if res == nil || res.TSIH != 0x1234 || res.InitiatorName != iqnInit || res.InitiatorAlias != "client1" ||
		res.TargetName != iqnTarget || res.SessionType != SessionNormal || res.AuthMethod != AuthNone ||
		res.CID != 1 || res.CmdSN != 100 || res.PortalGroupTag != tpgt {
		t.Fatalf("result %+v", res)
	}
	p := res.Params
	if p.MaxRecvDataSegmentLength != 262144 || p.TargetMaxRecvDataSegmentLength != 262144 ||
		p.MaxBurstLength != 1<<20 || p.FirstBurstLength != 262144 || p.InitialR2T || !p.ImmediateData ||
		p.HeaderDigest || p.DataDigest || p.DefaultTime2Retain != 0 {
		t.Fatalf("negotiated %+v", p)
	}
	if len(c.env.admitted) != 1 || c.env.admitted[0].TSIH != 0 {
		t.Fatalf("Admit calls %+v", c.env.admitted)
	}
	// After Done, further requests are refused.
	wantStatus(t, c.step(StageOperational, StageFullFeature, true), StatusInitiatorError)
}

// TestRFC7143_6_3_DirectOperationalToFFP is libiscsi without CHAP: the login
// starts in the operational stage and goes straight to full feature phase.
func TestRFC7143_6_3_DirectOperationalToFFP(t *testing.T) {
	got, res := opLogin(t, nil, "HeaderDigest=None,CRC32C", "DataDigest=None", "InitialR2T=Yes",
		"ImmediateData=Yes", "MaxBurstLength=262144", "FirstBurstLength=262144",
		"MaxRecvDataSegmentLength=262144", "DataPDUInOrder=Yes", "DefaultTime2Wait=2",
		"DefaultTime2Retain=0", "IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0",
		"DataSequenceInOrder=Yes", "MaxConnections=1", "MaxOutstandingR2T=1")
	if got["TargetPortalGroupTag"] != "1" || got["HeaderDigest"] != "None" || got["InitialR2T"] != "Yes" ||
		got["FirstBurstLength"] != "262144" || got["MaxRecvDataSegmentLength"] != "262144" {
		t.Fatalf("reply %v", got)
	}
	if res.AuthMethod != AuthNone || !res.Params.InitialR2T || res.Params.UnsolicitedLimit() != 262144 {
		t.Fatalf("result %+v", res)
	}
}

// TestRFC7143_6_3_SecurityDirectToFFP: the security stage may lead straight to
// full feature phase; the target still declares its MaxRecvDataSegmentLength.
func TestRFC7143_6_3_SecurityDirectToFFP(t *testing.T) {
	c := newConv(t)
	r := c.step(StageSecurity, StageFullFeature, true, first("AuthMethod=CHAP,None")...)
	wantOK(t, r)
	if !r.Done || r.Header.CSG != StageSecurity || r.Header.NSG != StageFullFeature {
		t.Fatalf("response %+v", r.Header)
	}
	got := keys(t, r.Data)
	if got["AuthMethod"] != "None" || got["MaxRecvDataSegmentLength"] != "262144" {
		t.Fatalf("reply %v", got)
	}
}

// TestRFC7143_6_3_SecurityStageWithoutTransit: the target sets T only when the
// initiator did; several security-stage exchanges are allowed.
func TestRFC7143_6_3_SecurityStageWithoutTransit(t *testing.T) {
	c := newConv(t)
	r := c.step(StageSecurity, 0, false, first()...)
	wantOK(t, r)
	if r.Header.Transit {
		t.Fatal("T set without the initiator's T")
	}
	r = c.step(StageSecurity, 0, false, "AuthMethod=None")
	wantOK(t, r)
	if r.Header.Transit || keys(t, r.Data)["AuthMethod"] != "None" {
		t.Fatalf("response %+v %q", r.Header, r.Data)
	}
	r = c.step(StageSecurity, StageOperational, true)
	if !r.Header.Transit || r.Header.NSG != StageOperational || len(r.Data) != 0 {
		t.Fatalf("response %+v %q", r.Header, r.Data)
	}
	r = c.step(StageOperational, 0, false, "MaxRecvDataSegmentLength=8192")
	if r.Header.Transit || keys(t, r.Data)["MaxRecvDataSegmentLength"] != "262144" {
		t.Fatalf("response %+v %q", r.Header, r.Data)
	}
	r = c.step(StageOperational, StageFullFeature, true)
	if !r.Done || len(r.Data) != 0 {
		t.Fatalf("final response %+v %q", r.Header, r.Data)
	}
	if c.n.Result().Params.MaxSendSegment() != 8192 {
		t.Fatalf("MaxSendSegment %d", c.n.Result().Params.MaxSendSegment())
	}
}

// TestRFC7143_6_3_NoAuthMethodOffered: leaving the security stage without
// AuthMethod is accepted when no authentication is required.
func TestRFC7143_6_3_NoAuthMethodOffered(t *testing.T) {
	c := newConv(t)
	r := c.step(StageSecurity, StageOperational, true, first()...)
	wantOK(t, r)
	if !r.Header.Transit {
		t.Fatal("no transit")
	}
	r = c.step(StageOperational, StageFullFeature, true)
	if !r.Done || c.n.Result().AuthMethod != AuthNone {
		t.Fatalf("response %+v", r)
	}
}

// TestRFC7143_6_2_ContinuedRequest: text split with the C bit is accumulated
// and answered with empty responses until the last part.
func TestRFC7143_6_2_ContinuedRequest(t *testing.T) {
	c := newConv(t)
	all := text(first(openISCSIOps...)...)
	parts := [][]byte{all[:10], all[10:100], all[100:]}
	for i, p := range parts {
		req := c.req
		req.CSG = StageOperational
		last := i == len(parts)-1
		req.Continue = !last
		if last {
			req.Transit, req.NSG = true, StageFullFeature
		}
		r := c.n.Step(&req, p)
		checkWellFormed(t, &req, &r)
		wantOK(t, r)
		if !last && (len(r.Data) != 0 || r.Header.Transit || r.Header.Continue) {
			t.Fatalf("part %d answered %+v %q", i, r.Header, r.Data)
		}
		if last && (!r.Done || keys(t, r.Data)["MaxBurstLength"] != "1048576") {
			t.Fatalf("last part answered %+v %q", r.Header, r.Data)
		}
	}
}

// TestRFC7143_6_2_ContinuedResponse: a response longer than 8192 bytes is
// split with the C bit; the initiator fetches the rest with empty requests
// and the target sets T only once everything has been sent.
func TestRFC7143_6_2_ContinuedResponse(t *testing.T) {
	c := newConv(t)
	var pairs []string
	for i := range 700 {
		pairs = append(pairs, "X-com.example.k"+strings.Repeat("x", 5)+itoa(i)+"=v")
	}
	r := c.step(StageOperational, StageFullFeature, true, first(pairs...)...)
	wantOK(t, r)
	var data []byte
	n := 0
	for r.Header.Continue {
		if len(r.Data) != MaxLoginSegment || r.Header.Transit || r.Done {
			t.Fatalf("continued part %+v len %d", r.Header, len(r.Data))
		}
		data = append(data, r.Data...)
		r = c.step(StageOperational, StageFullFeature, true)
		wantOK(t, r)
		n++
	}
	data = append(data, r.Data...)
	if n < 2 || r.Done || r.Header.Transit {
		t.Fatalf("after %d parts: %+v", n, r.Header)
	}
	got := keys(t, data)
	if got["X-com.example.kxxxxx699"] != "NotUnderstood" || got["TargetPortalGroupTag"] != "1" {
		t.Fatalf("joined reply lacks keys")
	}
	r = c.step(StageOperational, StageFullFeature, true)
	if !r.Done {
		t.Fatalf("no transit after the continued response: %+v", r)
	}
	// Text while the response is still continued is a protocol error.
	c = newConv(t)
	r = c.step(StageOperational, StageFullFeature, true, first(pairs...)...)
	if !r.Header.Continue {
		t.Fatal("response not continued")
	}
	wantStatus(t, c.step(StageOperational, 0, false, "MaxConnections=1"), StatusInitiatorError)
}

// TestRFC7143_11_13_TSIHOfAddedConnection: a login with TSIH != 0 adds a
// connection; session-wide keys are Irrelevant there and Admit decides.
func TestRFC7143_11_13_TSIHOfAddedConnection(t *testing.T) {
	c := newConv(t)
	c.req.TSIH = 0x0042
	r := c.step(StageOperational, StageFullFeature, true,
		first("HeaderDigest=CRC32C,None", "MaxBurstLength=4096", "MaxRecvDataSegmentLength=65536")...)
	wantOK(t, r)
	got := keys(t, r.Data)
	if !r.Done || r.Header.TSIH != 0x42 || got["MaxBurstLength"] != "Irrelevant" || got["HeaderDigest"] != "CRC32C" {
		t.Fatalf("response %+v %v", r.Header, got)
	}
	res := c.n.Result()
	if res.Leading() || !res.Params.HeaderDigest || res.Params.MaxRecvDataSegmentLength != 65536 {
		t.Fatalf("result %+v", res)
	}
	if c.env.admitted[0].TSIH != 0x42 {
		t.Fatalf("Admit saw TSIH %#x", c.env.admitted[0].TSIH)
	}
}

// TestRFC7143_13_21_DiscoverySession: no TargetName needed; session keys are
// Irrelevant; no TargetPortalGroupTag.
func TestRFC7143_13_21_DiscoverySession(t *testing.T) {
	c := newConv(t)
	r := c.step(StageSecurity, StageOperational, true, "InitiatorName="+iqnInit, "SessionType=Discovery", "AuthMethod=None")
	wantOK(t, r)
	if got := keys(t, r.Data); got["AuthMethod"] != "None" || len(got) != 1 {
		t.Fatalf("reply %v", got)
	}
	r = c.step(StageOperational, StageFullFeature, true, "HeaderDigest=None", "DataDigest=None",
		"MaxRecvDataSegmentLength=32768", "DefaultTime2Wait=0", "DefaultTime2Retain=0",
		"IFMarker=No", "OFMarker=No", "ErrorRecoveryLevel=0", "MaxBurstLength=262144", "ImmediateData=Yes")
	wantOK(t, r)
	got := keys(t, r.Data)
	if !r.Done || got["MaxBurstLength"] != "Irrelevant" || got["ImmediateData"] != "Irrelevant" ||
		got["DefaultTime2Wait"] != "2" || got["ErrorRecoveryLevel"] != "0" {
		t.Fatalf("reply %v", got)
	}
	res := c.n.Result()
	if res.SessionType != SessionDiscovery || res.TargetName != "" || res.Params.MaxRecvDataSegmentLength != 32768 {
		t.Fatalf("result %+v", res)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
