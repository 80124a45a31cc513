package login

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// CHAP algorithms: the CHAP_A values (IANA PPP authentication algorithms)
// of RFC 7143 §12.1.3 and RFC 1994, as Linux initiators and LIO offer them.
const (
	CHAPMD5     = 5
	CHAPSHA1    = 6
	CHAPSHA256  = 7
	CHAPSHA3256 = 8
)

// maxCHAPChallenge bounds the initiator's challenge in mutual CHAP (RFC
// 7143 §12.1.3: CHAP_C is at most 1024 bytes).
const maxCHAPChallenge = 1024

// CHAPCredentials are what one CHAP exchange checks and answers with. The
// initiator must answer as User with Secret; with TargetSecret set the
// initiator must also challenge the target (mutual CHAP), which answers as
// TargetUser with TargetSecret.
type CHAPCredentials struct {
	User, Secret             string
	TargetUser, TargetSecret string
}

// Mutual reports whether the target authenticates itself too.
func (c *CHAPCredentials) Mutual() bool { return c.TargetSecret != "" }

// AuthPolicy is what one login requires: whether the initiator may log in
// at all (Allowed false refuses it with StatusAuthorizationFailure) and with
// which CHAP credentials (nil: no authentication, AuthMethod=None).
type AuthPolicy struct {
	Allowed bool
	CHAP    *CHAPCredentials
}

// CHAPAuthenticator is an Authenticator offering CHAP (RFC 7143 §12.1.3)
// where Policy asks for it and None elsewhere. It is pure: identifiers and
// challenges come from Rand, which the transport sets to crypto/rand.Reader.
type CHAPAuthenticator struct {
	// Policy decides each login; it must be set.
	Policy func(AuthRequest) AuthPolicy
	// Rand supplies identifiers and challenges.
	Rand io.Reader
	// Algorithms are the CHAP_A values accepted; nil means all four. The
	// initiator's order of preference decides among them.
	Algorithms []int
}

// Methods implements Authenticator.
func (a *CHAPAuthenticator) Methods(r AuthRequest) []string {
	p := a.Policy(r)
	switch {
	case !p.Allowed:
		return nil
	case p.CHAP != nil:
		return []string{AuthCHAP}
	}
	return []string{AuthNone}
}

// Begin implements Authenticator.
func (a *CHAPAuthenticator) Begin(method string, r AuthRequest) (AuthExchange, error) {
	p := a.Policy(r)
	if method != AuthCHAP || !p.Allowed || p.CHAP == nil {
		return nil, errors.New("login: CHAP not configured for this login")
	}
	if a.Rand == nil {
		return nil, errors.New("login: CHAP without a random source")
	}
	algs := a.Algorithms
	if algs == nil {
		algs = []int{CHAPMD5, CHAPSHA1, CHAPSHA256, CHAPSHA3256}
	}
	return &chapExchange{creds: *p.CHAP, rand: a.Rand, algs: algs}, nil
}

// chapExchange is one CHAP authentication:
//
//	I: CHAP_A=<A1,A2,...>
//	T: CHAP_A=<A> CHAP_I=<I> CHAP_C=<C>
//	I: CHAP_N=<N> CHAP_R=<R> [CHAP_I=<I'> CHAP_C=<C'>]   (mutual)
//	T: [CHAP_N=<N'> CHAP_R=<R'>]
type chapExchange struct {
	creds     CHAPCredentials
	rand      io.Reader
	algs      []int
	alg       int
	id        byte
	challenge []byte
	state     int // 0: awaiting CHAP_A, 1: awaiting the response, 2: done
}

// CHAP failure reasons, for tests; AuthStep carries only the status.
var (
	errCHAPNoAlgorithm = errors.New("no acceptable CHAP_A")
)

func (x *chapExchange) Step(keys []pdu.KV) AuthStep {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		if _, dup := m[k.Key]; dup {
			return AuthStep{Status: StatusInitiatorError}
		}
		m[k.Key] = k.Value
	}
	switch x.state {
	case 0:
		a, ok := m["CHAP_A"]
		if !ok {
			return AuthStep{Status: StatusMissingParameter}
		}
		if len(m) != 1 {
			return AuthStep{Status: StatusInitiatorError}
		}
		alg, err := pickCHAPAlgorithm(a, x.algs)
		if err != nil {
			return AuthStep{Status: StatusAuthenticationFailure}
		}
		x.alg = alg
		buf := make([]byte, 1+challengeLen(alg))
		if _, err := io.ReadFull(x.rand, buf); err != nil {
			return AuthStep{Status: StatusTargetError}
		}
		x.id, x.challenge = buf[0], buf[1:]
		x.state = 1
		return AuthStep{Reply: []pdu.KV{
			{Key: "CHAP_A", Value: strconv.Itoa(alg)},
			{Key: "CHAP_I", Value: strconv.Itoa(int(x.id))},
			{Key: "CHAP_C", Value: "0x" + hex.EncodeToString(x.challenge)},
		}}
	case 1:
		x.state = 2
		return x.verify(m)
	}
	return AuthStep{Status: StatusInitiatorError}
}

// verify checks the initiator's response and, for mutual CHAP, answers its
// challenge.
func (x *chapExchange) verify(m map[string]string) AuthStep {
	for k := range m {
		switch k {
		case "CHAP_N", "CHAP_R", "CHAP_I", "CHAP_C":
		default:
			return AuthStep{Status: StatusInitiatorError}
		}
	}
	name, okN := m["CHAP_N"]
	resp, okR := m["CHAP_R"]
	if !okN || !okR {
		return AuthStep{Status: StatusMissingParameter}
	}
	got, err := DecodeBinary(resp)
	if err != nil {
		return AuthStep{Status: StatusInitiatorError}
	}
	want := CHAPResponse(x.alg, x.id, []byte(x.creds.Secret), x.challenge)
	// Compare the name and the response without an early exit.
	okName := subtle.ConstantTimeCompare([]byte(name), []byte(x.creds.User))
	okResp := subtle.ConstantTimeCompare(got, want)
	if okName&okResp != 1 {
		return AuthStep{Status: StatusAuthenticationFailure}
	}
	ci, hasI := m["CHAP_I"]
	cc, hasC := m["CHAP_C"]
	if hasI != hasC {
		return AuthStep{Status: StatusMissingParameter}
	}
	if !hasI {
		if x.creds.Mutual() {
			// The target is configured to authenticate itself: an initiator
			// that does not ask is not configured for this target.
			return AuthStep{Status: StatusAuthenticationFailure}
		}
		return AuthStep{Done: true, Identity: name}
	}
	if !x.creds.Mutual() {
		return AuthStep{Status: StatusAuthenticationFailure}
	}
	id, ok := parseNumber(ci)
	if !ok || id > 255 {
		return AuthStep{Status: StatusInitiatorError}
	}
	chal, err := DecodeBinary(cc)
	if err != nil || len(chal) == 0 || len(chal) > maxCHAPChallenge {
		return AuthStep{Status: StatusInitiatorError}
	}
	if subtle.ConstantTimeCompare(chal, x.challenge) == 1 {
		// RFC 7143 §12.1.3: a challenge reflected back would make the
		// target compute the answer to its own challenge.
		return AuthStep{Status: StatusAuthenticationFailure}
	}
	r := CHAPResponse(x.alg, byte(id), []byte(x.creds.TargetSecret), chal)
	return AuthStep{Done: true, Identity: name, Reply: []pdu.KV{
		{Key: "CHAP_N", Value: x.creds.TargetUser},
		{Key: "CHAP_R", Value: "0x" + hex.EncodeToString(r)},
	}}
}

// pickCHAPAlgorithm returns the first algorithm of the initiator's CHAP_A
// list that is acceptable.
func pickCHAPAlgorithm(list string, acceptable []int) (int, error) {
	for _, v := range strings.Split(list, ",") {
		n, ok := parseNumber(strings.TrimSpace(v))
		if !ok {
			continue
		}
		for _, a := range acceptable {
			if uint64(a) == n && hashFor(a) != nil {
				return a, nil
			}
		}
	}
	return 0, errCHAPNoAlgorithm
}

func hashFor(alg int) func() hash.Hash {
	switch alg {
	case CHAPMD5:
		return md5.New
	case CHAPSHA1:
		return sha1.New
	case CHAPSHA256:
		return sha256.New
	case CHAPSHA3256:
		return func() hash.Hash { return sha3.New256() }
	}
	return nil
}

// challengeLen is the target's challenge length for alg: the digest size,
// at least 16 bytes, as LIO does.
func challengeLen(alg int) int {
	return max(16, hashFor(alg)().Size())
}

// CHAPResponse is H(identifier || secret || challenge) with the hash of
// CHAP_A alg (RFC 1994 §4.1); nil for an unknown algorithm.
func CHAPResponse(alg int, id byte, secret, challenge []byte) []byte {
	nh := hashFor(alg)
	if nh == nil {
		return nil
	}
	h := nh()
	h.Write([]byte{id})
	h.Write(secret)
	h.Write(challenge)
	return h.Sum(nil)
}

// DecodeBinary decodes an RFC 7143 §6.1 binary value: 0x or 0X followed by
// hex digits (an odd count has an implied leading zero), or 0b or 0B
// followed by base64 (RFC 4648, padded). Values over 1024 bytes decoded are
// refused, as no CHAP value is that long.
func DecodeBinary(v string) ([]byte, error) {
	if len(v) < 3 || v[0] != '0' {
		return nil, errors.New("login: binary value needs a 0x or 0b prefix and digits")
	}
	body := v[2:]
	switch v[1] {
	case 'x', 'X':
		if len(body) > 2*maxCHAPChallenge {
			return nil, errors.New("login: binary value too long")
		}
		if len(body)%2 == 1 {
			body = "0" + body
		}
		return hex.DecodeString(body)
	case 'b', 'B':
		if len(body) > base64.StdEncoding.EncodedLen(maxCHAPChallenge) {
			return nil, errors.New("login: binary value too long")
		}
		return base64.StdEncoding.Strict().DecodeString(body)
	}
	return nil, errors.New("login: binary value needs a 0x or 0b prefix")
}
