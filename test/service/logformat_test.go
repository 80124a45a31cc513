package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/test/harness"
)

const (
	logTarget    = "iqn.2026-11.io.halun.test:logs"
	logInitiator = "iqn.2026-11.io.halun.test:host-a"
	chapUser     = "host-a"
	chapSecret   = "s3cret-never-logged-1"
	targetUser   = "san1"
	targetSecret = "s3cret-never-logged-2"
)

// parseJSONLog decodes a daemon's log, failing the test on any line that
// is not a JSON object.
func parseJSONLog(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON (%v): %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// find returns the first record whose msg is msg and whose attributes
// include every one of match.
func find(recs []map[string]any, msg string, match map[string]any) map[string]any {
	for _, r := range recs {
		if r["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(r[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

// TestJSONLogSessionFields serves with --log-format json, logs in with
// mutual CHAP, then fails a login with a wrong secret, and checks that
// every line is a JSON object, that the lines about the session carry
// initiator, isid, tsih (the one `halun session list` reports), target,
// portal, remote and tpgt as attributes, that the failed login names the
// initiator, ISID and target, and that no CHAP secret appears anywhere.
func TestJSONLogSessionFields(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + itoa(harness.FreePort(t))
	secretFile := filepath.Join(dir, "target.secret")
	if err := os.WriteFile(secretFile, []byte(targetSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`portal_groups:
  - {tag: 7, portals: [%q]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: logs-v1}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    access:
      initiators:
        - iqn: %s
          chap: {user: %s, secret: %s, target_user: %s, target_secret_file: %s}
`, addr, logTarget, logInitiator, chapUser, chapSecret, targetUser, secretFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := harness.Start(t, harness.Options{Config: cfg, Portal: addr, IQN: logTarget,
		Args: []string{"--log-format", "json", "--log-level", "debug"}})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	isid := pdu.ISID{0x80, 0x12, 0x34, 0x56, 0x78, 0x9a}
	o := initiator.Options{InitiatorName: logInitiator, TargetName: logTarget, ISID: isid,
		CHAPUsername: chapUser, CHAPSecret: chapSecret, TargetCHAPUsername: targetUser, TargetCHAPSecret: targetSecret}
	s, err := initiator.Dial(ctx, addr, o)
	if err != nil {
		t.Fatalf("login: %v\n%s", err, d.Log())
	}
	sessions, err := admin.NewClient(filepath.Join(d.DataDir, admin.SocketName)).Sessions(ctx)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("session list: %v %+v", err, sessions)
	}
	tsih := sessions[0].TSIH
	if err := s.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	s.Close()

	bad := o
	bad.ISID = pdu.ISID{0x80, 0, 0, 0, 0, 0x42}
	bad.CHAPSecret = "wrong-secret-xyz"
	if s, err := initiator.Dial(ctx, addr, bad); err == nil {
		s.Close()
		t.Fatal("login with a wrong CHAP secret succeeded")
	}
	d.WaitLog(`"logout"`, "CHAP authentication failed")
	d.Stop(t)

	log := d.Log()
	for _, secret := range []string{chapSecret, targetSecret, "wrong-secret-xyz"} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the CHAP secret %q", secret)
		}
	}
	recs := parseJSONLog(t, log)
	session := map[string]any{"initiator": logInitiator, "isid": "80123456789a", "tsih": tsih,
		"target": logTarget, "portal": addr, "tpgt": 7}
	for _, msg := range []string{"login complete", "logout"} {
		r := find(recs, msg, session)
		if r == nil {
			t.Errorf("no %q line with %v in the JSON log:\n%s", msg, session, harness.Tail(log, 4000))
			continue
		}
		if !strings.HasPrefix(fmt.Sprint(r["remote"]), "127.0.0.1:") {
			t.Errorf("%q line: remote %v, want the initiator's 127.0.0.1:port", msg, r["remote"])
		}
	}
	failed := map[string]any{"initiator": logInitiator, "isid": "800000000042", "target": logTarget, "portal": addr}
	if find(recs, "CHAP authentication failed", failed) == nil {
		t.Errorf("no CHAP failure line with %v in the JSON log:\n%s", failed, harness.Tail(log, 4000))
	}
}
