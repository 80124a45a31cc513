package config

// Params are a target's iSCSI operational parameters (RFC 7143 §13) as the
// config sets them. A nil field is unset: login then uses the value from
// DefaultParams, and a caller can tell "left to the default" from "set to
// the default value". Use Effective for the values to negotiate with.
type Params struct {
	InitialR2T               *bool
	ImmediateData            *bool
	MaxRecvDataSegmentLength *uint32 // 512..16777215
	MaxBurstLength           *uint32 // 512..16777215
	FirstBurstLength         *uint32 // 512..16777215, <= MaxBurstLength
	MaxOutstandingR2T        *uint32 // 1..65535
	// HeaderDigest and DataDigest list the digests the target accepts,
	// "CRC32C" and/or "None", in its order of preference.
	HeaderDigest []string
	DataDigest   []string
}

// ParamValues are operational parameters with every value present.
type ParamValues struct {
	InitialR2T               bool
	ImmediateData            bool
	MaxRecvDataSegmentLength uint32
	MaxBurstLength           uint32
	FirstBurstLength         uint32
	MaxOutstandingR2T        uint32
	HeaderDigest             []string
	DataDigest               []string
}

// DefaultParams are the values of unset params: what halun offers unless
// told otherwise, chosen for throughput (RFC 7143's own defaults are
// InitialR2T=Yes, MaxRecvDataSegmentLength=8192, MaxBurstLength=262144).
// The digests accept both choices, so the initiator decides. They equal
// login.DefaultSettings (checked by a test in cmd/halun).
var DefaultParams = ParamValues{
	InitialR2T:               false,
	ImmediateData:            true,
	MaxRecvDataSegmentLength: 262144,
	MaxBurstLength:           1048576,
	FirstBurstLength:         262144,
	MaxOutstandingR2T:        1,
	HeaderDigest:             []string{DigestNone, DigestCRC32C},
	DataDigest:               []string{DigestNone, DigestCRC32C},
}

// Digest names as iSCSI text keys spell them.
const (
	DigestNone   = "None"
	DigestCRC32C = "CRC32C"
)

// RFC 7143 §13 ranges.
const (
	minDataLength     = 512
	maxDataLength     = 1<<24 - 1
	maxOutstandingR2T = 65535
)

// Effective returns p with unset values taken from DefaultParams. The
// slices are fresh copies.
func (p Params) Effective() ParamValues {
	v := DefaultParams
	if p.InitialR2T != nil {
		v.InitialR2T = *p.InitialR2T
	}
	if p.ImmediateData != nil {
		v.ImmediateData = *p.ImmediateData
	}
	if p.MaxRecvDataSegmentLength != nil {
		v.MaxRecvDataSegmentLength = *p.MaxRecvDataSegmentLength
	}
	if p.MaxBurstLength != nil {
		v.MaxBurstLength = *p.MaxBurstLength
	}
	if p.FirstBurstLength != nil {
		v.FirstBurstLength = *p.FirstBurstLength
	}
	if p.MaxOutstandingR2T != nil {
		v.MaxOutstandingR2T = *p.MaxOutstandingR2T
	}
	v.HeaderDigest = append([]string(nil), DefaultParams.HeaderDigest...)
	if p.HeaderDigest != nil {
		v.HeaderDigest = append([]string(nil), p.HeaderDigest...)
	}
	v.DataDigest = append([]string(nil), DefaultParams.DataDigest...)
	if p.DataDigest != nil {
		v.DataDigest = append([]string(nil), p.DataDigest...)
	}
	return v
}
