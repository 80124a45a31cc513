package initiator

import (
	"crypto/sha256"
	"testing"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// TestSecurityCHAPAlgorithms: the initiator offers its CHAP_A list in order
// and answers with the hash the target chose; a choice it did not offer
// fails the login.
func TestSecurityCHAPAlgorithms(t *testing.T) {
	o := &Options{InitiatorName: "iqn.i", TargetName: "iqn.t", CHAPUsername: "user", CHAPSecret: "secretsecret12",
		CHAPAlgorithms: []int{7, 5}}
	s := &security{o: o}
	s.next(nil)
	k, _, err := s.next(kvs("AuthMethod=CHAP"))
	if err != nil || len(k) != 1 || k[0] != (pdu.KV{Key: "CHAP_A", Value: "7,5"}) {
		t.Fatal(k, err)
	}
	k, _, err = s.next(kvs("CHAP_A=7 CHAP_I=3 CHAP_C=0x0102"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("\x03secretsecret12\x01\x02"))
	if k[1].Key != "CHAP_R" || k[1].Value != encodeHex(h[:]) {
		t.Errorf("SHA-256 response %v", k)
	}
	s = &security{o: o}
	s.next(nil)
	s.next(kvs("AuthMethod=CHAP"))
	if _, _, err := s.next(kvs("CHAP_A=6 CHAP_I=3 CHAP_C=0x0102")); err == nil {
		t.Error("accepted CHAP_A=6, which was not offered")
	}
	for _, alg := range []int{5, 6, 7, 8} {
		if len(chapResponseAlg(alg, 1, "s", []byte{1})) < 16 {
			t.Errorf("alg %d", alg)
		}
	}
}
