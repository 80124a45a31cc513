package login

import (
	"errors"
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

func TestRFC7143_11_13_5_StatusEncoding(t *testing.T) {
	if s := StatusOf(2, 3); s != StatusNotFound || s.Class() != 2 || s.Detail() != 3 {
		t.Fatalf("StatusOf(2,3) = %v", s)
	}
	if got := StatusSessionDoesNotExist.String(); got != "session does not exist (020a)" {
		t.Fatalf("String %q", got)
	}
	if StatusOf(ClassTargetError, DetailServiceUnavailable) != StatusServiceUnavailable ||
		StatusOf(ClassInitiatorError, DetailSessionDoesNotExist) != StatusSessionDoesNotExist ||
		StatusOf(ClassRedirection, DetailTargetMovedTemporarily) != StatusTargetMovedTemporarily {
		t.Fatal("class/detail constants disagree with Status constants")
	}
	if SessionDiscovery.String() != "Discovery" || SessionNormal.String() != "Normal" {
		t.Fatal("SessionType names")
	}
	if got := Status(0x0477).String(); got != "status 0477" {
		t.Fatalf("String %q", got)
	}
}

// TestRFC7143_11_13_5_InitiatorErrors covers the ways a login becomes a
// protocol error (class 2 detail 0).
func TestRFC7143_11_13_5_InitiatorErrors(t *testing.T) {
	changes := map[string]func(*pdu.LoginReq){
		"ISID":       func(r *pdu.LoginReq) { r.ISID[5]++ },
		"TSIH":       func(r *pdu.LoginReq) { r.TSIH++ },
		"ITT":        func(r *pdu.LoginReq) { r.ITT++ },
		"CID":        func(r *pdu.LoginReq) { r.CID++ },
		"CmdSN":      func(r *pdu.LoginReq) { r.CmdSN++ },
		"VersionMax": func(r *pdu.LoginReq) { r.VersionMax++ },
	}
	for name, change := range changes {
		t.Run("11.12 "+name+" changed during login", func(t *testing.T) {
			c := newConv(t)
			wantOK(t, c.step(StageSecurity, 0, false, first()...))
			change(&c.req)
			wantStatus(t, c.step(StageSecurity, StageOperational, true, "AuthMethod=None"), StatusInitiatorError)
		})
	}
	cases := []struct {
		name string
		run  func(c *conv) Response
	}{
		{"T and C both set", func(c *conv) Response {
			r := c.req
			r.Transit, r.Continue, r.CSG, r.NSG = true, true, StageOperational, StageFullFeature
			return c.n.Step(&r, text(first()...))
		}},
		{"start in full feature stage", func(c *conv) Response { return c.step(StageFullFeature, 0, false, first()...) }},
		{"start in reserved stage 2", func(c *conv) Response { return c.step(2, 0, false, first()...) }},
		{"transit to reserved stage 2", func(c *conv) Response { return c.step(StageSecurity, 2, true, first()...) }},
		{"transit backwards", func(c *conv) Response {
			c.step(StageSecurity, StageOperational, true, first()...)
			return c.step(StageOperational, StageSecurity, true)
		}},
		{"transit to the same stage", func(c *conv) Response { return c.step(StageOperational, StageOperational, true, first()...) }},
		{"wrong stage after transit", func(c *conv) Response {
			c.step(StageSecurity, StageOperational, true, first()...)
			return c.step(StageSecurity, StageOperational, true)
		}},
		{"stage changed without transit", func(c *conv) Response {
			c.step(StageSecurity, 0, false, first()...)
			return c.step(StageOperational, StageFullFeature, true)
		}},
		{"text without NUL", func(c *conv) Response {
			r := c.req
			return c.n.Step(&r, []byte("InitiatorName=x"))
		}},
		{"pair without =", func(c *conv) Response { return c.step(StageOperational, StageFullFeature, true, "InitiatorName") }},
		{"continued text too long", func(c *conv) Response {
			r := c.req
			r.Continue = true
			big := make([]byte, 8192)
			var resp Response
			for range 9 {
				if resp = c.n.Step(&r, big); resp.Failed {
					break
				}
			}
			return resp
		}},
		{"InitiatorName too long", func(c *conv) Response {
			long := make([]byte, 224)
			for i := range long {
				long[i] = 'a'
			}
			return c.step(StageOperational, StageFullFeature, true, "InitiatorName="+string(long), "TargetName="+iqnTarget)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newConv(t)
			r := tc.run(c)
			wantStatus(t, r, StatusInitiatorError)
			wantStatus(t, c.step(StageSecurity, 0, false), StatusInitiatorError) // stays failed
		})
	}
}

// scriptedAuth is an Authenticator whose exchange accepts CHAP_N=good.
type scriptedAuth struct {
	methods  []string
	beginErr error
}

func (a *scriptedAuth) Methods(AuthRequest) []string { return a.methods }
func (a *scriptedAuth) Begin(string, AuthRequest) (AuthExchange, error) {
	if a.beginErr != nil {
		return nil, a.beginErr
	}
	return &scriptedExchange{}, nil
}

type scriptedExchange struct{ challenged bool }

func (x *scriptedExchange) Step(keys []pdu.KV) AuthStep {
	m := map[string]string{}
	for _, k := range keys {
		m[k.Key] = k.Value
	}
	if !x.challenged {
		if m["CHAP_A"] == "" {
			return AuthStep{Status: StatusMissingParameter}
		}
		x.challenged = true
		return AuthStep{Reply: []pdu.KV{{Key: "CHAP_A", Value: "5"}, {Key: "CHAP_I", Value: "1"}, {Key: "CHAP_C", Value: "0x0102"}}}
	}
	if m["CHAP_N"] != "good" {
		return AuthStep{Status: StatusAuthenticationFailure}
	}
	return AuthStep{Done: true, Identity: "good"}
}

func authConv(t *testing.T, a Authenticator) *conv {
	c := newConv(t)
	c.n = New(Config{PortalGroupTag: tpgt, Env: c.env, Auth: a})
	return c
}

// TestRFC7143_12_SecurityStageExchange drives the security stage through an
// Authenticator, as CHAP will.
func TestRFC7143_12_SecurityStageExchange(t *testing.T) {
	c := authConv(t, &scriptedAuth{methods: []string{AuthCHAP}})
	r := c.step(StageSecurity, StageOperational, false, first("AuthMethod=CHAP,None")...)
	wantOK(t, r)
	if keys(t, r.Data)["AuthMethod"] != "CHAP" {
		t.Fatalf("reply %q", r.Data)
	}
	r = c.step(StageSecurity, 0, false, "CHAP_A=5")
	if keys(t, r.Data)["CHAP_C"] != "0x0102" || r.Header.Transit {
		t.Fatalf("challenge %+v %q", r.Header, r.Data)
	}
	r = c.step(StageSecurity, StageOperational, true, "CHAP_N=good", "CHAP_R=0xab")
	wantOK(t, r)
	if !r.Header.Transit || r.Header.NSG != StageOperational {
		t.Fatalf("no transit after authentication: %+v", r.Header)
	}
	r = c.step(StageOperational, StageFullFeature, true)
	if !r.Done || c.n.Result().AuthMethod != AuthCHAP || c.n.Result().AuthIdentity != "good" {
		t.Fatalf("result %+v", c.n.Result())
	}

	c = authConv(t, &scriptedAuth{methods: []string{AuthCHAP}})
	c.step(StageSecurity, 0, false, first("AuthMethod=CHAP")...)
	c.step(StageSecurity, 0, false, "CHAP_A=5")
	wantStatus(t, c.step(StageSecurity, StageOperational, true, "CHAP_N=bad", "CHAP_R=0xab"), StatusAuthenticationFailure)

	// T before the exchange completes is answered with T=0.
	c = authConv(t, &scriptedAuth{methods: []string{AuthCHAP}})
	r = c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP")...)
	if r.Header.Transit || r.Failed {
		t.Fatalf("transit before authentication: %+v", r)
	}
}

// TestRFC7143_11_13_5_StatusDetails produces each status that can happen
// without authentication secrets.
func TestRFC7143_11_13_5_StatusDetails(t *testing.T) {
	admitRefuses := func(s Status) func(c *conv) Response {
		return func(c *conv) Response {
			c.env.status = s
			return c.step(StageOperational, StageFullFeature, true, first()...)
		}
	}
	cases := []struct {
		status Status
		name   string
		run    func(c *conv) Response
	}{
		{StatusAuthenticationFailure, "AuthMethod None not offered", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP,SRP")...)
		}},
		{StatusAuthenticationFailure, "security stage skipped but authentication required", func(c *conv) Response {
			c.n = New(Config{PortalGroupTag: tpgt, Env: c.env, Auth: &scriptedAuth{methods: []string{AuthCHAP}}})
			return c.step(StageOperational, StageFullFeature, true, first()...)
		}},
		{StatusAuthenticationFailure, "no AuthMethod but authentication required", func(c *conv) Response {
			c.n = New(Config{PortalGroupTag: tpgt, Env: c.env, Auth: &scriptedAuth{methods: []string{AuthCHAP}}})
			return c.step(StageSecurity, StageOperational, true, first()...)
		}},
		{StatusAuthorizationFailure, "authenticator allows no method", func(c *conv) Response {
			c.n = New(Config{PortalGroupTag: tpgt, Env: c.env, Auth: &scriptedAuth{}})
			return c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...)
		}},
		{StatusAuthorizationFailure, "Admit denies access", admitRefuses(StatusAuthorizationFailure)},
		{StatusNotFound, "unknown target", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true,
				"InitiatorName="+iqnInit, "TargetName=iqn.2024-01.org.halun:nope", "AuthMethod=None")
		}},
		{StatusNotFound, "target not on this portal group", func(c *conv) Response {
			c.n = New(Config{PortalGroupTag: 2, Env: c.env})
			return c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...)
		}},
		{StatusTargetRemoved, "Admit: target removed", admitRefuses(StatusTargetRemoved)},
		{StatusUnsupportedVersion, "VersionMin 1", func(c *conv) Response {
			c.req.VersionMin, c.req.VersionMax = 1, 2
			return c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...)
		}},
		{StatusTooManyConnections, "Admit: too many connections", admitRefuses(StatusTooManyConnections)},
		{StatusMissingParameter, "no InitiatorName", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true, "TargetName="+iqnTarget, "AuthMethod=None")
		}},
		{StatusMissingParameter, "empty InitiatorName", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true, "InitiatorName=", "TargetName="+iqnTarget)
		}},
		{StatusMissingParameter, "no TargetName in a Normal session", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true, "InitiatorName="+iqnInit, "SessionType=Normal")
		}},
		{StatusCantIncludeInSession, "Admit: can't include", admitRefuses(StatusCantIncludeInSession)},
		{StatusSessionTypeNotSupported, "unknown SessionType", func(c *conv) Response {
			return c.step(StageSecurity, StageOperational, true, "InitiatorName="+iqnInit, "SessionType=Boot")
		}},
		{StatusSessionDoesNotExist, "Admit: no such session", func(c *conv) Response {
			c.req.TSIH = 77
			c.env.status = StatusSessionDoesNotExist
			return c.step(StageOperational, StageFullFeature, true, first()...)
		}},
		{StatusInitiatorError, "transport saw an AHS in the first request", func(c *conv) Response {
			c.req.CSG = StageOperational
			r := c.n.RefuseRequest(&c.req, StatusInitiatorError, "Login Request with an AHS")
			if r.Header.CSG != c.req.CSG {
				c.t.Errorf("refusal in stage %d, request in %d", r.Header.CSG, c.req.CSG)
			}
			return r
		}},
		{StatusInitiatorError, "transport saw an AHS in a later request", func(c *conv) Response {
			c.step(StageSecurity, 0, false, first()...)
			return c.n.RefuseRequest(&c.req, StatusInitiatorError, "Login Request with an AHS")
		}},
		{StatusInvalidDuringLogin, "transport saw another PDU", func(c *conv) Response {
			c.step(StageSecurity, 0, false, first()...)
			return c.n.Refuse(StatusInvalidDuringLogin, "SCSI Command during login")
		}},
		{StatusTargetError, "Admit returns TSIH 0", func(c *conv) Response {
			c.env.tsih = 0
			return c.step(StageOperational, StageFullFeature, true, first()...)
		}},
		{StatusTargetError, "authenticator cannot start", func(c *conv) Response {
			c.n = New(Config{PortalGroupTag: tpgt, Env: c.env,
				Auth: &scriptedAuth{methods: []string{AuthCHAP}, beginErr: errors.New("no rng")}})
			return c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP")...)
		}},
		{StatusTargetError, "no Env", func(c *conv) Response {
			c.n = New(Config{})
			return c.step(StageSecurity, StageOperational, true, first()...)
		}},
		{StatusServiceUnavailable, "Admit: service unavailable", admitRefuses(StatusServiceUnavailable)},
		{StatusOutOfResources, "Admit: out of resources", admitRefuses(StatusOutOfResources)},
	}
	for _, tc := range cases {
		t.Run(tc.status.String()+" "+tc.name, func(t *testing.T) {
			c := newConv(t)
			r := tc.run(c)
			wantStatus(t, r, tc.status)
			if r.Header.ITT != c.req.ITT || r.Header.ISID != c.req.ISID {
				t.Fatalf("failure response does not echo the request: %+v", r.Header)
			}
		})
	}
}
