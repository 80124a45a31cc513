package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi/login"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

const validConfig = `node: {data_dir: /tmp/halun-test-unused}
portal_groups: [{tag: 1, portals: ["127.0.0.1:3260"]}]
volumes: [{name: v, backend: memory, size: 1MiB}]
targets: [{iqn: iqn.2003-01.org.example:t, luns: [{lun: 0, volume: v}], access: {all: true}}]
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersion(t *testing.T) {
	code, out, _ := runArgs("version")
	if code != 0 || !strings.HasPrefix(out, "halun ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "good.yaml", validConfig)
	bad := writeFile(t, "bad.yaml", strings.Replace(validConfig, "size: 1MiB", "size: 1MiB, block_size: 1000", 1))

	code, out, errs := runArgs("config", "check", good)
	if code != 0 || out != good+": OK\n" || errs != "" {
		t.Errorf("good: %d %q %q", code, out, errs)
	}
	code, out, errs = runArgs("config", "check", good, bad)
	if code != 1 || out != good+": OK\n" || errs != bad+":3: volumes[0].block_size: 1000 is not 512 or 4096\n" {
		t.Errorf("bad: %d %q %q", code, out, errs)
	}
	code, _, errs = runArgs("config", "check", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing: %d %q", code, errs)
	}
	code, _, errs = runArgs("config", "check")
	if code != 2 || !strings.Contains(errs, "requires at least 1 arg") {
		t.Errorf("no args: %d %q", code, errs)
	}
}

func TestConfigDefault(t *testing.T) {
	code, out, _ := runArgs("config", "default")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := config.Parse("stdout", []byte(out)); err != nil {
		t.Errorf("printed default does not parse: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"serve", "--bogus"}, {"nosuch"}, {"serve", "extra"}, {"serve", "--log-level", "loud"},
		{"serve", "--log-format", "xml"}, {"serve", "--log-format", ""}, {"witness", "--log-format", "logfmt"},
		{"serve", "--listen", "localhost"}} {
		code, _, errs := runArgs(args...)
		if code != 2 || !strings.HasPrefix(errs, "halun: ") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	bad := writeFile(t, "bad.yaml", strings.Replace(validConfig, "lun: 0", "lun: 99999", 1))
	code, _, errs := runArgs("serve", "--config", bad)
	if code != 1 || !strings.Contains(errs, bad+":4: targets[0].luns[0].lun: 99999 is not in 0..16383") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

func TestLoadConfig(t *testing.T) {
	twoGroups := writeFile(t, "two.yaml", strings.Replace(validConfig, "portal_groups: [", `portal_groups: [{tag: 2, portals: [":3270"]}, `, 1))
	file := writeFile(t, "file.yaml", strings.Replace(validConfig, "backend: memory", "backend: file, path: v.img", 1))
	tests := []struct {
		name  string
		o     serveOptions
		err   string
		check func(*config.Config) bool
	}{
		{"embedded default", serveOptions{listen: config.DefaultListen, dataDir: config.DefaultDataDir}, "", func(c *config.Config) bool {
			return c.Source == config.DefaultName && c.Volumes[0].Path == "halun-data/default.img" &&
				c.PortalGroups[0].Portals[0].String() == "127.0.0.1:3260"
		}},
		{"embedded default with flags", serveOptions{listen: "[::1]:3261", dataDir: "/srv/halun", listenSet: true, dataDirSet: true}, "",
			func(c *config.Config) bool {
				return c.Volumes[0].Path == "/srv/halun/default.img" && c.PortalGroups[0].Portals[0].String() == "[::1]:3261"
			}},
		{"config keeps its values when flags are not given", serveOptions{config: file, listen: config.DefaultListen, dataDir: "/ignored"}, "",
			func(c *config.Config) bool {
				return c.Node.DataDir == "/tmp/halun-test-unused" && c.Volumes[0].Path == "/tmp/halun-test-unused/v.img"
			}},
		{"config with flags", serveOptions{config: file, listen: ":3300", dataDir: "/d", listenSet: true, dataDirSet: true}, "",
			func(c *config.Config) bool {
				return c.Node.DataDir == "/d" && c.Volumes[0].Path == "/d/v.img" && c.PortalGroups[0].Portals[0].String() == ":3300"
			}},
		{"--listen with two portal groups", serveOptions{config: twoGroups, listen: ":3300", listenSet: true}, "--listen: the config has 2 portal groups", nil},
		{"two portal groups without --listen", serveOptions{config: twoGroups, listen: config.DefaultListen}, "", func(c *config.Config) bool {
			return len(c.PortalGroups) == 2
		}},
		{"bad --listen", serveOptions{listen: "nope"}, `--listen: "nope" is not host:port`, nil},
		{"empty --data-dir", serveOptions{config: file, dataDirSet: true}, "--data-dir: empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.o)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("want error %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
	var ue usageError
	if _, err := loadConfig(serveOptions{listen: "nope"}); !errors.As(err, &ue) {
		t.Errorf("bad --listen is not a usage error: %v", err)
	}
}

// TestParamDefaultsMatchLogin keeps the documented defaults of unset
// target params (config.DefaultParams) equal to what login offers.
func TestParamDefaultsMatchLogin(t *testing.T) {
	s := login.DefaultSettings()
	d := config.DefaultParams
	got := config.ParamValues{
		InitialR2T: s.InitialR2T, ImmediateData: s.ImmediateData,
		MaxRecvDataSegmentLength: uint32(s.MaxRecvDataSegmentLength), MaxBurstLength: uint32(s.MaxBurstLength),
		FirstBurstLength: uint32(s.FirstBurstLength), MaxOutstandingR2T: uint32(s.MaxOutstandingR2T),
		HeaderDigest: s.HeaderDigest, DataDigest: s.DataDigest,
	}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("login.DefaultSettings %+v\nconfig.DefaultParams  %+v", got, d)
	}
}

// TestWitnessBadArguments: halun witness refuses incomplete arguments
// with exit 2, before starting anything.
func TestWitnessBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"witness"}, "are required"},
		{[]string{"witness", "--name", "w", "--data-dir", "d", "--tls-dir", "t", "--peer-url", "https://127.0.0.3:2380",
			"--client-url", "https://127.0.0.3:2379", "--member", "a=https://127.0.0.1:2380"}, "--member w=https://127.0.0.3:2380 is missing"},
		{[]string{"witness", "--member", "a=http://x"}, "want NAME=https://HOST:PORT"},
	} {
		code, _, errs := runArgs(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.err)
		}
	}
}

func TestLogFormats(t *testing.T) {
	var b strings.Builder
	log, err := newLogger(&b, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("m", "took", 1500*time.Millisecond, "initiator", "iqn.x")
	if got := b.String(); !strings.Contains(got, `"took":"1.5s"`) || !strings.Contains(got, `"initiator":"iqn.x"`) || !strings.HasPrefix(got, "{") {
		t.Errorf("json: %s", got)
	}
	b.Reset()
	log, err = newLogger(&b, "warn", "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("m", "took", 1500*time.Millisecond)
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=m took=1.5s") {
		t.Errorf("text: %s", got)
	}
	for _, f := range []string{"", "JSON", "logfmt"} {
		var ue usageError
		if _, err := newLogger(&b, "info", f); !errors.As(err, &ue) {
			t.Errorf("--log-format %q: %v, want a usage error", f, err)
		}
	}
}
