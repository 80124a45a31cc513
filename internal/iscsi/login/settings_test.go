package login

import (
	"strings"
	"testing"
)

func TestSettingsValidate(t *testing.T) {
	if err := DefaultSettings().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cases := []struct {
		mod  func(*Settings)
		want string
	}{
		{func(s *Settings) { s.MaxRecvDataSegmentLength = 511 }, "MaxRecvDataSegmentLength"},
		{func(s *Settings) { s.MaxBurstLength = 1 << 24 }, "MaxBurstLength"},
		{func(s *Settings) { s.FirstBurstLength = 2 << 20 }, "FirstBurstLength"},
		{func(s *Settings) { s.MaxOutstandingR2T = 0 }, "MaxOutstandingR2T"},
		{func(s *Settings) { s.MaxConnections = 0 }, "MaxConnections"},
		{func(s *Settings) { s.DefaultTime2Wait = 3601 }, "DefaultTime2Wait"},
		{func(s *Settings) { s.DefaultTime2Retain = -1 }, "DefaultTime2Retain"},
		{func(s *Settings) { s.ErrorRecoveryLevel = 1 }, "ErrorRecoveryLevel"},
		{func(s *Settings) { s.DataPDUInOrder = false }, "out-of-order"},
		{func(s *Settings) { s.HeaderDigest = nil }, "HeaderDigest lists no digest"},
		{func(s *Settings) { s.DataDigest = []string{"MD5"} }, "DataDigest value"},
	}
	for _, tc := range cases {
		s := DefaultSettings()
		tc.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error mentioning %q, got %v", tc.want, err)
		}
	}
	// A target with invalid settings refuses logins with a target error.
	c := newConv(t)
	ti := c.env.targets[iqnTarget]
	ti.Params.HeaderDigest = nil
	c.env.targets[iqnTarget] = ti
	wantStatus(t, c.step(StageOperational, StageFullFeature, true, first()...), StatusTargetError)
}

func TestNegotiatedLimits(t *testing.T) {
	n := DefaultNegotiated()
	n.TargetMaxRecvDataSegmentLength, n.FirstBurstLength = 8192, 65536
	if n.ImmediateLimit() != 8192 || n.UnsolicitedLimit() != 65536 {
		t.Fatalf("immediate %d unsolicited %d", n.ImmediateLimit(), n.UnsolicitedLimit())
	}
	n.ImmediateData = false
	if n.ImmediateLimit() != 0 || n.UnsolicitedLimit() != 0 {
		t.Fatalf("InitialR2T=Yes ImmediateData=No: immediate %d unsolicited %d", n.ImmediateLimit(), n.UnsolicitedLimit())
	}
}
