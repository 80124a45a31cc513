package iscsi

import "testing"

// RFC 7143 §11.13.5: the Login Response status class and detail name why
// a login was refused; the metrics count refusals by that reason.
func TestLoginFailureReason11_13_5(t *testing.T) {
	for _, tc := range []struct {
		class, detail uint8
		want          string
	}{
		{2, 1, FailAuthentication},
		{2, 2, FailAuthorization},
		{2, 3, FailNoSuchTarget},
		{2, 4, FailNoSuchTarget},
		{2, 0, FailInitiatorError},
		{2, 7, FailInitiatorError},
		{2, 0x0b, FailInitiatorError},
		{3, 0, FailTargetError},
		{3, 2, FailTargetError},
		{1, 1, FailOther},
	} {
		if got := failReason(tc.class, tc.detail); got != tc.want {
			t.Errorf("status %02x%02x: %q, want %q", tc.class, tc.detail, got, tc.want)
		}
	}
}

// Logins count by target and session type; discovery sessions under no
// target. Task management counts by function.
func TestEventCounts(t *testing.T) {
	s := &Server{}
	s.events.login("iqn.t:a", false)
	s.events.login("iqn.t:a", false)
	s.events.login("iqn.t:a", true)
	s.events.loginFailed(2, 1)
	s.events.taskManagement(5)
	s.events.taskManagement(5)
	got := s.Events()
	if n := got.Logins[LoginKey{Target: "iqn.t:a", Type: "normal"}]; n != 2 {
		t.Errorf("normal logins to iqn.t:a: %d, want 2", n)
	}
	if n := got.Logins[LoginKey{Type: "discovery"}]; n != 1 {
		t.Errorf("discovery logins: %d, want 1 (%v)", n, got.Logins)
	}
	if n := got.LoginFailures[FailAuthentication]; n != 1 {
		t.Errorf("authentication failures: %d, want 1", n)
	}
	if n := got.TaskManagement[5]; n != 2 || TMFNames[5] != "logical_unit_reset" {
		t.Errorf("LUN resets: %d (%q), want 2", n, TMFNames[5])
	}
}
