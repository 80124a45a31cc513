package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/halun/halun/test/harness"
)

// agent runs ocf/halun with its parameters in the environment, as
// Pacemaker does.
type agent struct {
	path string
	env  []string
	pid  string // the pidfile
}

// newAgent copies the agent and a two-group config (group 1 this node's,
// group 2 the peer's) into a directory user nobody can read, as
// ocf-tester requires (it runs meta-data as nobody).
func newAgent(t *testing.T) (*agent, map[string]string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "halun-ocf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(repoFile("ocf/halun"))
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{path: filepath.Join(dir, "halun"), pid: filepath.Join(dir, "halun.pid")}
	if err := os.WriteFile(a.path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "halun.yaml")
	p1, p2 := harness.FreePort(t), harness.FreePort(t)
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`node:
  data_dir: %s
portal_groups:
  - {tag: 1, portals: ["127.0.0.1:%d"]}
  - {tag: 2, portals: ["127.0.0.1:%d"], alua: {state: standby}}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: ocf-v1}
targets:
  - iqn: iqn.2026-11.io.halun.test:ocf
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`, dataDir, p1, p2)), 0o644); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"binary": harness.Binary(t), "config": cfg, "data_dir": dataDir, "tpg": "1",
		"log_file": filepath.Join(dir, "halun.log"), "pidfile": a.pid}
	a.env = append(os.Environ(), "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=halun")
	for k, v := range params {
		a.env = append(a.env, "OCF_RESKEY_"+k+"="+v)
	}
	// Never leave a daemon behind, whatever failed.
	t.Cleanup(func() { a.run(t, "stop") })
	return a, params
}

// run runs an action and returns its exit code and output.
func (a *agent) run(t *testing.T, action string, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(a.path, action)
	cmd.Env = append(append([]string{}, a.env...), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("%s %s: %v", a.path, action, err)
	return 0, ""
}

func (a *agent) want(t *testing.T, action string, code int) {
	t.Helper()
	if got, out := a.run(t, action); got != code {
		t.Fatalf("%s: exit %d, want %d\n%s", action, got, code, out)
	}
}

// aluaState is the state `halun alua list` reports for a group.
func aluaState(t *testing.T, socket, group string) string {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "alua", "list", "--socket", socket).CombinedOutput()
	if err != nil {
		t.Fatalf("halun alua list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == group {
			return f[1]
		}
	}
	t.Fatalf("halun alua list has no group %s:\n%s", group, out)
	return ""
}

// TestOCFTester runs resource-agents' ocf-tester on ocf/halun with a real
// daemon: meta-data valid against ra-api-1.dtd, probes, start, monitor,
// promote and demote (twice each), stop, and idempotent start and stop.
func TestOCFTester(t *testing.T) {
	tester := harness.Need(t, "ocf-tester")
	harness.Need(t, "xmllint")
	a, params := newAgent(t)
	args := []string{"-n", "halun"}
	for k, v := range params {
		args = append(args, "-o", k+"="+v)
	}
	cmd := exec.Command(tester, append(args, a.path)...)
	cmd.Env = append(os.Environ(), "OCF_ROOT=/usr/lib/ocf")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		log, _ := os.ReadFile(params["log_file"])
		t.Fatalf("ocf-tester: %v\n%s\nhalun's log:\n%s", err, out, harness.Tail(string(log), 3000))
	}
}

// TestOCFPromoteDemote drives the agent as Pacemaker drives a promotable
// clone and checks each step against the daemon: start leaves this node's
// group unpromoted (standby) even though the config says active-optimized;
// promote makes it active-optimized and monitor then returns 8
// (OCF_RUNNING_PROMOTED); demote returns it to standby and monitor to 0;
// the peer's group is never touched; stop ends the process and monitor
// returns 7. A config halun refuses fails validate-all with 6.
func TestOCFPromoteDemote(t *testing.T) {
	a, params := newAgent(t)
	socket := filepath.Join(params["data_dir"], "halun.sock")

	a.want(t, "monitor", 7)
	a.want(t, "start", 0)
	pidText, err := os.ReadFile(a.pid)
	if err != nil {
		t.Fatalf("no pidfile after start: %v", err)
	}
	a.want(t, "monitor", 0)
	if s := aluaState(t, socket, "1"); s != "standby" {
		t.Fatalf("after start: group 1 is %s, want standby (unpromoted)", s)
	}

	a.want(t, "promote", 0)
	if s := aluaState(t, socket, "1"); s != "active-optimized" {
		t.Fatalf("after promote: group 1 is %s, want active-optimized", s)
	}
	a.want(t, "monitor", 8)

	a.want(t, "demote", 0)
	if s := aluaState(t, socket, "1"); s != "standby" {
		t.Fatalf("after demote: group 1 is %s, want standby", s)
	}
	a.want(t, "monitor", 0)
	if s := aluaState(t, socket, "2"); s != "standby" {
		t.Fatalf("the peer's group 2 is %s, want it untouched (standby)", s)
	}

	// A daemon that no longer answers fails monitor rather than passing it.
	var pid int
	fmt.Sscan(string(pidText), &pid)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	code, _ := a.run(t, "monitor", "OCF_RESKEY_CRM_meta_timeout=4000")
	syscall.Kill(pid, syscall.SIGCONT)
	if code != 1 {
		t.Fatalf("monitor of a stopped (SIGSTOP) daemon: exit %d, want 1 (OCF_ERR_GENERIC)", code)
	}

	a.want(t, "stop", 0)
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("halun pid %d still running after stop", pid)
	}
	a.want(t, "monitor", 7)
	a.want(t, "stop", 0)

	if err := os.WriteFile(params["config"], []byte("targets: [{iqn: bad}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.want(t, "validate-all", 6)
}
