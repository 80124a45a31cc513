package iscsi

import (
	"testing"
	"time"

	"github.com/halun/halun/internal/iscsi/login"
)

func TestAccessPolicy(t *testing.T) {
	tchap := &login.CHAPCredentials{User: "t", Secret: "target-secret-1"}
	ichap := &login.CHAPCredentials{User: "a", Secret: "initiator-secret"}
	var open *Access
	if p := open.policy("iqn.x"); !p.Allowed || p.CHAP != nil {
		t.Errorf("nil access: %+v", p)
	}
	all := &Access{All: true, CHAP: tchap}
	if p := all.policy("iqn.x"); !p.Allowed || p.CHAP != tchap {
		t.Errorf("all with target CHAP: %+v", p)
	}
	list := &Access{CHAP: tchap, Initiators: map[string]InitiatorAccess{"iqn.a": {CHAP: ichap}, "iqn.b": {}}}
	for _, tc := range []struct {
		name    string
		allowed bool
		chap    *login.CHAPCredentials
	}{{"iqn.a", true, ichap}, {"iqn.b", true, tchap}, {"iqn.c", false, nil}} {
		if p := list.policy(tc.name); p.Allowed != tc.allowed || p.CHAP != tc.chap {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
	if !list.Allows("IQN.A") || list.Allows("iqn.c") || !open.Allows("iqn.c") {
		t.Error("Allows")
	}
}

// TestAuthFailurePacing: failures of one initiator name wait longer and
// longer, up to authDelayMax; a success or time forgets them; other names
// are not affected.
func TestAuthFailurePacing(t *testing.T) {
	var f authFailures
	now := time.Unix(1000, 0)
	var last time.Duration
	for i := 1; i <= 10; i++ {
		d, n := f.fail("iqn.a", now)
		if n != i || d < last || d > authDelayMax {
			t.Fatalf("failure %d: delay %v after %v (count %d)", i, d, last, n)
		}
		last = d
	}
	if last != authDelayMax {
		t.Errorf("delay does not reach %v: %v", authDelayMax, last)
	}
	if d, _ := f.fail("iqn.b", now); d != authDelayBase {
		t.Errorf("another initiator starts at %v", d)
	}
	f.succeed("iqn.a")
	if d, n := f.fail("iqn.a", now); d != authDelayBase || n != 1 {
		t.Errorf("after success: %v, %d", d, n)
	}
	if d, n := f.fail("iqn.a", now.Add(authFailMemory+time.Second)); d != authDelayBase || n != 1 {
		t.Errorf("after a quiet spell: %v, %d", d, n)
	}
	for i := 0; i < authFailTrack+10; i++ {
		f.fail(string(rune('a'+i%26))+time.Duration(i).String(), now)
	}
	if len(f.m) > authFailTrack {
		t.Errorf("tracks %d names", len(f.m))
	}
}
