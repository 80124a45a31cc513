package initiator

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// keyKind is a key's negotiation function (RFC 7143 §6.2, §13).
type keyKind uint8

const (
	kindDecl keyKind = iota // declarative: each side states its own value
	kindList                // list: the responder picks one offered value
	kindAnd                 // Boolean AND
	kindOr                  // Boolean OR
	kindMin                 // numerical minimum
	kindMax                 // numerical maximum
)

type keySpec struct {
	kind   keyKind
	def    string
	lo, hi int // numerical range
}

var keySpecs = map[string]keySpec{
	"HeaderDigest":             {kind: kindList, def: "None"},
	"DataDigest":               {kind: kindList, def: "None"},
	"MaxConnections":           {kind: kindMin, def: "1", lo: 1, hi: 65535},
	"InitialR2T":               {kind: kindOr, def: "Yes"},
	"ImmediateData":            {kind: kindAnd, def: "Yes"},
	"MaxRecvDataSegmentLength": {kind: kindDecl, def: "8192", lo: 512, hi: pdu.MaxDataSegment},
	"MaxBurstLength":           {kind: kindMin, def: "262144", lo: 512, hi: pdu.MaxDataSegment},
	"FirstBurstLength":         {kind: kindMin, def: "65536", lo: 512, hi: pdu.MaxDataSegment},
	"DefaultTime2Wait":         {kind: kindMax, def: "2", lo: 0, hi: 3600},
	"DefaultTime2Retain":       {kind: kindMin, def: "20", lo: 0, hi: 3600},
	"MaxOutstandingR2T":        {kind: kindMin, def: "1", lo: 1, hi: 65535},
	"DataPDUInOrder":           {kind: kindOr, def: "Yes"},
	"DataSequenceInOrder":      {kind: kindOr, def: "Yes"},
	"ErrorRecoveryLevel":       {kind: kindMin, def: "0", lo: 0, hi: 2},
	// RFC 3720 keys an RFC 7143 initiator still answers.
	"IFMarker": {kind: kindAnd, def: "No"},
	"OFMarker": {kind: kindAnd, def: "No"},
	// Declarations from the target.
	"TargetAlias":          {kind: kindDecl},
	"TargetPortalGroupTag": {kind: kindDecl},
	"TargetAddress":        {kind: kindDecl},
	"TaskReporting":        {kind: kindDecl},
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func digestValue(b bool) string {
	if b {
		return "CRC32C"
	}
	return "None"
}

// preferred returns the initiator's value for every key it can negotiate.
func preferred(o *Options) map[string]string {
	return map[string]string{
		"HeaderDigest":             digestValue(o.HeaderDigest),
		"DataDigest":               digestValue(o.DataDigest),
		"MaxConnections":           "1",
		"InitialR2T":               yesNo(o.InitialR2T),
		"ImmediateData":            yesNo(o.ImmediateData),
		"MaxRecvDataSegmentLength": strconv.Itoa(orDefault(o.MaxRecvDataSegmentLength, DefaultMaxRecvDataSegmentLength)),
		"MaxBurstLength":           strconv.Itoa(orDefault(o.MaxBurstLength, DefaultMaxBurstLength)),
		"FirstBurstLength":         strconv.Itoa(orDefault(o.FirstBurstLength, DefaultFirstBurstLength)),
		"DefaultTime2Wait":         "0",
		"DefaultTime2Retain":       "0",
		"MaxOutstandingR2T":        strconv.Itoa(orDefault(o.MaxOutstandingR2T, DefaultMaxOutstandingR2T)),
		"DataPDUInOrder":           "Yes",
		"DataSequenceInOrder":      "Yes",
		"ErrorRecoveryLevel":       "0",
		"IFMarker":                 "No",
		"OFMarker":                 "No",
	}
}

var normalKeyOrder = []string{"HeaderDigest", "DataDigest", "MaxConnections", "InitialR2T",
	"ImmediateData", "MaxRecvDataSegmentLength", "MaxBurstLength", "FirstBurstLength",
	"DefaultTime2Wait", "DefaultTime2Retain", "MaxOutstandingR2T", "DataPDUInOrder",
	"DataSequenceInOrder", "ErrorRecoveryLevel"}

var discoveryKeyOrder = []string{"HeaderDigest", "DataDigest", "MaxRecvDataSegmentLength",
	"DefaultTime2Wait", "DefaultTime2Retain"}

// operationalKeys returns the operational-stage offer: the standard keys
// (those of a discovery session when discovery is set) except any named in
// o.ExtraKeys, then o.ExtraKeys verbatim.
func operationalKeys(o *Options, discovery bool) []pdu.KV {
	pref := preferred(o)
	order := normalKeyOrder
	if discovery {
		order = discoveryKeyOrder
	}
	extra := map[string]bool{}
	for _, kv := range o.ExtraKeys {
		extra[kv.Key] = true
	}
	var out []pdu.KV
	for _, k := range order {
		if !extra[k] {
			out = append(out, pdu.KV{Key: k, Value: pref[k]})
		}
	}
	return append(out, o.ExtraKeys...)
}

// negotiator follows one login's operational key negotiation: what the
// initiator offered, what the target answered or offered, and the outcome.
type negotiator struct {
	pref     map[string]string
	offered  map[string]string // our offers and our answers to target offers
	result   map[string]string // agreed values; target declarations
	received []pdu.KV
}

func newNegotiator(o *Options) *negotiator {
	return &negotiator{pref: preferred(o), offered: map[string]string{}, result: map[string]string{}}
}

// sent records keys the initiator is sending.
func (n *negotiator) sent(kvs []pdu.KV) {
	for _, kv := range kvs {
		n.offered[kv.Key] = kv.Value
	}
}

func isSpecial(v string) bool {
	return v == "NotUnderstood" || v == "Irrelevant" || v == "Reject"
}

// isSecurityKey reports keys handled by the security stage.
func isSecurityKey(k string) bool {
	return k == "AuthMethod" || strings.HasPrefix(k, "CHAP_") || k == "TargetName" ||
		k == "InitiatorName" || k == "SessionType" || k == "InitiatorAlias"
}

// receive processes the target's keys of one login response and returns the
// answers the initiator owes for keys the target offered.
func (n *negotiator) receive(kvs []pdu.KV) ([]pdu.KV, error) {
	var answers []pdu.KV
	for _, kv := range kvs {
		n.received = append(n.received, kv)
		spec, known := keySpecs[kv.Key]
		switch {
		case isSecurityKey(kv.Key):
			continue
		case known && spec.kind == kindDecl:
			if kv.Key == "MaxRecvDataSegmentLength" {
				if _, err := parseNum(kv.Value, spec); err != nil {
					return nil, fmt.Errorf("target MaxRecvDataSegmentLength: %w", err)
				}
			}
			n.result[kv.Key] = kv.Value
		case n.offered[kv.Key] != "":
			if _, answered := n.result[kv.Key]; answered {
				// A target answering again is harmless if consistent.
				if n.result[kv.Key] != kv.Value {
					return nil, fmt.Errorf("target changed its answer for %s from %q to %q", kv.Key, n.result[kv.Key], kv.Value)
				}
				continue
			}
			if isSpecial(kv.Value) {
				n.result[kv.Key] = kv.Value
				continue
			}
			if known {
				if err := checkAnswer(kv.Key, spec, n.offered[kv.Key], kv.Value); err != nil {
					return nil, err
				}
			}
			n.result[kv.Key] = kv.Value
		default:
			// The target offers a key: answer it.
			ans := "NotUnderstood"
			if known {
				ours := n.pref[kv.Key]
				if ours == "" {
					ours = spec.def
				}
				a, err := combine(spec, ours, kv.Value)
				if err != nil {
					a = "Reject"
				}
				ans = a
			}
			n.offered[kv.Key] = ans
			n.result[kv.Key] = ans
			answers = append(answers, pdu.KV{Key: kv.Key, Value: ans})
		}
	}
	return answers, nil
}

func parseNum(v string, spec keySpec) (int, error) {
	x, err := strconv.Atoi(v)
	if err != nil || x < spec.lo || x > spec.hi {
		return 0, fmt.Errorf("value %q not a number in [%d, %d]", v, spec.lo, spec.hi)
	}
	return x, nil
}

func parseBool(v string) (bool, error) {
	switch v {
	case "Yes":
		return true, nil
	case "No":
		return false, nil
	}
	return false, fmt.Errorf("value %q is not Yes or No", v)
}

// checkAnswer validates the target's answer to an initiator offer.
func checkAnswer(key string, spec keySpec, ours, theirs string) error {
	switch spec.kind {
	case kindList:
		for _, v := range strings.Split(ours, ",") {
			if v == theirs {
				return nil
			}
		}
		if strings.HasSuffix(key, "Digest") && ours == "CRC32C" {
			return fmt.Errorf("target refused %s=CRC32C (answered %s)", key, theirs)
		}
		return fmt.Errorf("target answered %s=%s, not one of the offered %q", key, theirs, ours)
	case kindAnd, kindOr:
		t, err := parseBool(theirs)
		if err != nil {
			return fmt.Errorf("target answered %s: %w", key, err)
		}
		o, err := parseBool(ours)
		if err != nil {
			return nil // ExtraKeys may offer anything
		}
		if spec.kind == kindAnd && !o && t || spec.kind == kindOr && o && !t {
			return fmt.Errorf("target answered %s=%s to an offer of %s", key, theirs, ours)
		}
	case kindMin, kindMax:
		t, err := parseNum(theirs, spec)
		if err != nil {
			return fmt.Errorf("target answered %s: %w", key, err)
		}
		o, err := strconv.Atoi(ours)
		if err != nil {
			return nil
		}
		if spec.kind == kindMin && t > o || spec.kind == kindMax && t < o {
			return fmt.Errorf("target answered %s=%d to an offer of %d", key, t, o)
		}
	}
	return nil
}

// combine computes the outcome of a negotiation from both values.
func combine(spec keySpec, a, b string) (string, error) {
	switch spec.kind {
	case kindList:
		for _, x := range strings.Split(b, ",") {
			for _, y := range strings.Split(a, ",") {
				if x == y {
					return x, nil
				}
			}
		}
		return "", fmt.Errorf("no common value in %q and %q", a, b)
	case kindAnd, kindOr:
		x, err := parseBool(a)
		if err != nil {
			return "", err
		}
		y, err := parseBool(b)
		if err != nil {
			return "", err
		}
		if spec.kind == kindAnd {
			return yesNo(x && y), nil
		}
		return yesNo(x || y), nil
	case kindMin, kindMax:
		x, err := parseNum(a, spec)
		if err != nil {
			return "", err
		}
		y, err := parseNum(b, spec)
		if err != nil {
			return "", err
		}
		if spec.kind == kindMin && y < x || spec.kind == kindMax && y > x {
			x = y
		}
		return strconv.Itoa(x), nil
	}
	return b, nil
}

// value returns the negotiated value of key: the agreed one, else the outcome
// of the initiator's preference against the RFC default (the target keeps
// its default for keys it did not answer).
func (n *negotiator) value(key string) string {
	spec := keySpecs[key]
	if v, ok := n.result[key]; ok && !isSpecial(v) {
		return v
	}
	ours, ok := n.offered[key]
	if !ok || isSpecial(ours) {
		return spec.def
	}
	if v, err := combine(spec, ours, spec.def); err == nil {
		return v
	}
	return spec.def
}

func (n *negotiator) num(key string) int {
	v, err := parseNum(n.value(key), keySpecs[key])
	if err != nil {
		v, _ = strconv.Atoi(keySpecs[key].def)
	}
	return v
}

func (n *negotiator) boolean(key string) bool { b, _ := parseBool(n.value(key)); return b }

// params derives the session parameters and checks the outcome is one the
// initiator can run with.
func (n *negotiator) params(o *Options) (Params, error) {
	var p Params
	p.HeaderDigest = n.value("HeaderDigest") == "CRC32C"
	p.DataDigest = n.value("DataDigest") == "CRC32C"
	if o.HeaderDigest && !p.HeaderDigest {
		return p, fmt.Errorf("target refused HeaderDigest=CRC32C (answered %q)", n.result["HeaderDigest"])
	}
	if o.DataDigest && !p.DataDigest {
		return p, fmt.Errorf("target refused DataDigest=CRC32C (answered %q)", n.result["DataDigest"])
	}
	p.InitialR2T = n.boolean("InitialR2T")
	p.ImmediateData = n.boolean("ImmediateData")
	p.MaxRecvDataSegmentLength = orDefault(o.MaxRecvDataSegmentLength, DefaultMaxRecvDataSegmentLength)
	p.TargetMaxRecvDataSegmentLength = DefaultMaxRecvDataSegmentLength
	if v, ok := n.result["MaxRecvDataSegmentLength"]; ok {
		p.TargetMaxRecvDataSegmentLength, _ = strconv.Atoi(v)
	}
	p.MaxBurstLength = n.num("MaxBurstLength")
	p.FirstBurstLength = n.num("FirstBurstLength")
	if p.FirstBurstLength > p.MaxBurstLength {
		p.FirstBurstLength = p.MaxBurstLength
	}
	p.MaxOutstandingR2T = n.num("MaxOutstandingR2T")
	p.MaxConnections = n.num("MaxConnections")
	p.ErrorRecoveryLevel = n.num("ErrorRecoveryLevel")
	if p.ErrorRecoveryLevel != 0 {
		return p, fmt.Errorf("negotiated ErrorRecoveryLevel=%d; this initiator runs only at 0", p.ErrorRecoveryLevel)
	}
	p.DataPDUInOrder = n.boolean("DataPDUInOrder")
	p.DataSequenceInOrder = n.boolean("DataSequenceInOrder")
	p.DefaultTime2Wait = n.num("DefaultTime2Wait")
	p.DefaultTime2Retain = n.num("DefaultTime2Retain")
	p.TargetAlias = n.result["TargetAlias"]
	if v, err := strconv.ParseUint(n.result["TargetPortalGroupTag"], 10, 16); err == nil {
		p.TargetPortalGroupTag = uint16(v)
	}
	p.Keys = n.received
	return p, nil
}
