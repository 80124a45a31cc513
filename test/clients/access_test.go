package clients

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/test/harness"
)

// Access control, CHAP and identity with libiscsi's tools against the real
// daemon: discovery filtering (iscsi-ls -i), login refusal 0202 and 0201,
// per-initiator LUN maps, one-way and mutual CHAP through the
// iscsi://user%secret@ URL form, and identical VPD 0x83 logical-unit
// designators from two daemons with the same volume config. (libiscsi picks
// a random ISID per process, so the ISID-reuse scenario is tested with
// halun's own initiator in test/integration.)

const (
	aclIQN   = "iqn.2026-11.io.halun.test:acl"
	openIQN  = "iqn.2026-11.io.halun.test:open"
	chapIQN  = "iqn.2026-11.io.halun.test:chap"
	mutIQN   = "iqn.2026-11.io.halun.test:mutual"
	hostA    = "iqn.2026-11.io.halun.test:host-a"
	hostB    = "iqn.2026-11.io.halun.test:host-b"
	hostC    = "iqn.2026-11.io.halun.test:host-c"
	sharedSN = "3c1e6f2a-8d4b-4e7a-9f10-2b3c4d5e6f70"
)

// writeConfig writes a config into a fresh directory and returns its path.
// harness.Start's --listen replaces the one portal group's portals.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "halun.yaml")
	if err := os.WriteFile(p, []byte("portal_groups:\n  - {tag: 1, portals: [\"127.0.0.1:3260\"]}\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const aclVolumes = `volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: ` + sharedSN + `, product_id: "vault disk"}
  - {name: v2, backend: memory, size: 4MiB, serial: clients-v2}
`

func startACL(t *testing.T) *harness.Daemon {
	return harness.Start(t, harness.Options{Config: writeConfig(t, aclVolumes+`targets:
  - iqn: `+aclIQN+`
    luns: [{lun: 0, volume: v1}]
    access:
      initiators:
        - iqn: `+hostA+`
          luns: [{lun: 0, volume: v1}, {lun: 3, volume: v2}]
        - iqn: `+hostB+`
  - iqn: `+openIQN+`
    luns: [{lun: 0, volume: v2}]
    access: {all: true}
`)})
}

// runFail runs a program that must fail and returns its output.
func runFail(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := harness.Need(t, name)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%s %s succeeded:\n%s", name, strings.Join(args, " "), out)
	}
	return string(out)
}

func TestLibiscsiDiscoveryFiltering(t *testing.T) {
	d := startACL(t)
	for _, tc := range []struct {
		initiator   string
		see, hidden []string
	}{
		{hostA, []string{aclIQN, openIQN}, nil},
		{hostB, []string{aclIQN, openIQN}, nil},
		{hostC, []string{openIQN}, []string{aclIQN}},
	} {
		out := run(t, "iscsi-ls", "-i", tc.initiator, "iscsi://"+d.Addr)
		for _, s := range tc.see {
			if !strings.Contains(out, "Target:"+s+" Portal:"+d.Addr+",1") {
				t.Errorf("iscsi-ls -i %s does not list %s:\n%s", tc.initiator, s, out)
			}
		}
		for _, s := range tc.hidden {
			if strings.Contains(out, s) {
				t.Errorf("iscsi-ls -i %s lists %s:\n%s", tc.initiator, s, out)
			}
		}
	}
	// iscsi-ls -s logs in to every target it lists: it works for C
	// because C is shown only what it may log in to.
	if out := run(t, "iscsi-ls", "-s", "-i", hostC, "iscsi://"+d.Addr); !strings.Contains(out, "Lun:0") {
		t.Errorf("iscsi-ls -s as C:\n%s", out)
	}
}

func TestLibiscsiLoginRefused0202(t *testing.T) {
	d := startACL(t)
	out := runFail(t, "iscsi-inq", "-i", hostC, fmt.Sprintf("iscsi://%s/%s/0", d.Addr, aclIQN))
	if !strings.Contains(out, "Authorization failure(514)") {
		t.Errorf("want status 0202 (514):\n%s", out)
	}
	if log := d.WaitLog("initiator not authorized", hostC); !strings.Contains(log, "initiator not authorized") || !strings.Contains(log, hostC) {
		t.Errorf("refusal not logged with the initiator:\n%s", log)
	}
}

func TestLibiscsiPerInitiatorLUNs(t *testing.T) {
	d := startACL(t)
	out := run(t, "iscsi-ls", "-s", "-i", hostA, "iscsi://"+d.Addr)
	section := func(out, target string) string {
		i := strings.Index(out, "Target:"+target)
		if i < 0 {
			return ""
		}
		s := out[i+1:]
		if j := strings.Index(s, "Target:"); j >= 0 {
			s = s[:j]
		}
		return s
	}
	if s := section(out, aclIQN); !strings.Contains(s, "Lun:0 ") || !strings.Contains(s, "Lun:3 ") {
		t.Errorf("A sees LUNs 0 and 3 of %s:\n%s", aclIQN, out)
	}
	out = run(t, "iscsi-ls", "-s", "-i", hostB, "iscsi://"+d.Addr)
	if s := section(out, aclIQN); !strings.Contains(s, "Lun:0 ") || strings.Contains(s, "Lun:3 ") {
		t.Errorf("B sees only LUN 0 of %s:\n%s", aclIQN, out)
	}
	// A's LUN 3 is v2, B has no LUN 3.
	out = run(t, "iscsi-inq", "-i", hostA, "-e", "1", "-c", "128", fmt.Sprintf("iscsi://%s/%s/3", d.Addr, aclIQN))
	if !strings.Contains(out, "clients-v2") {
		t.Errorf("A's LUN 3 serial:\n%s", out)
	}
	runFail(t, "iscsi-readcapacity16", "-i", hostB, fmt.Sprintf("iscsi://%s/%s/3", d.Addr, aclIQN))
}

func startCHAPDaemon(t *testing.T) *harness.Daemon {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "san1.secret")
	if err := os.WriteFile(secretFile, []byte("san1-secret-002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return harness.Start(t, harness.Options{Config: writeConfig(t, aclVolumes+`targets:
  - iqn: `+chapIQN+`
    luns: [{lun: 0, volume: v1}]
    chap: {user: alice, secret: alice-secret-01}
    access: {all: true}
  - iqn: `+mutIQN+`
    luns: [{lun: 0, volume: v2}]
    access:
      initiators:
        - iqn: `+hostA+`
          chap: {user: alice, secret: alice-secret-01, target_user: san1, target_secret_file: `+secretFile+`}
`)})
}

func TestLibiscsiCHAPOneWay(t *testing.T) {
	d := startCHAPDaemon(t)
	url := func(cred string) string { return fmt.Sprintf("iscsi://%s%s/%s/0", cred, d.Addr, chapIQN) }
	if out := run(t, "iscsi-inq", url("alice%alice-secret-01@")); !strings.Contains(out, "Vendor:HALUN") {
		t.Errorf("CHAP login:\n%s", out)
	}
	for _, cred := range []string{"alice%wrong-secret-01@", "mallory%alice-secret-01@", ""} {
		if out := runFail(t, "iscsi-inq", url(cred)); !strings.Contains(out, "Authentication failure(513)") {
			t.Errorf("%q: want status 0201 (513):\n%s", cred, out)
		}
	}
	log := d.WaitLog("CHAP authentication failed")
	if !strings.Contains(log, "CHAP authentication failed") || strings.Contains(log, "alice-secret-01") || strings.Contains(log, "wrong-secret-01") {
		t.Errorf("failures must be logged without secrets:\n%s", log)
	}
}

func TestLibiscsiCHAPMutual(t *testing.T) {
	d := startCHAPDaemon(t)
	url := func(cred, query string) string {
		return fmt.Sprintf("iscsi://%s%s/%s/0%s", cred, d.Addr, mutIQN, query)
	}
	good := "?target_user=san1&target_password=san1-secret-002"
	if out := run(t, "iscsi-inq", "-i", hostA, url("alice%alice-secret-01@", good)); !strings.Contains(out, "Vendor:HALUN") {
		t.Errorf("mutual CHAP login:\n%s", out)
	}
	// Through the environment instead of the URL.
	cmd := exec.Command(harness.Need(t, "iscsi-inq"), "-i", hostA, url("", ""))
	cmd.Env = append(os.Environ(), "LIBISCSI_CHAP_USERNAME=alice", "LIBISCSI_CHAP_PASSWORD=alice-secret-01",
		"LIBISCSI_CHAP_TARGET_USERNAME=san1", "LIBISCSI_CHAP_TARGET_PASSWORD=san1-secret-002")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("mutual CHAP from the environment: %v\n%s", err, out)
	}
	// The initiator refuses a target that cannot prove the secret it expects.
	if out := runFail(t, "iscsi-inq", "-i", hostA, url("alice%alice-secret-01@", "?target_user=san1&target_password=not-the-secret")); !strings.Contains(out, "Invalid CHAP_R") {
		t.Errorf("wrong target secret:\n%s", out)
	}
	// Missing mutual half, wrong or missing initiator secret: 0201.
	for _, u := range []string{url("alice%alice-secret-01@", ""), url("alice%wrong-secret-01@", good), url("", "")} {
		if out := runFail(t, "iscsi-inq", "-i", hostA, u); !strings.Contains(out, "Authentication failure(513)") {
			t.Errorf("%s: want 0201:\n%s", u, out)
		}
	}
	// Right secrets, wrong initiator name: not authorized.
	if out := runFail(t, "iscsi-inq", "-i", hostB, url("alice%alice-secret-01@", good)); !strings.Contains(out, "Authorization failure(514)") {
		t.Errorf("B: want 0202:\n%s", out)
	}
}

// luBlocks returns the VPD 0x83 designator blocks iscsi-inq prints with
// association LOGICAL_UNIT, raw (binary designators are printed as bytes).
func luBlocks(out []byte) [][]byte {
	var lu [][]byte
	for _, b := range bytes.Split(out, []byte("DEVICE DESIGNATOR #"))[1:] {
		if bytes.Contains(b, []byte("Association:(0) LOGICAL_UNIT")) {
			// Drop the running number before the first newline.
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = b[i:]
			}
			lu = append(lu, b)
		}
	}
	return lu
}

// TestLibiscsiIdentityTwoDaemons: two daemons with the same volume config
// (different targets, data directories and volume order) answer identical
// logical-unit designators in VPD 0x83.
func TestLibiscsiIdentityTwoDaemons(t *testing.T) {
	var pages [2][]byte
	for i, vols := range []string{aclVolumes, "volumes:\n" + strings.Join(reverse(strings.Split(strings.TrimSuffix(strings.TrimPrefix(aclVolumes, "volumes:\n"), "\n"), "\n")), "\n") + "\n"} {
		iqn := fmt.Sprintf("iqn.2026-11.io.halun.test:node%d", i+1)
		d := harness.Start(t, harness.Options{Config: writeConfig(t, vols+`targets:
  - iqn: `+iqn+`
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`)})
		pages[i] = []byte(run(t, "iscsi-inq", "-e", "1", "-c", "131", fmt.Sprintf("iscsi://%s/%s/0", d.Addr, iqn)))
		if !bytes.Contains(pages[i], []byte(iqn)) {
			t.Errorf("node %d's page lacks its target port designators:\n%s", i+1, pages[i])
		}
	}
	a, b := luBlocks(pages[0]), luBlocks(pages[1])
	if len(a) < 2 || len(a) != len(b) {
		t.Fatalf("LU designators: %d and %d\n%s\n%s", len(a), len(b), pages[0], pages[1])
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("LU designator %d differs:\n%q\n%q", i, a[i], b[i])
		}
	}
	if !bytes.Contains(pages[0], []byte("HALUN   "+sharedSN)) {
		t.Errorf("T10 vendor ID designator:\n%s", pages[0])
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}
