package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/internal/bench"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/test/harness"
)

func TestBenchBadArgumentsExitTwo(t *testing.T) {
	p, tg := []string{"--portal", "127.0.0.1:1"}, []string{"--target", "iqn.2003-01.org.example:t"}
	args := func(extra ...string) []string { return append(append(append([]string{}, p...), tg...), extra...) }
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"no --portal", tg, "--portal is required"},
		{"no --target", p, "--target is required"},
		{"portal without port", []string{"--portal", "127.0.0.1", "--target", "t"}, `--portal "127.0.0.1": want HOST:PORT`},
		{"no workers", args("--workers", "0"), "--workers must be positive"},
		{"bad block size", args("--block-size", "4k"), "--block-size"},
		{"odd block size", args("--block-size", "100"), "not a positive multiple of 32"},
		{"bad size", args("--size", "lots"), "--size"},
		{"zero size", args("--size", "0"), "--size must be positive"},
		{"read percent", args("--read-percent", "120"), "not within 0-100"},
		{"negative rate", args("--rate", "-1"), "rate -1 is negative"},
		{"no interval", args("--interval", "0s"), "--interval must be positive"},
		{"negative duration", args("--duration", "-1s"), "must not be negative"},
		{"chap user alone", args("--chap-user", "u"), "go together"},
		{"chap secret alone", args("--chap-secret-file", "s"), "go together"},
		{"argument", args("extra"), "unknown command"},
		{"unknown flag", args("--queue-depth", "8"), "unknown flag: --queue-depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runArgs(append([]string{"bench"}, tt.args...)...)
			if code != 2 || out != "" || !strings.HasPrefix(errs, "halun: ") || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, %q, %q; want 2 and %q", code, out, errs, tt.err)
			}
		})
	}
}

// benchTarget serves a 1 MiB memory LUN in-process and returns its portal;
// targetExtra is added to the target's entry.
func benchTarget(t *testing.T, targetExtra ...string) string {
	cfg, err := config.ParseWith(t.Name()+".yaml", []byte(fmt.Sprintf(`portal_groups: [{tag: 1, portals: ["127.0.0.1:%d"]}]
volumes: [{name: v, backend: memory, size: 1MiB, serial: bench-cmd-0001}]
targets: [{iqn: iqn.2003-01.org.example:t, luns: [{lun: 0, volume: v}], access: {all: true}%s}]
`, harness.FreePort(t), strings.Join(targetExtra, ""))), config.Overrides{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return harness.ServeInProcess(t, cfg, harness.InProcessOptions{}).Addr
}

func TestBenchRunsAndVerifies(t *testing.T) {
	addr := benchTarget(t)
	code, out, errs := runArgs("bench", "--portal", addr, "--target", "iqn.2003-01.org.example:t",
		"--duration", "300ms", "--interval", "100ms", "--workers", "2", "--size", "256KiB")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"ops/s", "verify errors  0", "longest pause", "p50", "path switches  1", "first path: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchJSON(t *testing.T) {
	addr := benchTarget(t)
	code, out, errs := runArgs("bench", "--json", "--portal", addr, "--target", "iqn.2003-01.org.example:t",
		"--duration", "200ms", "--read-percent", "0", "--block-size", "8KiB")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	var r bench.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if r.Ops == 0 || r.Reads != 0 || r.Writes != r.Ops || r.BlockSize != 8192 || r.Blocks != 128 || r.VerifyErrors != 0 {
		t.Errorf("result %+v", r)
	}
	if !strings.Contains(errs, "halun bench:") {
		t.Errorf("no progress on stderr: %q", errs)
	}
}

func TestBenchFailsWithoutATarget(t *testing.T) {
	addr := benchTarget(t)
	code, _, errs := runArgs("bench", "--portal", addr, "--target", "iqn.2003-01.org.example:nosuch", "--duration", "100ms", "--op-timeout", "1s")
	if code != 1 || !strings.Contains(errs, "halun: bench: READ CAPACITY(16)") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

func TestBenchSecretFileIsReadNotPrinted(t *testing.T) {
	addr := benchTarget(t, `, chap: {user: u, secret: "s3cr3t-value-1234"}`)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-value-1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The secret file's line is the secret; it must appear nowhere.
	code, out, errs := runArgs("bench", "--portal", addr, "--target", "iqn.2003-01.org.example:t", "--duration", "100ms",
		"--chap-user", "u", "--chap-secret-file", secret)
	if strings.Contains(out+errs, "s3cr3t") {
		t.Errorf("the secret was printed:\n%s\n%s", out, errs)
	}
	if code != 0 {
		t.Errorf("with CHAP: exit %d, %q", code, errs)
	}
	code, _, errs = runArgs("bench", "--portal", addr, "--target", "iqn.2003-01.org.example:t", "--duration", "100ms")
	if code != 1 || !strings.Contains(errs, "authentication failure") {
		t.Errorf("without CHAP: exit %d, %q", code, errs)
	}
	code, _, errs = runArgs("bench", "--portal", addr, "--target", "iqn.2003-01.org.example:t",
		"--chap-user", "u", "--chap-secret-file", secret+".missing")
	if code != 1 || !strings.Contains(errs, "CHAP secret") {
		t.Errorf("missing secret file: exit %d, %q", code, errs)
	}
}
