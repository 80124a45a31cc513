package admin_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/test/harness"
)

const daemonConfig = `# served by the daemon test
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]   # replaced by --listen
volumes:
  - { name: d0, backend: memory, size: 4MiB, serial: dmn0000000000000 }
  - { name: d1, backend: memory, size: 4MiB, serial: dmn0000000000001 }
targets:
  - iqn: iqn.2026-11.io.halun.test:daemon
    luns:
      - { lun: 0, volume: d0 }
    access: { all: true }
`

// halunCLI runs the built halun binary against the daemon's socket.
func halunCLI(t *testing.T, sock string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), append(args, "--socket", sock)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestDaemonSIGHUPAndCLI runs the real daemon: SIGHUP applies an edited
// config to a logged-in session, the CLI lists volumes (with WWIDs), LUNs
// and sessions over the admin socket, and a second daemon on the same data
// directory refuses to start.
func TestDaemonSIGHUPAndCLI(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, daemonConfig)
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: filepath.Join(dir, "data")})
	sock := filepath.Join(d.DataDir, admin.SocketName)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("admin socket: %v\n%s", err, d.Log())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v", fi.Mode().Perm())
	}
	ctx := ctxT(t)
	s, err := initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: ini1, TargetName: "iqn.2026-11.io.halun.test:daemon"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ua uaLog
	if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}

	out, err := halunCLI(t, sock, "volume", "list")
	if err != nil || !strings.Contains(out, "dmn0000000000000") || !strings.Contains(out, " 36") {
		t.Errorf("volume list: %v\n%s", err, out)
	}
	out, err = halunCLI(t, sock, "session", "list", "-v")
	if err != nil || !strings.Contains(out, "Initiator Name: "+ini1) || !strings.Contains(out, "Negotiated iSCSI params") ||
		!strings.Contains(out, "SCSI commands: ") {
		t.Errorf("session list -v: %v\n%s", err, out)
	}

	text, _ := os.ReadFile(cfgPath)
	writeConfig(t, cfgPath, strings.Replace(string(text), "      - { lun: 0, volume: d0 }\n",
		"      - { lun: 0, volume: d0 }\n      - { lun: 1, volume: d1 }\n", 1))
	if err := syscall.Kill(d.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = halunCLI(t, sock, "lun", "list")
		if err == nil && strings.Contains(out, "d1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not apply the new LUN: %v\n%s\n%s", err, out, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// REPORT LUNS would clear the unit attention without reporting it
	// (SPC-4 6.33): look with TEST UNIT READY first.
	if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}
	var luns []uint64
	if err := ua.do(func() (err error) { luns, err = s.ReportLUNs(ctx); return }); err != nil || len(luns) != 2 {
		t.Errorf("REPORT LUNS after SIGHUP: %v %v", luns, err)
	}
	if !ua.has(0x3f0e) {
		t.Errorf("no REPORTED LUNS DATA HAS CHANGED after SIGHUP: %v", ua.seen)
	}

	// A second daemon on the same data directory finds the socket taken.
	cmd := exec.Command(harness.Binary(t), "serve", "--config", cfgPath, "--data-dir", d.DataDir,
		"--listen", "127.0.0.1:"+strconv.Itoa(harness.FreePort(t)))
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "in use by a running halun") {
		t.Errorf("second daemon: %v\n%s", err, b)
	}
	if !d.Alive() {
		t.Fatal("the first daemon died")
	}
}
