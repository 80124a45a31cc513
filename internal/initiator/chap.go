package initiator

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// CHAP (RFC 1994 with MD5, as profiled by RFC 7143 §12.1.3).

// chapResponse is MD5(identifier || secret || challenge).
func chapResponse(id byte, secret string, challenge []byte) []byte {
	return chapResponseAlg(5, id, secret, challenge)
}

// chapHash returns the hash of CHAP_A alg: 5 MD5, 6 SHA-1, 7 SHA-256, 8
// SHA3-256 (RFC 7143 §12.1.3); nil for others.
func chapHash(alg int) hash.Hash {
	switch alg {
	case 5:
		return md5.New()
	case 6:
		return sha1.New()
	case 7:
		return sha256.New()
	case 8:
		return sha3.New256()
	}
	return nil
}

// chapResponseAlg is H(identifier || secret || challenge) with CHAP_A alg.
func chapResponseAlg(alg int, id byte, secret string, challenge []byte) []byte {
	h := chapHash(alg)
	if h == nil {
		return nil
	}
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	return h.Sum(nil)
}

// decodeBinary decodes an RFC 7143 §6.1 binary value (0x hex or 0b base64).
func decodeBinary(v string) ([]byte, error) {
	switch {
	case len(v) > 2 && (strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X")):
		s := v[2:]
		if len(s)%2 == 1 {
			s = "0" + s
		}
		return hex.DecodeString(s)
	case len(v) > 2 && (strings.HasPrefix(v, "0b") || strings.HasPrefix(v, "0B")):
		return base64.StdEncoding.DecodeString(v[2:])
	}
	return nil, fmt.Errorf("binary value %q lacks a 0x or 0b prefix", v)
}

func encodeHex(b []byte) string { return "0x" + hex.EncodeToString(b) }

// security drives the security stage from the initiator side.
type security struct {
	o          *Options
	discovery  bool
	step       int
	mutualID   byte
	mutualChal []byte
	alg        int // the CHAP_A the target chose
}

// algorithms returns the CHAP_A values offered, in order.
func (s *security) algorithms() []int {
	if len(s.o.CHAPAlgorithms) > 0 {
		return s.o.CHAPAlgorithms
	}
	return []int{5}
}

func (s *security) chap() bool { return s.o.CHAPSecret != "" }

func (s *security) mutual() bool { return s.o.TargetCHAPSecret != "" }

// initial returns the keys that open a login: names and session type.
func (s *security) initial() []pdu.KV {
	kvs := []pdu.KV{{Key: "InitiatorName", Value: s.o.InitiatorName}}
	if s.discovery {
		kvs = append(kvs, pdu.KV{Key: "SessionType", Value: "Discovery"})
	} else {
		kvs = append(kvs, pdu.KV{Key: "SessionType", Value: "Normal"}, pdu.KV{Key: "TargetName", Value: s.o.TargetName})
	}
	return kvs
}

// next consumes the keys of one security-stage response (nil for the first
// request) and returns the keys to send and whether to ask for transit.
func (s *security) next(resp []pdu.KV) ([]pdu.KV, bool, error) {
	get := func(k string) string {
		for _, kv := range resp {
			if kv.Key == k {
				return kv.Value
			}
		}
		return ""
	}
	switch s.step {
	case 0:
		s.step = 1
		method := "None"
		if s.chap() {
			method = "CHAP"
		}
		return append(s.initial(), pdu.KV{Key: "AuthMethod", Value: method}), !s.chap(), nil
	case 1:
		am := get("AuthMethod")
		if !s.chap() {
			if am != "" && am != "None" {
				return nil, false, fmt.Errorf("target chose AuthMethod=%s, only None offered", am)
			}
			s.step = 3
			return nil, true, nil
		}
		if am == "" {
			return nil, false, nil // keep waiting for the answer
		}
		if am != "CHAP" {
			return nil, false, fmt.Errorf("target chose AuthMethod=%s, only CHAP offered", am)
		}
		s.step = 2
		var offer []string
		for _, a := range s.algorithms() {
			offer = append(offer, strconv.Itoa(a))
		}
		return []pdu.KV{{Key: "CHAP_A", Value: strings.Join(offer, ",")}}, false, nil
	case 2:
		a, err := strconv.Atoi(get("CHAP_A"))
		offered := false
		for _, o := range s.algorithms() {
			offered = offered || o == a
		}
		if err != nil || !offered || chapHash(a) == nil {
			return nil, false, fmt.Errorf("target chose CHAP_A=%q, not one offered", get("CHAP_A"))
		}
		s.alg = a
		id, err := strconv.ParseUint(get("CHAP_I"), 10, 8)
		if err != nil {
			return nil, false, fmt.Errorf("target CHAP_I=%q: %w", get("CHAP_I"), err)
		}
		chal, err := decodeBinary(get("CHAP_C"))
		if err != nil || len(chal) == 0 {
			return nil, false, fmt.Errorf("target CHAP_C=%q: bad challenge", get("CHAP_C"))
		}
		kvs := []pdu.KV{{Key: "CHAP_N", Value: s.o.CHAPUsername},
			{Key: "CHAP_R", Value: encodeHex(chapResponseAlg(s.alg, byte(id), s.o.CHAPSecret, chal))}}
		if s.mutual() {
			var b [17]byte
			if _, err := rand.Read(b[:]); err != nil {
				return nil, false, err
			}
			s.mutualID, s.mutualChal = b[0], b[1:]
			kvs = append(kvs, pdu.KV{Key: "CHAP_I", Value: strconv.Itoa(int(s.mutualID))},
				pdu.KV{Key: "CHAP_C", Value: encodeHex(s.mutualChal)})
		}
		s.step = 3
		return kvs, true, nil
	case 3:
		if s.mutual() && s.mutualChal != nil {
			n, r := get("CHAP_N"), get("CHAP_R")
			if n == "" && r == "" {
				return nil, true, nil
			}
			got, err := decodeBinary(r)
			want := chapResponseAlg(s.alg, s.mutualID, s.o.TargetCHAPSecret, s.mutualChal)
			if err != nil || n != s.o.TargetCHAPUsername || subtle.ConstantTimeCompare(got, want) != 1 {
				return nil, false, fmt.Errorf("target failed mutual CHAP authentication (name %q)", n)
			}
			s.mutualChal = nil
			s.step = 4
		}
		return nil, true, nil
	}
	return nil, true, nil
}

// done reports whether authentication, including the check of the target in
// mutual CHAP, has completed.
func (s *security) done() bool {
	if s.chap() && s.mutual() {
		return s.step == 4
	}
	return s.step >= 3
}
