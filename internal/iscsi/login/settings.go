package login

import (
	"errors"
	"fmt"
)

// Digest names used by HeaderDigest and DataDigest.
const (
	DigestNone   = "None"
	DigestCRC32C = "CRC32C"
)

// Settings are the target's own values of the operational keys: what it
// answers with or declares. They come from configuration.
type Settings struct {
	InitialR2T, ImmediateData bool

	MaxRecvDataSegmentLength int // declared: the largest data segment the target accepts
	MaxBurstLength           int
	FirstBurstLength         int
	MaxOutstandingR2T        int
	MaxConnections           int
	DefaultTime2Wait         int
	DefaultTime2Retain       int
	ErrorRecoveryLevel       int

	DataPDUInOrder, DataSequenceInOrder bool

	// HeaderDigest and DataDigest list the acceptable digests ("None",
	// "CRC32C") in the target's preference order. When answering, the first
	// value of the initiator's list that appears here wins (RFC 7143 §6.2.1);
	// the target offers its list itself only when it does not accept "None".
	HeaderDigest, DataDigest []string
}

// DefaultSettings returns the values of a fast single-connection ERL 0
// target: 256 KiB data segments, 1 MiB bursts with 256 KiB of unsolicited
// immediate data and no initial R2T, one R2T outstanding per task (what Linux
// asks for anyway), in-order data, and digests if the initiator wants them.
// DefaultTime2Retain is 0 because an ERL 0 target keeps no tasks for
// connection recovery.
func DefaultSettings() Settings {
	return Settings{
		InitialR2T:               false,
		ImmediateData:            true,
		MaxRecvDataSegmentLength: 262144,
		MaxBurstLength:           1 << 20,
		FirstBurstLength:         262144,
		MaxOutstandingR2T:        1,
		MaxConnections:           1,
		DefaultTime2Wait:         2,
		DefaultTime2Retain:       0,
		ErrorRecoveryLevel:       0,
		DataPDUInOrder:           true,
		DataSequenceInOrder:      true,
		HeaderDigest:             []string{DigestNone, DigestCRC32C},
		DataDigest:               []string{DigestNone, DigestCRC32C},
	}
}

// Validate checks every value against its RFC 7143 §13 range and against what
// this implementation supports (ErrorRecoveryLevel 0 only, in-order data).
func (s Settings) Validate() error {
	var errs []error
	rng := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s %d is outside %d..%d", name, v, lo, hi))
		}
	}
	rng("MaxRecvDataSegmentLength", s.MaxRecvDataSegmentLength, 512, 1<<24-1)
	rng("MaxBurstLength", s.MaxBurstLength, 512, 1<<24-1)
	rng("FirstBurstLength", s.FirstBurstLength, 512, 1<<24-1)
	rng("MaxOutstandingR2T", s.MaxOutstandingR2T, 1, 65535)
	rng("MaxConnections", s.MaxConnections, 1, 65535)
	rng("DefaultTime2Wait", s.DefaultTime2Wait, 0, 3600)
	rng("DefaultTime2Retain", s.DefaultTime2Retain, 0, 3600)
	rng("ErrorRecoveryLevel", s.ErrorRecoveryLevel, 0, 0)
	if s.FirstBurstLength > s.MaxBurstLength {
		errs = append(errs, fmt.Errorf("FirstBurstLength %d exceeds MaxBurstLength %d", s.FirstBurstLength, s.MaxBurstLength))
	}
	if !s.DataPDUInOrder || !s.DataSequenceInOrder {
		errs = append(errs, errors.New("DataPDUInOrder and DataSequenceInOrder must be Yes: out-of-order data is not supported"))
	}
	for _, d := range []struct {
		name string
		list []string
	}{{"HeaderDigest", s.HeaderDigest}, {"DataDigest", s.DataDigest}} {
		if len(d.list) == 0 {
			errs = append(errs, fmt.Errorf("%s lists no digest", d.name))
		}
		for _, v := range d.list {
			if v != DigestNone && v != DigestCRC32C {
				errs = append(errs, fmt.Errorf("%s value %q is not None or CRC32C", d.name, v))
			}
		}
	}
	return errors.Join(errs...)
}

// Negotiated holds the outcome of a login: every operational key's value in
// force for the connection (connection-scoped keys) or session (session-wide
// keys). Keys that were not negotiated keep their RFC 7143 defaults.
type Negotiated struct {
	HeaderDigest, DataDigest bool
	MaxConnections           int
	InitialR2T               bool
	ImmediateData            bool
	// MaxRecvDataSegmentLength is the initiator's declared value: the most
	// data the target may send in one PDU.
	MaxRecvDataSegmentLength int
	// TargetMaxRecvDataSegmentLength is the target's declared value: the most
	// data the target accepts in one PDU.
	TargetMaxRecvDataSegmentLength int
	MaxBurstLength                 int
	FirstBurstLength               int
	DefaultTime2Wait               int
	DefaultTime2Retain             int
	MaxOutstandingR2T              int
	ErrorRecoveryLevel             int
	DataPDUInOrder                 bool
	DataSequenceInOrder            bool
	IFMarker, OFMarker             bool // obsoleted by RFC 7143; always false
	ProtocolLevel                  int  // iSCSIProtocolLevel (RFC 7143 §13.24)
}

// DefaultNegotiated returns the RFC 7143 §13 defaults: the values in force
// for keys nobody negotiates.
func DefaultNegotiated() Negotiated {
	return Negotiated{
		MaxConnections:                 1,
		InitialR2T:                     true,
		ImmediateData:                  true,
		MaxRecvDataSegmentLength:       8192,
		TargetMaxRecvDataSegmentLength: 8192,
		MaxBurstLength:                 262144,
		FirstBurstLength:               65536,
		DefaultTime2Wait:               2,
		DefaultTime2Retain:             20,
		MaxOutstandingR2T:              1,
		ErrorRecoveryLevel:             0,
		DataPDUInOrder:                 true,
		DataSequenceInOrder:            true,
		ProtocolLevel:                  1,
	}
}

// MaxSendSegment is the largest data segment the target may send (the
// initiator's MaxRecvDataSegmentLength).
func (n Negotiated) MaxSendSegment() int { return n.MaxRecvDataSegmentLength }

// MaxRecvSegment is the largest data segment the target accepts (its own
// declared MaxRecvDataSegmentLength).
func (n Negotiated) MaxRecvSegment() int { return n.TargetMaxRecvDataSegmentLength }

// UnsolicitedLimit is how many bytes of a write the initiator may send
// without an R2T (immediate and unsolicited Data-Out together): 0 when
// InitialR2T=Yes and ImmediateData=No, FirstBurstLength otherwise
// (RFC 7143 §13.14).
func (n Negotiated) UnsolicitedLimit() int {
	if n.InitialR2T && !n.ImmediateData {
		return 0
	}
	return n.FirstBurstLength
}

// ImmediateLimit is how many bytes of write data may ride in the SCSI
// Command PDU itself: 0 without ImmediateData, else the smaller of
// FirstBurstLength and the target's MaxRecvDataSegmentLength.
func (n Negotiated) ImmediateLimit() int {
	if !n.ImmediateData {
		return 0
	}
	return min(n.FirstBurstLength, n.TargetMaxRecvDataSegmentLength)
}
