package pdu

import (
	"bytes"
	"fmt"
)

// KV is one key=value pair of a text or login data segment.
type KV struct{ Key, Value string }

// MaxKeyLen is the RFC 7143 §6.1 limit on key names. RFC 7143 limits simple
// values to 255 bytes unless a key says otherwise (CHAP's large binary values
// are longer), so per-key value limits belong to negotiation; MaxValueLen is
// only the sanity bound ParseText applies to every value.
const (
	MaxKeyLen   = 63
	MaxValueLen = 8192
)

// ParseText decodes a data segment of NUL-terminated key=value pairs, keeping
// their order. A trailing fragment without NUL is an error: callers that accept
// continued (C bit) text concatenate segments before parsing.
func ParseText(b []byte) ([]KV, error) {
	var out []KV
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, fmt.Errorf("pdu: text pair without NUL terminator")
		}
		pair := b[:i]
		b = b[i+1:]
		if len(pair) == 0 {
			// Tolerate padding NULs some initiators leave.
			continue
		}
		eq := bytes.IndexByte(pair, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("pdu: text pair %q has no key=value form", truncate(pair))
		}
		if eq > MaxKeyLen {
			return nil, fmt.Errorf("pdu: text key of %d bytes exceeds %d", eq, MaxKeyLen)
		}
		if v := len(pair) - eq - 1; v > MaxValueLen {
			return nil, fmt.Errorf("pdu: value of text key %q is %d bytes, exceeds %d", pair[:eq], v, MaxValueLen)
		}
		out = append(out, KV{Key: string(pair[:eq]), Value: string(pair[eq+1:])})
	}
	return out, nil
}

// AppendText encodes pairs as key=value\0 onto dst. Keys must be non-empty and
// contain neither '=' nor NUL, and values no NUL, for ParseText to give the
// pairs back.
func AppendText(dst []byte, kvs []KV) []byte {
	for _, kv := range kvs {
		dst = append(dst, kv.Key...)
		dst = append(dst, '=')
		dst = append(dst, kv.Value...)
		dst = append(dst, 0)
	}
	return dst
}

func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
