package iscsi

import (
	"testing"
	"time"
)

// TestRFC7143_11_9_1_LogoutWaitSeconds: Parameter3 of a logout request is
// the wait in whole seconds, rounded up so the initiator never gets less
// time than the target gives, and within the 16-bit field.
func TestRFC7143_11_9_1_LogoutWaitSeconds(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want uint16
	}{
		{time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{5 * time.Second, 5},
		{time.Hour, 3600},
		{100 * time.Hour, 0xffff},
	} {
		if got := logoutWaitSeconds(c.wait); got != c.want {
			t.Errorf("logoutWaitSeconds(%v) = %d, want %d", c.wait, got, c.want)
		}
	}
}
