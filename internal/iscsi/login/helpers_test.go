package login

import (
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

const (
	iqnInit   = "iqn.1994-05.com.redhat:client1"
	iqnTarget = "iqn.2024-01.org.halun:disk1"
	tpgt      = 1
)

// fakeEnv is an Env with one target and a scripted admission.
type fakeEnv struct {
	targets  map[string]TargetInfo
	status   Status // refuse admission with this status when non-zero
	tsih     uint16 // TSIH handed to new sessions
	admitted []Result
}

func newEnv() *fakeEnv {
	return &fakeEnv{
		targets: map[string]TargetInfo{iqnTarget: {
			Name: iqnTarget, Alias: "disk one", PortalGroups: []uint16{tpgt}, Params: DefaultSettings(),
		}},
		tsih: 0x1234,
	}
}

func (e *fakeEnv) LookupTarget(name string, _ uint16) (TargetInfo, bool) {
	t, ok := e.targets[name]
	return t, ok
}

func (e *fakeEnv) Admit(r *Result) (uint16, uint8, uint8) {
	e.admitted = append(e.admitted, *r)
	if e.status != StatusSuccess {
		return 0, e.status.Class(), e.status.Detail()
	}
	if r.TSIH != 0 {
		return r.TSIH, 0, 0
	}
	return e.tsih, 0, 0
}

// text encodes "key=value" strings as a login data segment.
func text(pairs ...string) []byte {
	var b []byte
	for _, p := range pairs {
		b = append(b, p...)
		b = append(b, 0)
	}
	return b
}

// keys decodes a response data segment into a map, failing on repeats.
func keys(t *testing.T, data []byte) map[string]string {
	t.Helper()
	kvs, err := pdu.ParseText(data)
	if err != nil {
		t.Fatalf("response text: %v", err)
	}
	m := map[string]string{}
	for _, p := range kvs {
		if _, dup := m[p.Key]; dup {
			t.Fatalf("response repeats key %s", p.Key)
		}
		m[p.Key] = p.Value
	}
	return m
}

// conv drives one login conversation.
type conv struct {
	t   *testing.T
	env *fakeEnv
	n   *Negotiator
	req pdu.LoginReq
	out textJoiner
}

func newConv(t *testing.T) *conv {
	env := newEnv()
	return &conv{
		t: t, env: env,
		n: New(Config{PortalGroupTag: tpgt, Env: env}),
		req: pdu.LoginReq{ISID: pdu.ISID{0x40, 0, 0x01, 0x37, 0, 0}, ITT: 7, CID: 1,
			CmdSN: 100, ExpStatSN: 0},
	}
}

// step sends one request. transit may be nil-less: nsg is used only with T.
func (c *conv) step(csg, nsg uint8, transit bool, pairs ...string) Response {
	c.t.Helper()
	r := c.req
	r.CSG, r.NSG, r.Transit = csg, nsg, transit
	if !transit {
		r.NSG = 0
	}
	resp := c.n.Step(&r, text(pairs...))
	checkWellFormed(c.t, &r, &resp)
	c.out.feed(c.t, &resp)
	return resp
}

// checkWellFormed verifies invariants every response must keep.
func checkWellFormed(t *testing.T, req *pdu.LoginReq, r *Response) {
	t.Helper()
	h := &r.Header
	if h.Transit && h.Continue {
		t.Fatalf("response with both T and C")
	}
	if h.VersionMax != 0 || h.VersionActive != 0 {
		t.Fatalf("response versions %d/%d", h.VersionMax, h.VersionActive)
	}
	if h.ITT != req.ITT || h.ISID != req.ISID {
		t.Fatalf("response ITT/ISID do not echo the request")
	}
	if len(r.Data) > MaxLoginSegment {
		t.Fatalf("response data %d bytes exceeds %d", len(r.Data), MaxLoginSegment)
	}
	if h.Transit && !req.Transit {
		t.Fatalf("target set T although the initiator did not")
	}
	if h.Transit && h.NSG > req.NSG {
		t.Fatalf("target NSG %d beyond initiator NSG %d", h.NSG, req.NSG)
	}
	if r.Failed {
		if r.Status() == StatusSuccess || h.Transit || r.Done || len(r.Data) != 0 {
			t.Fatalf("malformed failure response %+v", r)
		}
		if r.Reason == "" {
			t.Fatalf("failure without reason")
		}
	} else if r.Status() != StatusSuccess {
		t.Fatalf("non-failed response with status %v", r.Status())
	}
	if r.Done && (!h.Transit || h.NSG != StageFullFeature || h.TSIH == 0) {
		t.Fatalf("Done response without T/NSG=3/TSIH: %+v", h)
	}
}

// textJoiner reassembles response text split with the C bit and checks that
// every complete response parses.
type textJoiner struct{ buf []byte }

func (j *textJoiner) feed(t *testing.T, r *Response) {
	t.Helper()
	if r.Failed {
		j.buf = nil
		return
	}
	j.buf = append(j.buf, r.Data...)
	if r.Header.Continue {
		return
	}
	if _, err := pdu.ParseText(j.buf); err != nil {
		t.Fatalf("response text does not parse: %v", err)
	}
	j.buf = nil
}

// first returns the declarations of a Normal session's first request.
func first(extra ...string) []string {
	return append([]string{"InitiatorName=" + iqnInit, "InitiatorAlias=client1",
		"SessionType=Normal", "TargetName=" + iqnTarget}, extra...)
}

// wantStatus asserts a failure status.
func wantStatus(t *testing.T, r Response, s Status) {
	t.Helper()
	if !r.Failed || r.Status() != s {
		t.Fatalf("status %v (failed=%v, reason %q), want %v", r.Status(), r.Failed, r.Reason, s)
	}
}

func wantOK(t *testing.T, r Response) {
	t.Helper()
	if r.Failed {
		t.Fatalf("login failed: %v: %s", r.Status(), r.Reason)
	}
}

// opLogin runs a direct operational→FFP login of a Normal session with the
// given operational keys and returns the reply keys and the result.
func opLogin(t *testing.T, mod func(*Settings), pairs ...string) (map[string]string, *Result) {
	t.Helper()
	c := newConv(t)
	if mod != nil {
		ti := c.env.targets[iqnTarget]
		mod(&ti.Params)
		c.env.targets[iqnTarget] = ti
	}
	r := c.step(StageOperational, StageFullFeature, true, first(pairs...)...)
	wantOK(t, r)
	if !r.Done {
		t.Fatalf("login not done: %+v %q", r.Header, r.Data)
	}
	return keys(t, r.Data), c.n.Result()
}
