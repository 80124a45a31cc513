package login

import (
	"strconv"
	"strings"
)

// Reserved values of RFC 7143 §6.1 (with "None", which is an ordinary list
// value for the keys that allow it).
const (
	valReject        = "Reject"
	valIrrelevant    = "Irrelevant"
	valNotUnderstood = "NotUnderstood"
	valYes           = "Yes"
	valNo            = "No"
)

// Key names of RFC 7143 §13 (and §12 for AuthMethod).
const (
	keyHeaderDigest             = "HeaderDigest"
	keyDataDigest               = "DataDigest"
	keyMaxConnections           = "MaxConnections"
	keySendTargets              = "SendTargets"
	keyTargetName               = "TargetName"
	keyInitiatorName            = "InitiatorName"
	keyTargetAlias              = "TargetAlias"
	keyInitiatorAlias           = "InitiatorAlias"
	keyTargetAddress            = "TargetAddress"
	keyTargetPortalGroupTag     = "TargetPortalGroupTag"
	keyInitialR2T               = "InitialR2T"
	keyImmediateData            = "ImmediateData"
	keyMaxRecvDataSegmentLength = "MaxRecvDataSegmentLength"
	keyMaxBurstLength           = "MaxBurstLength"
	keyFirstBurstLength         = "FirstBurstLength"
	keyDefaultTime2Wait         = "DefaultTime2Wait"
	keyDefaultTime2Retain       = "DefaultTime2Retain"
	keyMaxOutstandingR2T        = "MaxOutstandingR2T"
	keyDataPDUInOrder           = "DataPDUInOrder"
	keyDataSequenceInOrder      = "DataSequenceInOrder"
	keyErrorRecoveryLevel       = "ErrorRecoveryLevel"
	keySessionType              = "SessionType"
	keyTaskReporting            = "TaskReporting"
	keyProtocolLevel            = "iSCSIProtocolLevel"
	keyIFMarker                 = "IFMarker"
	keyOFMarker                 = "OFMarker"
	keyIFMarkInt                = "IFMarkInt"
	keyOFMarkInt                = "OFMarkInt"
	keyAuthMethod               = "AuthMethod"
	keyRDMAExtensions           = "RDMAExtensions"
)

// keyKind is how a key is negotiated (RFC 7143 §6.2).
type keyKind uint8

const (
	kindInitiatorDecl keyKind = iota // InitiatorName, InitiatorAlias, TargetName, SessionType
	kindTargetOnly                   // only a target may send it
	kindSecurity                     // AuthMethod: security stage only
	kindFFPOnly                      // SendTargets
	kindAnd                          // Boolean, result function AND
	kindOr                           // Boolean, result function OR
	kindMin                          // numerical, result function Minimum
	kindMax                          // numerical, result function Maximum
	kindDeclNum                      // declarative number (MaxRecvDataSegmentLength)
	kindList                         // list of values, first acceptable wins
	kindMarker                       // IFMarker, OFMarker: obsolete, answered No
	kindMarkInt                      // IFMarkInt, OFMarkInt: obsolete, answered Reject
)

type keyDef struct {
	kind   keyKind
	lo, hi uint64 // numerical range
	// leadingOnly keys (Use: LO) are session-wide and negotiated only on a
	// session's first connection.
	leadingOnly bool
	// noDiscovery keys are "Irrelevant when: SessionType=Discovery".
	noDiscovery bool
}

const maxLen24 = 1<<24 - 1

var keyTable = map[string]keyDef{
	keyInitiatorName:            {kind: kindInitiatorDecl},
	keyInitiatorAlias:           {kind: kindInitiatorDecl},
	keyTargetName:               {kind: kindInitiatorDecl},
	keySessionType:              {kind: kindInitiatorDecl, leadingOnly: true},
	keyTargetAlias:              {kind: kindTargetOnly},
	keyTargetAddress:            {kind: kindTargetOnly},
	keyTargetPortalGroupTag:     {kind: kindTargetOnly},
	keyAuthMethod:               {kind: kindSecurity},
	keySendTargets:              {kind: kindFFPOnly},
	keyHeaderDigest:             {kind: kindList},
	keyDataDigest:               {kind: kindList},
	keyMaxConnections:           {kind: kindMin, lo: 1, hi: 65535, leadingOnly: true, noDiscovery: true},
	keyInitialR2T:               {kind: kindOr, leadingOnly: true, noDiscovery: true},
	keyImmediateData:            {kind: kindAnd, leadingOnly: true, noDiscovery: true},
	keyMaxRecvDataSegmentLength: {kind: kindDeclNum, lo: 512, hi: maxLen24},
	keyMaxBurstLength:           {kind: kindMin, lo: 512, hi: maxLen24, leadingOnly: true, noDiscovery: true},
	keyFirstBurstLength:         {kind: kindMin, lo: 512, hi: maxLen24, leadingOnly: true, noDiscovery: true},
	keyDefaultTime2Wait:         {kind: kindMax, lo: 0, hi: 3600, leadingOnly: true},
	keyDefaultTime2Retain:       {kind: kindMin, lo: 0, hi: 3600, leadingOnly: true},
	keyMaxOutstandingR2T:        {kind: kindMin, lo: 1, hi: 65535, leadingOnly: true, noDiscovery: true},
	keyDataPDUInOrder:           {kind: kindOr, leadingOnly: true, noDiscovery: true},
	keyDataSequenceInOrder:      {kind: kindOr, leadingOnly: true, noDiscovery: true},
	keyErrorRecoveryLevel:       {kind: kindMin, lo: 0, hi: 2, leadingOnly: true},
	keyTaskReporting:            {kind: kindList, leadingOnly: true, noDiscovery: true},
	keyProtocolLevel:            {kind: kindMin, lo: 0, hi: 31, leadingOnly: true, noDiscovery: true},
	keyIFMarker:                 {kind: kindMarker},
	keyOFMarker:                 {kind: kindMarker},
	keyIFMarkInt:                {kind: kindMarkInt},
	keyOFMarkInt:                {kind: kindMarkInt},
	// iSER (RFC 7145): over TCP the only acceptable value is No.
	keyRDMAExtensions: {kind: kindAnd, leadingOnly: true},
}

// maxSimpleValue is RFC 7143 §6.1's limit on simple values.
const maxSimpleValue = 255

// isExtensionKey reports X- (private) and X# (IANA-registered) extension keys
// (RFC 7143 §13.22, §6.1), none of which halun implements.
func isExtensionKey(k string) bool {
	return strings.HasPrefix(k, "X-") || strings.HasPrefix(k, "X#")
}

// isReservedValue reports the constants that may appear only as answers.
func isReservedValue(v string) bool {
	return v == valReject || v == valIrrelevant || v == valNotUnderstood
}

// parseNumber parses an RFC 7143 §5.1 numerical value: a decimal constant or
// a 0x/0X hex constant, less than 2^64.
func parseNumber(s string) (uint64, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		h := s[2:]
		if len(h) > 16 {
			return 0, false
		}
		for _, c := range []byte(h) {
			if !isHexDigit(c) {
				return 0, false
			}
		}
		v, err := strconv.ParseUint(h, 16, 64)
		return v, err == nil
	}
	if s == "" || len(s) > 20 {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parseBool parses a Boolean value; RFC 7143 spells them exactly Yes and No.
func parseBool(s string) (v, ok bool) {
	switch s {
	case valYes:
		return true, true
	case valNo:
		return false, true
	}
	return false, false
}

func fmtBool(b bool) string {
	if b {
		return valYes
	}
	return valNo
}

// pickFromList returns the first of the offered comma-separated values that
// acceptable contains; values it does not know are ignored (RFC 7143 §6.2.1).
func pickFromList(offer string, acceptable []string) (string, bool) {
	for _, v := range strings.Split(offer, ",") {
		for _, a := range acceptable {
			if v == a && v != "" {
				return v, true
			}
		}
	}
	return "", false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
