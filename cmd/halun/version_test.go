package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/halun/halun", Version: "v0.0.0-20261201120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	for _, c := range []struct {
		name             string
		ldVersion, ldRev string
		bi               *debug.BuildInfo
		want             string
		short            string
	}{
		{"release build: ldflags win over build info", "v1.2.3", "fedcba9876543210fedcba9876543210fedcba98", vcs,
			"halun v1.2.3 commit fedcba9876543210fedcba9876543210fedcba98 go1.26.8 " + host, "v1.2.3 fedcba987654"},
		{"go build from git: module version and VCS revision", "", "", vcs,
			"halun v0.0.0-20261201120000-0123456789ab+dirty commit 0123456789abcdef0123456789abcdef01234567 (modified) go1.26.8 " + host,
			"v0.0.0-20261201120000-0123456789ab+dirty 0123456789ab+dirty"},
		{"go build without VCS stamping", "", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"halun (devel) go1.26.8 " + host, "(devel)"},
		{"no build info", "", "", nil, "halun (devel) " + runtime.Version() + " " + host, "(devel)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := describeBuild(c.ldVersion, c.ldRev, c.bi)
			if got := b.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
			if got := b.short(); got != c.short {
				t.Errorf("short() = %q, want %q", got, c.short)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, errs := runArgs("version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var b buildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if b.Version == "" || b.Go != runtime.Version() || b.OS != runtime.GOOS || b.Arch != runtime.GOARCH {
		t.Errorf("version --json = %+v", b)
	}
	// The text form says the same.
	_, text, _ := runArgs("version")
	if text != b.String()+"\n" {
		t.Errorf("version = %q, want %q", text, b.String()+"\n")
	}
}

func TestGendocs(t *testing.T) {
	dir := t.TempDir()
	man, compl := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	t.Setenv("SOURCE_DATE_EPOCH", "1796126400") // 2026-12-01
	if code, _, errs := runArgs("gendocs", "--man", man, "--completions", compl); code != 0 {
		t.Fatalf("gendocs: exit %d: %s", code, errs)
	}
	page, err := os.ReadFile(filepath.Join(man, "halun-serve.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `.TH "HALUN" "1" "Dec 2026"`) || !strings.Contains(string(page), "halun serve") {
		t.Errorf("halun-serve.1 is not a dated man page for halun serve:\n%.400s", page)
	}
	if _, err := os.Stat(filepath.Join(man, "halun-gendocs.1")); err == nil {
		t.Error("the hidden gendocs command got a man page")
	}
	for name, want := range map[string]string{"halun.bash": "complete -o default -F __start_halun halun",
		"_halun": "#compdef halun", "halun.fish": "complete -c halun"} {
		b, err := os.ReadFile(filepath.Join(compl, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", name, want)
		}
	}
	if code, _, errs := runArgs("gendocs"); code != 2 || !strings.Contains(errs, "--man") {
		t.Errorf("gendocs without a directory: exit %d %q", code, errs)
	}
}
