package login

import (
	"fmt"
	"strconv"
	"strings"
)

// engine negotiates the operational keys of one login (RFC 7143 §6.2, §13).
// It answers initiator offers, tracks which keys were already negotiated,
// and proposes keys the target needs but the initiator did not offer.
type engine struct {
	ours      Settings
	neg       Negotiated
	discovery bool
	leading   bool

	seen map[string]bool // keys the initiator has sent in this login
	// offered holds keys the target proposed and awaits answers to.
	offered map[string]string
	// declared is set once the target has declared MaxRecvDataSegmentLength.
	declared bool
}

func newEngine(ours Settings, discovery, leading bool) *engine {
	return &engine{
		ours: ours, neg: DefaultNegotiated(), discovery: discovery, leading: leading,
		seen: map[string]bool{}, offered: map[string]string{},
	}
}

// failure is a negotiation outcome that ends the login.
type failure struct {
	status Status
	reason string
}

func fail(s Status, format string, args ...any) *failure {
	return &failure{status: s, reason: fmt.Sprintf(format, args...)}
}

// negotiate answers a batch of operational keys, replying in the order they
// came. MaxBurstLength is settled before FirstBurstLength so that the answer
// to the latter never exceeds the former (RFC 7143 §13.14).
func (e *engine) negotiate(kvs []kv) ([]kv, *failure) {
	replies := make([]*kv, len(kvs))
	order := make([]int, 0, len(kvs))
	for i, p := range kvs {
		if p.Key == keyMaxBurstLength {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	for _, i := range order {
		r, f := e.one(kvs[i])
		if f != nil {
			return nil, f
		}
		replies[i] = r
	}
	var out []kv
	for _, r := range replies {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// one answers a single key; a nil reply means none is due.
func (e *engine) one(p kv) (*kv, *failure) {
	if e.seen[p.Key] {
		// RFC 7143 §6.3: renegotiating or redeclaring a key is a protocol
		// error the target answers with Login reject (initiator error).
		return nil, fail(StatusInitiatorError, "key %s sent twice", p.Key)
	}
	e.seen[p.Key] = true
	if want, ok := e.offered[p.Key]; ok {
		delete(e.offered, p.Key)
		return nil, e.answerToOffer(p, want)
	}
	def, known := keyTable[p.Key]
	if !known || isExtensionKey(p.Key) {
		return reply(p.Key, valNotUnderstood), nil
	}
	if isReservedValue(p.Value) {
		// RFC 7143 §6.1: these constants are never proposed values.
		return nil, fail(StatusInitiatorError, "key %s proposed with reserved value %s", p.Key, p.Value)
	}
	switch def.kind {
	case kindTargetOnly:
		return nil, fail(StatusInitiatorError, "initiator sent target-only key %s", p.Key)
	case kindSecurity:
		return nil, fail(StatusInitiatorError, "security key %s outside the security stage", p.Key)
	case kindFFPOnly:
		return reply(p.Key, valReject), nil
	case kindInitiatorDecl:
		return nil, nil // handled by the Negotiator
	case kindMarkInt:
		// RFC 7143 §13 "Obsoleted Keys": SHOULD answer Reject, MUST NOT answer NotUnderstood.
		return reply(p.Key, valReject), nil
	}
	if len(p.Value) > maxSimpleValue && def.kind != kindDeclNum {
		return reply(p.Key, valReject), nil
	}
	if def.noDiscovery && e.discovery || def.leadingOnly && !e.leading {
		return reply(p.Key, valIrrelevant), nil
	}
	switch def.kind {
	case kindMarker:
		if _, ok := parseBool(p.Value); !ok {
			return reply(p.Key, valReject), nil
		}
		// The same section allows No instead of Reject; No is what RFC 3720
		// initiators expect from the AND function with a target lacking markers.
		return reply(p.Key, valNo), nil
	case kindAnd, kindOr:
		theirs, ok := parseBool(p.Value)
		if !ok {
			return reply(p.Key, valReject), nil
		}
		res := e.ourBool(p.Key) && theirs
		if def.kind == kindOr {
			res = e.ourBool(p.Key) || theirs
		}
		e.setBool(p.Key, res)
		return reply(p.Key, fmtBool(res)), nil
	case kindMin, kindMax:
		theirs, ok := parseNumber(p.Value)
		if !ok || theirs < def.lo || theirs > def.hi {
			return reply(p.Key, valReject), nil
		}
		ours := uint64(e.ourNum(p.Key))
		res := min(ours, theirs)
		if def.kind == kindMax {
			res = max(ours, theirs)
		}
		if p.Key == keyFirstBurstLength {
			res = min(res, uint64(e.neg.MaxBurstLength))
		}
		e.setNum(p.Key, int(res))
		return reply(p.Key, strconv.FormatUint(res, 10)), nil
	case kindDeclNum:
		theirs, ok := parseNumber(p.Value)
		if !ok || theirs < def.lo || theirs > def.hi {
			// Answering Reject would put a second MaxRecvDataSegmentLength
			// beside the target's own declaration; refuse instead.
			return nil, fail(StatusInitiatorError, "invalid %s=%.32q", p.Key, p.Value)
		}
		e.neg.MaxRecvDataSegmentLength = int(theirs)
		return nil, nil
	case kindList:
		acceptable := e.ourList(p.Key)
		v, ok := pickFromList(p.Value, acceptable)
		if !ok {
			if !contains(acceptable, e.defaultListValue(p.Key)) {
				return nil, fail(StatusInitiatorError, "no acceptable %s in %q", p.Key, p.Value)
			}
			return reply(p.Key, valReject), nil
		}
		e.setList(p.Key, v)
		return reply(p.Key, v), nil
	}
	return reply(p.Key, valNotUnderstood), nil
}

// answerToOffer checks the initiator's answer to a key the target proposed.
func (e *engine) answerToOffer(p kv, offer string) *failure {
	def := keyTable[p.Key]
	switch def.kind {
	case kindAnd:
		theirs, ok := parseBool(p.Value)
		if !ok {
			return fail(StatusInitiatorError, "answer %s=%q to the target's offer %s", p.Key, p.Value, offer)
		}
		ours, _ := parseBool(offer)
		e.setBool(p.Key, ours && theirs)
	case kindMin:
		theirs, ok := parseNumber(p.Value)
		ours, _ := parseNumber(offer)
		if !ok || theirs < def.lo || theirs > ours {
			return fail(StatusInitiatorError, "answer %s=%q to the target's offer %s", p.Key, p.Value, offer)
		}
		e.setNum(p.Key, int(theirs))
	case kindList:
		if !contains(strings.Split(offer, ","), p.Value) {
			return fail(StatusInitiatorError, "answer %s=%q to the target's offer %s", p.Key, p.Value, offer)
		}
		e.setList(p.Key, p.Value)
	}
	return nil
}

// offers returns the keys the initiator has not negotiated whose RFC default
// the target cannot accept, and records them as awaiting an answer
// (RFC 7143 §6.2: either side may propose a key).
func (e *engine) offers() []kv {
	var out []kv
	add := func(k, v string) {
		if e.seen[k] {
			return
		}
		if _, ok := e.offered[k]; ok {
			return
		}
		e.offered[k] = v
		out = append(out, kv{Key: k, Value: v})
	}
	for _, k := range []string{keyHeaderDigest, keyDataDigest} {
		if l := e.ourList(k); !contains(l, DigestNone) {
			add(k, strings.Join(l, ","))
		}
	}
	if e.discovery || !e.leading {
		return out
	}
	d := DefaultNegotiated()
	if !e.ours.ImmediateData && e.neg.ImmediateData {
		add(keyImmediateData, valNo)
	}
	if e.ours.MaxBurstLength < d.MaxBurstLength {
		add(keyMaxBurstLength, strconv.Itoa(e.ours.MaxBurstLength))
	}
	if e.ours.FirstBurstLength < d.FirstBurstLength && e.neg.UnsolicitedLimit() > 0 {
		add(keyFirstBurstLength, strconv.Itoa(e.ours.FirstBurstLength))
	}
	return out
}

// declaration returns the target's MaxRecvDataSegmentLength declaration the
// first time it is called (RFC 7143 §13.12: each side declares its own).
func (e *engine) declaration() []kv {
	if e.declared {
		return nil
	}
	e.declared = true
	e.neg.TargetMaxRecvDataSegmentLength = e.ours.MaxRecvDataSegmentLength
	return []kv{{Key: keyMaxRecvDataSegmentLength, Value: strconv.Itoa(e.ours.MaxRecvDataSegmentLength)}}
}

// result returns the negotiated values with the cross-key rules applied.
func (e *engine) result() Negotiated {
	n := e.neg
	if n.FirstBurstLength > n.MaxBurstLength {
		n.FirstBurstLength = n.MaxBurstLength
	}
	return n
}

func reply(k, v string) *kv { return &kv{Key: k, Value: v} }

func (e *engine) ourBool(k string) bool {
	switch k {
	case keyInitialR2T:
		return e.ours.InitialR2T
	case keyImmediateData:
		return e.ours.ImmediateData
	case keyDataPDUInOrder:
		return e.ours.DataPDUInOrder
	case keyDataSequenceInOrder:
		return e.ours.DataSequenceInOrder
	}
	return false // RDMAExtensions
}

func (e *engine) setBool(k string, v bool) {
	switch k {
	case keyInitialR2T:
		e.neg.InitialR2T = v
	case keyImmediateData:
		e.neg.ImmediateData = v
	case keyDataPDUInOrder:
		e.neg.DataPDUInOrder = v
	case keyDataSequenceInOrder:
		e.neg.DataSequenceInOrder = v
	}
}

func (e *engine) ourNum(k string) int {
	switch k {
	case keyMaxConnections:
		return e.ours.MaxConnections
	case keyMaxBurstLength:
		return e.ours.MaxBurstLength
	case keyFirstBurstLength:
		return e.ours.FirstBurstLength
	case keyDefaultTime2Wait:
		return e.ours.DefaultTime2Wait
	case keyDefaultTime2Retain:
		return e.ours.DefaultTime2Retain
	case keyMaxOutstandingR2T:
		return e.ours.MaxOutstandingR2T
	case keyErrorRecoveryLevel:
		return e.ours.ErrorRecoveryLevel
	case keyProtocolLevel:
		return 1 // RFC 7143 is level 1
	}
	return 0
}

func (e *engine) setNum(k string, v int) {
	switch k {
	case keyMaxConnections:
		e.neg.MaxConnections = v
	case keyMaxBurstLength:
		e.neg.MaxBurstLength = v
	case keyFirstBurstLength:
		e.neg.FirstBurstLength = v
	case keyDefaultTime2Wait:
		e.neg.DefaultTime2Wait = v
	case keyDefaultTime2Retain:
		e.neg.DefaultTime2Retain = v
	case keyMaxOutstandingR2T:
		e.neg.MaxOutstandingR2T = v
	case keyErrorRecoveryLevel:
		e.neg.ErrorRecoveryLevel = v
	case keyProtocolLevel:
		e.neg.ProtocolLevel = v
	}
}

func (e *engine) ourList(k string) []string {
	switch k {
	case keyHeaderDigest:
		return e.ours.HeaderDigest
	case keyDataDigest:
		return e.ours.DataDigest
	}
	return []string{"RFC3720"} // TaskReporting
}

func (e *engine) defaultListValue(k string) string {
	if k == keyTaskReporting {
		return "RFC3720"
	}
	return DigestNone
}

func (e *engine) setList(k, v string) {
	switch k {
	case keyHeaderDigest:
		e.neg.HeaderDigest = v == DigestCRC32C
	case keyDataDigest:
		e.neg.DataDigest = v == DigestCRC32C
	}
}
