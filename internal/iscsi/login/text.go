package login

import (
	"fmt"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// NegotiateText answers the keys of a Full Feature Phase Text Request
// (RFC 7143 §6.2, §11.10) whose C-bit continuations the caller has joined,
// and updates n for the keys that may change after login.
//
// MaxRecvDataSegmentLength (Use: ALL) is a new declaration by the initiator
// and needs no answer; InitiatorAlias is accepted silently. SendTargets is
// returned in rest, in order, for the caller to answer from its target list.
// Keys usable only during login are answered Reject, unknown and extension
// keys NotUnderstood. An error is a protocol error (a key sent twice, a
// reserved constant proposed as a value): the caller answers with a Reject
// PDU.
func NegotiateText(n *Negotiated, kvs []pdu.KV) (reply, rest []pdu.KV, err error) {
	seen := make(map[string]bool, len(kvs))
	for _, p := range kvs {
		if seen[p.Key] {
			return nil, nil, fmt.Errorf("login: text key %s sent twice", p.Key)
		}
		seen[p.Key] = true
		def, known := keyTable[p.Key]
		if !known || isExtensionKey(p.Key) {
			reply = append(reply, kv{Key: p.Key, Value: valNotUnderstood})
			continue
		}
		if isReservedValue(p.Value) {
			return nil, nil, fmt.Errorf("login: text key %s proposed with reserved value %s", p.Key, p.Value)
		}
		switch {
		case p.Key == keySendTargets:
			rest = append(rest, p)
		case p.Key == keyInitiatorAlias:
		case p.Key == keyMaxRecvDataSegmentLength:
			v, ok := parseNumber(p.Value)
			if !ok || v < def.lo || v > def.hi {
				reply = append(reply, kv{Key: p.Key, Value: valReject})
				continue
			}
			n.MaxRecvDataSegmentLength = int(v)
		default:
			reply = append(reply, kv{Key: p.Key, Value: valReject})
		}
	}
	return reply, rest, nil
}
