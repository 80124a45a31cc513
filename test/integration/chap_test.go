package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
)

// CHAP (RFC 7143 §12.1.3) end to end: one-way and mutual, good, wrong and
// missing secrets, every CHAP_A, discovery CHAP and pacing of failures.

const (
	oneWayTarget = "iqn.2026-11.io.halun.test:chap-one"
	mutualTarget = "iqn.2026-11.io.halun.test:chap-mutual"
	chapUser     = "alice"
	chapSecret   = "alice-secret-01"
	mutualUser   = "san1"
	mutualSecret = "san1-secret-002"
	discUser     = "disco"
	discSecret   = "disco-secret-03"
)

func chapConfig(t *testing.T, addr string) string {
	// The mutual target's secrets come from files next to the config.
	dir := t.TempDir()
	for name, secret := range map[string]string{"alice.secret": chapSecret + "\n", "san1.secret": mutualSecret} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: chap-v1}
discovery:
  chap: {user: %s, secret: %s}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    chap: {user: %s, secret: %s}
    access: {all: true}
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    access:
      initiators:
        - iqn: %s
          chap: {user: %s, secret_file: %s, target_user: %s, target_secret_file: %s}
`, addr, discUser, discSecret, oneWayTarget, chapUser, chapSecret, mutualTarget, iqnA,
		chapUser, filepath.Join(dir, "alice.secret"), mutualUser, filepath.Join(dir, "san1.secret"))
}

func startCHAP(t *testing.T) string {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, chapConfig(t, addr))
	return addr
}

func chapLogin(t *testing.T, addr string, o initiator.Options) error {
	t.Helper()
	if o.InitiatorName == "" {
		o.InitiatorName = iqnA
	}
	s, err := initiator.Dial(ctxT(t), addr, o)
	if err == nil {
		defer s.Close()
		_, err = s.ReportLUNs(ctxT(t))
	}
	return err
}

func TestCHAPOneWay(t *testing.T) {
	addr := startCHAP(t)
	for _, algs := range [][]int{nil, {5}, {6}, {7}, {8}, {8, 7, 6, 5}} {
		if err := chapLogin(t, addr, initiator.Options{TargetName: oneWayTarget, CHAPUsername: chapUser, CHAPSecret: chapSecret, CHAPAlgorithms: algs}); err != nil {
			t.Errorf("CHAP_A %v: %v", algs, err)
		}
	}
	// Wrong secret, wrong user, no CHAP at all (with and without a security
	// stage): authentication failure 0201. Each initiator name fails once,
	// so pacing does not slow the test.
	for i, o := range []initiator.Options{
		{CHAPUsername: chapUser, CHAPSecret: "not-the-secret-1"},
		{CHAPUsername: "mallory", CHAPSecret: chapSecret},
		{},
		{SkipSecurityStage: true},
	} {
		o.TargetName = oneWayTarget
		o.InitiatorName = fmt.Sprintf("iqn.2026-11.io.halun.test:bad-%d", i)
		wantLoginStatus(t, chapLogin(t, addr, o), 2, 1)
	}
}

func TestCHAPMutual(t *testing.T) {
	addr := startCHAP(t)
	good := initiator.Options{TargetName: mutualTarget, CHAPUsername: chapUser, CHAPSecret: chapSecret,
		TargetCHAPUsername: mutualUser, TargetCHAPSecret: mutualSecret}
	for _, algs := range [][]int{{5}, {7}, {8}} {
		o := good
		o.CHAPAlgorithms = algs
		if err := chapLogin(t, addr, o); err != nil {
			t.Errorf("mutual CHAP_A %v: %v", algs, err)
		}
	}
	// The initiator checks the target: a wrong expected target secret makes
	// the initiator, not the target, give up.
	o := good
	o.TargetCHAPSecret = "not-the-target-1"
	if err := chapLogin(t, addr, o); err == nil {
		t.Error("initiator accepted a target that answered with another secret")
	}
	// Missing mutual half: the target is configured to prove itself, an
	// initiator that does not ask is refused 0201.
	o = good
	o.TargetCHAPSecret, o.TargetCHAPUsername = "", ""
	wantLoginStatus(t, chapLogin(t, addr, o), 2, 1)
	// Wrong initiator secret in a mutual exchange.
	o = good
	o.CHAPSecret = "not-the-secret-1"
	wantLoginStatus(t, chapLogin(t, addr, o), 2, 1)
	// The entry's CHAP belongs to A: B is not listed at all (0202).
	o = good
	o.InitiatorName = iqnB
	wantLoginStatus(t, chapLogin(t, addr, o), 2, 2)
}

func TestCHAPDiscovery(t *testing.T) {
	addr := startCHAP(t)
	_, err := initiator.Discover(ctxT(t), addr, iqnC)
	wantLoginStatus(t, err, 2, 1)
	got, err := initiator.SendTargetsWith(ctxT(t), addr, initiator.Options{InitiatorName: iqnC, CHAPUsername: discUser, CHAPSecret: discSecret}, "All")
	if err != nil {
		t.Fatal(err)
	}
	// C may log in to the open one-way target, not to A's mutual one.
	if n := names(got); len(n) != 1 || n[0] != oneWayTarget {
		t.Errorf("C discovers %v", n)
	}
	// Discovery credentials are not a target's.
	err = chapLogin(t, addr, initiator.Options{InitiatorName: iqnC, TargetName: oneWayTarget, CHAPUsername: discUser, CHAPSecret: discSecret})
	wantLoginStatus(t, err, 2, 1)
}

// TestCHAPFailuresSlowDown: repeated failures from one initiator name are
// answered ever more slowly (only a lower bound is checked).
func TestCHAPFailuresSlowDown(t *testing.T) {
	addr := startCHAP(t)
	o := initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:guesser", TargetName: oneWayTarget,
		CHAPUsername: chapUser, CHAPSecret: "guess-number-01"}
	start := time.Now()
	for i := 0; i < 3; i++ {
		wantLoginStatus(t, chapLogin(t, addr, o), 2, 1)
	}
	// 250 ms + 500 ms + 1 s.
	if d := time.Since(start); d < 1750*time.Millisecond {
		t.Errorf("three failures answered in %v; want at least 1.75 s", d)
	}
	// Another initiator is not slowed by the guesser.
	start = time.Now()
	if err := chapLogin(t, addr, initiator.Options{InitiatorName: iqnB, TargetName: oneWayTarget, CHAPUsername: chapUser, CHAPSecret: chapSecret}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("an honest initiator waited %v", d)
	}
}

// TestCHAPConfigRefusesShortSecret: the 12-byte minimum is a config error.
func TestCHAPConfigRefusesShortSecret(t *testing.T) {
	_, err := config.Parse("c.yaml", []byte(`portal_groups: [{tag: 1, portals: ["127.0.0.1:3260"]}]
targets:
  - iqn: iqn.2026-11.io.halun.test:t
    chap: {user: u, secret: short}
    access: {all: true}
`))
	if err == nil || err.Error() != "c.yaml:4: targets[0].chap.secret: the secret is 5 bytes; CHAP secrets need at least 12 (RFC 7143 §12.1.3)" {
		t.Errorf("got %v", err)
	}
}
