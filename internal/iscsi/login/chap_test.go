package login

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

const (
	chapUser         = "client1"
	chapSecret       = "initiator-secret-1"
	chapTargetUser   = "san1"
	chapTargetSecret = "target-secret-0001"
)

// fixedRand returns a deterministic random source: 0x01, 0x02, ...
func fixedRand() *bytes.Reader {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return bytes.NewReader(b)
}

func chapAuth(creds *CHAPCredentials, allowed bool) *CHAPAuthenticator {
	return &CHAPAuthenticator{
		Policy: func(AuthRequest) AuthPolicy { return AuthPolicy{Allowed: allowed, CHAP: creds} },
		Rand:   fixedRand(),
	}
}

func oneWay() *CHAPCredentials { return &CHAPCredentials{User: chapUser, Secret: chapSecret} }

func mutual() *CHAPCredentials {
	return &CHAPCredentials{User: chapUser, Secret: chapSecret, TargetUser: chapTargetUser, TargetSecret: chapTargetSecret}
}

func kvMap(kvs []pdu.KV) map[string]string {
	m := map[string]string{}
	for _, k := range kvs {
		m[k.Key] = k.Value
	}
	return m
}

// challenge starts an exchange with CHAP_A=algs and returns it with the
// target's algorithm, identifier and challenge.
func challenge(t *testing.T, creds *CHAPCredentials, algs string) (AuthExchange, int, byte, []byte) {
	t.Helper()
	x, err := chapAuth(creds, true).Begin(AuthCHAP, AuthRequest{InitiatorName: iqnInit})
	if err != nil {
		t.Fatal(err)
	}
	st := x.Step([]pdu.KV{{Key: "CHAP_A", Value: algs}})
	if st.Status != StatusSuccess || st.Done {
		t.Fatalf("CHAP_A=%s: %+v", algs, st)
	}
	m := kvMap(st.Reply)
	alg, _ := strconv.Atoi(m["CHAP_A"])
	id, err := strconv.Atoi(m["CHAP_I"])
	if err != nil || id < 0 || id > 255 {
		t.Fatalf("CHAP_I=%q", m["CHAP_I"])
	}
	if !strings.HasPrefix(m["CHAP_C"], "0x") {
		t.Fatalf("CHAP_C=%q is not hex (libiscsi reads only 0x)", m["CHAP_C"])
	}
	c, err := hex.DecodeString(m["CHAP_C"][2:])
	if err != nil || len(c) < 16 {
		t.Fatalf("CHAP_C=%q: want at least 16 bytes", m["CHAP_C"])
	}
	return x, alg, byte(id), c
}

func hexResp(alg int, id byte, secret string, c []byte) string {
	return "0x" + hex.EncodeToString(CHAPResponse(alg, id, []byte(secret), c))
}

// TestRFC1994_CHAPResponseVectors pins the response function: H(id ||
// secret || challenge) for every algorithm.
func TestRFC1994_CHAPResponseVectors(t *testing.T) {
	c := []byte{0xde, 0xad, 0xbe, 0xef}
	// H(0x07 || "secret" || deadbeef), computed with Python's hashlib.
	want := map[int]string{
		CHAPMD5:     "d7edf6a1f2635943cd1272b146a03cbc",
		CHAPSHA1:    "81b734d7640a2ac7140f7d12dbacddf94c89a629",
		CHAPSHA256:  "75834775a642c480b0ad6c72c4b0b67a538fbbf0008197ff59d267beb027c3ab",
		CHAPSHA3256: "ff10c9badc34f955fe9ee681998cf1d162110f5e340e9d32373f653c83ab72ab",
	}
	for alg, w := range want {
		if got := hex.EncodeToString(CHAPResponse(alg, 7, []byte("secret"), c)); got != w {
			t.Errorf("CHAP_A=%d: %s, want %s", alg, got, w)
		}
	}
	if CHAPResponse(9, 1, nil, nil) != nil {
		t.Error("unknown algorithm gave a response")
	}
}

// TestRFC7143_12_1_3_Algorithm: the target picks the first algorithm of
// the initiator's list that it supports.
func TestRFC7143_12_1_3_Algorithm(t *testing.T) {
	for _, tc := range []struct {
		offer string
		want  int
	}{
		{"5", 5}, {"7,6,5", 7}, {"8,7,6,5", 8}, {"6,5", 6}, {"9,5", 5}, {"0x5", 5}, {"x,7", 7},
	} {
		_, alg, _, c := challenge(t, oneWay(), tc.offer)
		if alg != tc.want {
			t.Errorf("CHAP_A=%s: chose %d, want %d", tc.offer, alg, tc.want)
		}
		if wantLen := max(16, len(CHAPResponse(alg, 0, nil, nil))); len(c) != wantLen {
			t.Errorf("CHAP_A=%d: challenge of %d bytes, want %d", alg, len(c), wantLen)
		}
	}
	a := chapAuth(oneWay(), true)
	a.Algorithms = []int{CHAPMD5}
	x, _ := a.Begin(AuthCHAP, AuthRequest{})
	if st := x.Step([]pdu.KV{{Key: "CHAP_A", Value: "7,5"}}); kvMap(st.Reply)["CHAP_A"] != "5" {
		t.Errorf("restricted to MD5: %+v", st)
	}
	x, _ = chapAuth(oneWay(), true).Begin(AuthCHAP, AuthRequest{})
	if st := x.Step([]pdu.KV{{Key: "CHAP_A", Value: "9,4"}}); st.Status != StatusAuthenticationFailure {
		t.Errorf("no supported algorithm: %+v", st)
	}
}

func TestCHAPChallengesDiffer(t *testing.T) {
	a := &CHAPAuthenticator{Policy: func(AuthRequest) AuthPolicy { return AuthPolicy{Allowed: true, CHAP: oneWay()} }, Rand: fixedRand()}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		x, _ := a.Begin(AuthCHAP, AuthRequest{})
		c := kvMap(x.Step([]pdu.KV{{Key: "CHAP_A", Value: "5"}}).Reply)["CHAP_C"]
		if seen[c] {
			t.Fatalf("challenge %s repeated", c)
		}
		seen[c] = true
	}
}

func TestCHAPOneWay(t *testing.T) {
	for _, alg := range []string{"5", "6", "7", "8"} {
		x, a, id, c := challenge(t, oneWay(), alg)
		st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}})
		if !st.Done || st.Status != StatusSuccess || st.Identity != chapUser || len(st.Reply) != 0 {
			t.Errorf("CHAP_A=%s: %+v", alg, st)
		}
	}
	// base64 and upper-case hex are binary values too (RFC 7143 §6.1).
	x, a, id, c := challenge(t, oneWay(), "5")
	b64 := "0b" + base64.StdEncoding.EncodeToString(CHAPResponse(a, id, []byte(chapSecret), c))
	if st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: b64}}); !st.Done {
		t.Errorf("base64 response: %+v", st)
	}
	x, a, id, c = challenge(t, oneWay(), "5")
	up := "0X" + strings.ToUpper(hex.EncodeToString(CHAPResponse(a, id, []byte(chapSecret), c)))
	if st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: up}}); !st.Done {
		t.Errorf("upper-case hex response: %+v", st)
	}
}

func TestCHAPFailures(t *testing.T) {
	tests := []struct {
		name  string
		creds *CHAPCredentials
		keys  func(alg int, id byte, c []byte) []pdu.KV
		want  Status
	}{
		{"wrong secret", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, "wrong-secret-000", c)}}
		}, StatusAuthenticationFailure},
		{"wrong user", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: "other"}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}}
		}, StatusAuthenticationFailure},
		{"wrong identifier", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id+1, chapSecret, c)}}
		}, StatusAuthenticationFailure},
		{"response of another algorithm", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(CHAPSHA256, id, chapSecret, c)}}
		}, StatusAuthenticationFailure},
		{"truncated response", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)[:20]}}
		}, StatusAuthenticationFailure},
		{"missing CHAP_R", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}}
		}, StatusMissingParameter},
		{"missing CHAP_N", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}}
		}, StatusMissingParameter},
		{"response not binary", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: "deadbeef"}}
		}, StatusInitiatorError},
		{"response bad hex", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: "0xzz"}}
		}, StatusInitiatorError},
		{"unexpected key", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}, {Key: "CHAP_A", Value: "5"}}
		}, StatusInitiatorError},
		{"mutual asked, not configured", oneWay(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
				{Key: "CHAP_I", Value: "3"}, {Key: "CHAP_C", Value: "0x0102030405060708090a0b0c0d0e0f10"}}
		}, StatusAuthenticationFailure},
		{"mutual configured, not asked", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}}
		}, StatusAuthenticationFailure},
		{"mutual: reflected challenge", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
				{Key: "CHAP_I", Value: strconv.Itoa(int(id))}, {Key: "CHAP_C", Value: "0x" + hex.EncodeToString(c)}}
		}, StatusAuthenticationFailure},
		{"mutual: wrong initiator secret", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapTargetSecret, c)},
				{Key: "CHAP_I", Value: "3"}, {Key: "CHAP_C", Value: "0x0102030405060708090a0b0c0d0e0f10"}}
		}, StatusAuthenticationFailure},
		{"mutual: CHAP_I out of range", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
				{Key: "CHAP_I", Value: "256"}, {Key: "CHAP_C", Value: "0x01020304"}}
		}, StatusInitiatorError},
		{"mutual: CHAP_C without CHAP_I", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
				{Key: "CHAP_C", Value: "0x01020304"}}
		}, StatusMissingParameter},
		{"mutual: challenge too long", mutual(), func(a int, id byte, c []byte) []pdu.KV {
			return []pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
				{Key: "CHAP_I", Value: "1"}, {Key: "CHAP_C", Value: "0x" + strings.Repeat("ab", 1025)}}
		}, StatusInitiatorError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, a, id, c := challenge(t, tt.creds, "5")
			st := x.Step(tt.keys(a, id, c))
			if st.Done || st.Status != tt.want {
				t.Errorf("got %+v, want status %v", st, tt.want)
			}
			for _, kv := range st.Reply {
				if strings.Contains(kv.Value, chapSecret) || strings.Contains(kv.Value, chapTargetSecret) {
					t.Errorf("secret in reply %v", kv)
				}
			}
		})
	}
}

func TestCHAPMutual(t *testing.T) {
	for _, alg := range []string{"5", "7", "8"} {
		x, a, id, c := challenge(t, mutual(), alg)
		ic := []byte("initiator-challenge-0123456789ab")
		st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)},
			{Key: "CHAP_I", Value: "77"}, {Key: "CHAP_C", Value: "0x" + hex.EncodeToString(ic)}})
		if !st.Done || st.Status != StatusSuccess {
			t.Fatalf("CHAP_A=%s: %+v", alg, st)
		}
		m := kvMap(st.Reply)
		if m["CHAP_N"] != chapTargetUser || m["CHAP_R"] != hexResp(a, 77, chapTargetSecret, ic) {
			t.Errorf("CHAP_A=%s: target answer %v", alg, st.Reply)
		}
	}
}

func TestCHAPExchangeOrder(t *testing.T) {
	x, _ := chapAuth(oneWay(), true).Begin(AuthCHAP, AuthRequest{})
	if st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}}); st.Status != StatusMissingParameter {
		t.Errorf("response before CHAP_A: %+v", st)
	}
	x, _ = chapAuth(oneWay(), true).Begin(AuthCHAP, AuthRequest{})
	if st := x.Step([]pdu.KV{{Key: "CHAP_A", Value: "5"}, {Key: "CHAP_A", Value: "5"}}); st.Status != StatusInitiatorError {
		t.Errorf("CHAP_A twice: %+v", st)
	}
	x, a, id, c := challenge(t, oneWay(), "5")
	x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, "wrong-secret-000", c)}})
	if st := x.Step([]pdu.KV{{Key: "CHAP_N", Value: chapUser}, {Key: "CHAP_R", Value: hexResp(a, id, chapSecret, c)}}); st.Done {
		t.Error("a second try after a failed response succeeded")
	}
}

func TestCHAPMethods(t *testing.T) {
	if m := chapAuth(nil, false).Methods(AuthRequest{}); len(m) != 0 {
		t.Errorf("not allowed: %v", m)
	}
	if m := chapAuth(nil, true).Methods(AuthRequest{}); len(m) != 1 || m[0] != AuthNone {
		t.Errorf("open: %v", m)
	}
	if m := chapAuth(oneWay(), true).Methods(AuthRequest{}); len(m) != 1 || m[0] != AuthCHAP {
		t.Errorf("CHAP: %v", m)
	}
	if _, err := chapAuth(nil, true).Begin(AuthCHAP, AuthRequest{}); err == nil {
		t.Error("Begin without credentials")
	}
	if _, err := (&CHAPAuthenticator{Policy: chapAuth(oneWay(), true).Policy}).Begin(AuthCHAP, AuthRequest{}); err == nil {
		t.Error("Begin without a random source")
	}
}

// TestRFC7143_12_1_3_CHAPLogin runs whole logins through the Negotiator as
// libiscsi and open-iscsi do them.
func TestRFC7143_12_1_3_CHAPLogin(t *testing.T) {
	t.Run("one-way", func(t *testing.T) {
		c := authConv(t, chapAuth(oneWay(), true))
		r := c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP,None")...)
		wantOK(t, r)
		if keys(t, r.Data)["AuthMethod"] != "CHAP" || r.Header.Transit {
			t.Fatalf("AuthMethod answer %+v %q", r.Header, r.Data)
		}
		r = c.step(StageSecurity, StageOperational, false, "CHAP_A=5")
		wantOK(t, r)
		m := keys(t, r.Data)
		id, _ := strconv.Atoi(m["CHAP_I"])
		ch, _ := DecodeBinary(m["CHAP_C"])
		r = c.step(StageSecurity, StageOperational, true, "CHAP_N="+chapUser, "CHAP_R="+hexResp(5, byte(id), chapSecret, ch))
		wantOK(t, r)
		if !r.Header.Transit || r.Header.NSG != StageOperational {
			t.Fatalf("no transit after authentication: %+v", r.Header)
		}
		r = c.step(StageOperational, StageFullFeature, true)
		wantOK(t, r)
		if res := c.n.Result(); !r.Done || res.AuthMethod != AuthCHAP || res.AuthIdentity != chapUser {
			t.Fatalf("result %+v", c.n.Result())
		}
	})
	t.Run("wrong secret is 0201", func(t *testing.T) {
		c := authConv(t, chapAuth(oneWay(), true))
		wantOK(t, c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP,None")...))
		r := c.step(StageSecurity, StageOperational, false, "CHAP_A=5")
		m := keys(t, r.Data)
		id, _ := strconv.Atoi(m["CHAP_I"])
		ch, _ := DecodeBinary(m["CHAP_C"])
		r = c.step(StageSecurity, StageOperational, true, "CHAP_N="+chapUser, "CHAP_R="+hexResp(5, byte(id), "wrong-secret-000", ch))
		wantStatus(t, r, StatusAuthenticationFailure)
		if strings.Contains(r.Reason, chapSecret) {
			t.Errorf("reason shows the secret: %s", r.Reason)
		}
	})
	t.Run("security stage skipped is 0201", func(t *testing.T) {
		c := authConv(t, chapAuth(oneWay(), true))
		wantStatus(t, c.step(StageOperational, StageFullFeature, true, first()...), StatusAuthenticationFailure)
	})
	t.Run("AuthMethod=None only is 0201", func(t *testing.T) {
		c := authConv(t, chapAuth(oneWay(), true))
		wantStatus(t, c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...), StatusAuthenticationFailure)
	})
	t.Run("not allowed is 0202", func(t *testing.T) {
		c := authConv(t, chapAuth(nil, false))
		wantStatus(t, c.step(StageSecurity, StageOperational, true, first("AuthMethod=None")...), StatusAuthorizationFailure)
	})
	t.Run("open target accepts None from a CHAP-capable initiator", func(t *testing.T) {
		c := authConv(t, chapAuth(nil, true))
		r := c.step(StageSecurity, StageOperational, true, first("AuthMethod=CHAP,None")...)
		wantOK(t, r)
		if keys(t, r.Data)["AuthMethod"] != "None" || !r.Header.Transit {
			t.Fatalf("%+v %q", r.Header, r.Data)
		}
	})
}

func TestInitiatorNameNormalised(t *testing.T) {
	c := newConv(t)
	r := c.step(StageOperational, StageFullFeature, true, "InitiatorName=IQN.1994-05.COM.Redhat:Client1", "SessionType=Normal", "TargetName="+iqnTarget)
	wantOK(t, r)
	if got := c.n.Result().InitiatorName; got != iqnInit {
		t.Errorf("InitiatorName %q, want %q", got, iqnInit)
	}
}

func TestDecodeBinary(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // hex; "err" for an error
	}{
		{"0x00ff", "00ff"}, {"0XABcd", "abcd"}, {"0xf", "0f"}, {"0x123", "0123"},
		{"0bAP8=", "00ff"}, {"0BAP8=", "00ff"},
		{"0x", "err"}, {"0b", "err"}, {"ff", "err"}, {"0xg0", "err"}, {"0bAP8", "err"}, {"0b!!!!", "err"},
		{"0z00", "err"}, {"", "err"}, {"0x" + strings.Repeat("0", 2049), "err"},
	} {
		got, err := DecodeBinary(tc.in)
		switch {
		case tc.want == "err" && err == nil:
			t.Errorf("%.20q: accepted as %x", tc.in, got)
		case tc.want != "err" && (err != nil || hex.EncodeToString(got) != tc.want):
			t.Errorf("%q: %x, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// FuzzCHAPResponse feeds arbitrary response keys (hex and base64 binary
// values, identifiers, names) to a CHAP exchange: it never panics, and it
// never authenticates without the right response.
func FuzzCHAPResponse(f *testing.F) {
	f.Add("7,5", "client1", "0x00", "", "", true)
	f.Add("5", "client1", "0bAAAA", "1", "0x0102", true)
	f.Add("8", "", "0x", "0x1ff", "0b", false)
	f.Add("5,x,,", "client1", "0X"+strings.Repeat("A", 32), "255", "0x"+strings.Repeat("01", 16), true)
	f.Fuzz(func(t *testing.T, algs, name, resp, ci, cc string, mut bool) {
		creds := oneWay()
		if mut {
			creds = mutual()
		}
		x, err := chapAuth(creds, true).Begin(AuthCHAP, AuthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		st := x.Step([]pdu.KV{{Key: "CHAP_A", Value: algs}})
		if st.Status != StatusSuccess {
			return
		}
		m := kvMap(st.Reply)
		alg, _ := strconv.Atoi(m["CHAP_A"])
		id, _ := strconv.Atoi(m["CHAP_I"])
		ch, _ := DecodeBinary(m["CHAP_C"])
		keys := []pdu.KV{{Key: "CHAP_N", Value: name}, {Key: "CHAP_R", Value: resp}}
		if ci != "" || cc != "" {
			keys = append(keys, pdu.KV{Key: "CHAP_I", Value: ci}, pdu.KV{Key: "CHAP_C", Value: cc})
		}
		st = x.Step(keys)
		if st.Done {
			got, err := DecodeBinary(resp)
			if err != nil || name != chapUser || !bytes.Equal(got, CHAPResponse(alg, byte(id), []byte(chapSecret), ch)) {
				t.Fatalf("authenticated with CHAP_N=%q CHAP_R=%q", name, resp)
			}
		} else if st.Status == StatusSuccess {
			t.Fatal("neither done nor failed")
		}
	})
}
