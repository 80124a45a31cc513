package service

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/test/harness"
)

// repoFile is the path of a file of the repository.
func repoFile(rel string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", rel)
}

// verifyUnit runs systemd-analyze verify on unit text, saved as
// halun.service in a temp dir with /usr/bin/halun replaced by a freshly
// built binary (verify checks that every Exec path is executable). It
// returns verify's output; a clean unit prints nothing, and verify exits
// 0 even for unknown keys and values, so the output is what to check.
func verifyUnit(t *testing.T, text string) (string, error) {
	t.Helper()
	analyze := harness.Need(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "halun")
	b, err := os.ReadFile(harness.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, "/usr/bin/halun", bin)
	unit := filepath.Join(dir, "halun.service")
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	return string(out), err
}

// TestUnitVerifies checks dist/systemd/halun.service with systemd's own
// parser: every key known, every value valid, every command executable.
// A broken copy must be reported, so the check is known to look.
func TestUnitVerifies(t *testing.T) {
	text, err := os.ReadFile(repoFile("dist/systemd/halun.service"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := verifyUnit(t, string(text))
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify halun.service: %v\n%s", err, out)
	}
	broken := strings.Replace(string(text), "Type=notify", "Type=notifyy", 1)
	broken = strings.Replace(broken, "ProtectSystem=strict", "ProtectSystem=strict\nProtectEverything=yes", 1)
	out, _ = verifyUnit(t, broken)
	if !strings.Contains(out, "notifyy") || !strings.Contains(out, "ProtectEverything") {
		t.Fatalf("systemd-analyze verify did not report a bad Type= and an unknown key:\n%s", out)
	}
}

// unitKeys parses the [Service] section of a unit: key → values in order.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			keys[k] = append(keys[k], v)
		}
	}
	return keys
}

// TestUnitMatchesConfig checks that the unit and the example config agree:
// the unit serves /etc/halun/halun.yaml with the packaged binary, reloads
// through the admin socket the daemon opens in the config's data
// directory, may write that directory, and the config itself is valid.
func TestUnitMatchesConfig(t *testing.T) {
	keys := unitKeys(t, repoFile("dist/systemd/halun.service"))
	want := map[string]string{
		"Type":      "notify",
		"ExecStart": "/usr/bin/halun serve --config /etc/halun/halun.yaml",
		"Restart":   "on-failure",
	}
	for k, v := range want {
		if got := keys[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	cfg, err := config.Load(repoFile("dist/halun.yaml"))
	if err != nil {
		t.Fatalf("dist/halun.yaml: %v", err)
	}
	sock := filepath.Join(cfg.Node.DataDir, admin.SocketName)
	if got := keys["ExecReload"]; len(got) != 1 || got[0] != "/usr/bin/halun reload --socket "+sock {
		t.Errorf("ExecReload=%q, want halun reload on the daemon's admin socket %s", got, sock)
	}
	rw := strings.Join(keys["ReadWritePaths"], " ")
	if !strings.Contains(" "+rw+" ", " "+cfg.Node.DataDir+" ") {
		t.Errorf("ReadWritePaths=%q does not include the data directory %s", rw, cfg.Node.DataDir)
	}
	if keys["StateDirectory"][0] != filepath.Base(cfg.Node.DataDir) || filepath.Dir(cfg.Node.DataDir) != "/var/lib" {
		t.Errorf("StateDirectory=%v is not the config's data directory %s", keys["StateDirectory"], cfg.Node.DataDir)
	}
	if got := keys["CapabilityBoundingSet"]; len(got) != 1 || got[0] != "CAP_NET_BIND_SERVICE" {
		t.Errorf("CapabilityBoundingSet=%q, want only CAP_NET_BIND_SERVICE", got)
	}
	out, err := exec.Command(harness.Binary(t), "config", "check", repoFile("dist/halun.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("halun config check dist/halun.yaml: %v\n%s", err, out)
	}
}
