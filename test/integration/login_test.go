package integration

import (
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// loginText is the text of a one-step operational-stage login of a Normal
// session to the test target.
func loginText(initiatorName string) []byte {
	return pdu.AppendText(nil, []pdu.KV{
		{Key: "InitiatorName", Value: initiatorName},
		{Key: "TargetName", Value: targetIQN},
		{Key: "SessionType", Value: "Normal"},
	})
}

// expectLoginRefused reads the Login Response to a raw login, checks its
// status and that the target then closes the connection.
func expectLoginRefused(t *testing.T, rc *initiator.RawConn, itt uint32, class, detail uint8) {
	t.Helper()
	p := next(t, rc, pdu.OpLoginResp, 5*time.Second)
	var r pdu.LoginResp
	r.Decode(&p.Header)
	if r.StatusClass != class || r.StatusDetail != detail {
		t.Fatalf("login status %02x%02x, want %02x%02x", r.StatusClass, r.StatusDetail, class, detail)
	}
	if r.ITT != itt {
		t.Errorf("login response ITT %#x, want the request's %#x", r.ITT, itt)
	}
	expectClosed(t, rc)
}

// TestLoginRequestWithAHS: a Login Request carries no AHS (RFC 7143
// §11.2.1.5: TotalAHSLength is 0 in every PDU without one, and §11.2.2
// defines AHS types for SCSI Commands only). Whatever the AHS holds, the
// login is refused with 0200 and the connection closed, in the first
// request and in a later one.
func TestLoginRequestWithAHS(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	check := bystander(t, tt)
	ahsCases := map[string][]byte{
		"255 words of garbage": randomBytes(t, 255*4),
		"one zero word":        make([]byte, 4),
		"a well-formed extended CDB AHS": {0x00, 0x05, 0x01, 0x00,
			0x11, 0x22, 0x33, 0x44},
	}
	for name, ahs := range ahsCases {
		t.Run("first request/"+name, func(t *testing.T) {
			rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			m := pdu.LoginReq{Transit: true, CSG: 1, NSG: 3, ISID: pdu.ISID{0x80, 1, 2, 3, 4, 5}, ITT: 7}
			var h pdu.Header
			m.Encode(&h)
			if err := rc.SendPDU(&h, ahs, loginText(initiatorIQN)); err != nil {
				t.Fatal(err)
			}
			expectLoginRefused(t, rc, 7, 2, 0x00)
			check()
		})
	}
	t.Run("second request", func(t *testing.T) {
		rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		isid := pdu.ISID{0x80, 1, 2, 3, 4, 6}
		// The first request stays in the security stage (T=0).
		m := pdu.LoginReq{CSG: 0, NSG: 0, ISID: isid, ITT: 9}
		var h pdu.Header
		m.Encode(&h)
		text := append(loginText(initiatorIQN), pdu.AppendText(nil, []pdu.KV{{Key: "AuthMethod", Value: "None"}})...)
		if err := rc.SendPDU(&h, nil, text); err != nil {
			t.Fatal(err)
		}
		p := next(t, rc, pdu.OpLoginResp, 5*time.Second)
		var r pdu.LoginResp
		r.Decode(&p.Header)
		if r.StatusClass != 0 {
			t.Fatalf("first login step refused: %02x%02x", r.StatusClass, r.StatusDetail)
		}
		m = pdu.LoginReq{Transit: true, CSG: 0, NSG: 1, ISID: isid, ITT: 9}
		m.Encode(&h)
		if err := rc.SendPDU(&h, randomBytes(t, 64), nil); err != nil {
			t.Fatal(err)
		}
		expectLoginRefused(t, rc, 9, 2, 0x00)
		check()
	})
}

// TestLoginUnknownTSIH: a login with a non-zero TSIH asks to add a
// connection to that session (RFC 7143 §11.12, TSIH). When no session of
// this I_T nexus has that TSIH — none at all, or one of another initiator,
// ISID or target — the answer is 020A "session does not exist" (§11.13.5),
// the connection closes, and the session the TSIH names, if any, lives on.
func TestLoginUnknownTSIH(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	isid := pdu.ISID{0x80, 0x42, 0, 0, 0, 1}
	owner := dial(t, tt, initiator.Options{ISID: isid})
	tsih := owner.Negotiated().TSIH
	unused := tsih + 100
	discovery := ""
	cases := []struct {
		name      string
		initiator string
		target    *string
		isid      pdu.ISID
		tsih      uint16
		skipSec   bool
	}{
		{name: "no such session", tsih: unused, isid: isid},
		{name: "no session of this I_T nexus at all", tsih: unused, isid: pdu.ISID{0x80, 0x42, 0, 0, 0, 9}},
		{name: "no such session, operational stage first", tsih: unused, isid: isid, skipSec: true},
		{name: "no such session, discovery", tsih: unused, isid: isid, target: &discovery},
		{name: "another initiator's session", tsih: tsih, isid: isid, initiator: "iqn.2026-11.io.halun.test:other"},
		{name: "the same initiator's session of another ISID", tsih: tsih, isid: pdu.ISID{0x80, 0x42, 0, 0, 0, 2}},
		{name: "a session of another target", tsih: tsih, isid: isid, target: &discovery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := initiator.Options{InitiatorName: tc.initiator, TargetName: targetIQN, ISID: tc.isid, TSIH: tc.tsih,
				SkipSecurityStage: tc.skipSec}
			if o.InitiatorName == "" {
				o.InitiatorName = initiatorIQN
			}
			if tc.target != nil {
				o.TargetName = *tc.target
			}
			rc, err := initiator.DialRaw(ctxT(t), tt.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			_, err = rc.Login(ctxT(t), o)
			wantLoginStatus(t, err, 2, 0x0a)
			expectClosed(t, rc)
			if err := owner.Nop(ctxT(t)); err != nil {
				t.Fatalf("the session with TSIH %d ended: %v", tsih, err)
			}
			if err := owner.TestUnitReady(ctxT(t), 0); err != nil {
				t.Fatalf("the session with TSIH %d: %v", tsih, err)
			}
		})
	}
	for _, si := range tt.Server.Sessions() {
		if si.TSIH != tsih {
			t.Errorf("refused logins left session %+v", si)
		}
	}
}
