package release

import (
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/release"
)

const (
	testVersion = "v9.8.7-rc1"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// repoRoot is the repository this test runs in (two levels up).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkStatic fails unless path is an ELF executable for machine with no
// program interpreter and no shared libraries: a static binary.
func checkStatic(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has %v: not a static binary", path, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: links %v", path, libs)
	}
}

var hostMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func TestDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed (apt-get install dpkg): cannot inspect the .deb")
	}
	machine, ok := hostMachine[runtime.GOARCH]
	if runtime.GOOS != "linux" || !ok {
		t.Skipf("halun releases are for linux/amd64 and linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	root := repoRoot(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	a, err := release.Run(ctx, release.Options{Root: root, OutDir: out, Version: testVersion, Commit: testCommit,
		Arches: []string{runtime.GOARCH}})
	if err != nil {
		t.Fatal(err)
	}
	debPath := a.Debs[runtime.GOARCH]
	if want := "halun_9.8.7~rc1_" + runtime.GOARCH + ".deb"; filepath.Base(debPath) != want {
		t.Errorf("package file %s, want %s", filepath.Base(debPath), want)
	}

	info := dpkgDeb(t, "-I", debPath)
	for _, want := range []string{"Package: halun\n", "Version: 9.8.7~rc1\n", "Architecture: " + runtime.GOARCH + "\n",
		"Maintainer: ", "Description: iSCSI target"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	if strings.Contains(info, "Depends:") {
		t.Errorf("a static binary's package depends on something:\n%s", info)
	}
	conffiles := dpkgDeb(t, "-I", debPath, "conffiles")
	if strings.TrimSpace(conffiles) != "/etc/halun/halun.yaml" {
		t.Errorf("conffiles = %q, want /etc/halun/halun.yaml", conffiles)
	}

	// dpkg-deb -c lines: "-rwxr-xr-x root/root 27902114 2026-12-07 06:02 ./usr/bin/halun".
	modes := map[string]string{}
	for _, line := range strings.Split(dpkgDeb(t, "-c", debPath), "\n") {
		if f := strings.Fields(line); len(f) >= 6 {
			modes[strings.TrimPrefix(f[len(f)-1], ".")] = f[0]
		}
	}
	for path, mode := range map[string]string{
		"/usr/bin/halun":                                  "-rwxr-xr-x",
		"/lib/systemd/system/halun.service":               "-rw-r--r--",
		"/usr/lib/ocf/resource.d/halun/halun":             "-rwxr-xr-x",
		"/etc/halun/halun.yaml":                           "-rw-r--r--",
		"/usr/share/man/man1/halun.1.gz":                  "-rw-r--r--",
		"/usr/share/man/man1/halun-serve.1.gz":            "-rw-r--r--",
		"/usr/share/man/man1/halun-version.1.gz":          "-rw-r--r--",
		"/usr/share/bash-completion/completions/halun":    "-rw-r--r--",
		"/usr/share/zsh/vendor-completions/_halun":        "-rw-r--r--",
		"/usr/share/fish/vendor_completions.d/halun.fish": "-rw-r--r--",
		"/usr/share/doc/halun/copyright":                  "-rw-r--r--",
	} {
		if got, ok := modes[path]; !ok {
			t.Errorf("the .deb lacks %s", path)
		} else if got != mode {
			t.Errorf("%s: mode %s, want %s", path, got, mode)
		}
	}
	if _, ok := modes["/usr/share/man/man1/halun-gendocs.1.gz"]; ok {
		t.Error("the hidden gendocs command has a man page")
	}

	// Unpacked, the files are the repository's and the binary says which
	// build it is.
	dest := t.TempDir()
	dpkgDeb(t, "-x", debPath, dest)
	for src, dst := range map[string]string{"dist/systemd/halun.service": "lib/systemd/system/halun.service",
		"dist/halun.yaml": "etc/halun/halun.yaml", "ocf/halun": "usr/lib/ocf/resource.d/halun/halun"} {
		want, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dest, dst)); err != nil || string(got) != string(want) {
			t.Errorf("/%s is not %s (%v)", dst, src, err)
		}
	}
	bin := filepath.Join(dest, "usr", "bin", "halun")
	checkStatic(t, bin, machine)
	got, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("halun version: %v\n%s", err, got)
	}
	want := "halun " + testVersion + " commit " + testCommit + " " + runtime.Version() + " linux/" + runtime.GOARCH + "\n"
	if string(got) != want {
		t.Errorf("halun version = %q, want %q", got, want)
	}

	sums, err := os.ReadFile(a.Sums)
	if err != nil {
		t.Fatal(err)
	}
	check := exec.Command("sha256sum", "--check", "--strict", filepath.Base(a.Sums))
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, b)
	}
	if n := strings.Count(string(sums), "\n"); n != 2 {
		t.Errorf("SHA256SUMS has %d lines, want the binary and the .deb:\n%s", n, sums)
	}
}

// TestArm64Binary builds the arm64 release binary (without running it; a
// .deb for it is the same packaging as the host's).
func TestArm64Binary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "halun-linux-arm64")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := release.BuildBinary(ctx, repoRoot(t), bin, "arm64", testVersion, testCommit); err != nil {
		t.Fatal(err)
	}
	checkStatic(t, bin, elf.EM_AARCH64)
}

func TestMissingInputs(t *testing.T) {
	root := t.TempDir()
	err := release.CheckInputs(root)
	if err == nil {
		t.Fatal("no error for a tree without the unit, config and agent")
	}
	for _, p := range release.Inputs {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%q does not name %s", err, p)
		}
	}
	_, err = release.Run(context.Background(), release.Options{Root: root, OutDir: t.TempDir(), Version: "v1.0.0", Commit: "abc"})
	if err == nil || !strings.Contains(err.Error(), "dist/halun.yaml") {
		t.Errorf("Run without inputs: %v", err)
	}
}

func TestDebVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":       "1.2.3",
		"1.2.3":        "1.2.3",
		"v1.2.0-rc1":   "1.2.0~rc1",
		"v1.2.3+dirty": "1.2.3+dirty",
		"v0.0.0-git.20261207060225.be272a36335a.dirty": "0.0.0~git.20261207060225.be272a36335a.dirty",
	} {
		if got, err := release.DebVersion(in); err != nil || got != want {
			t.Errorf("DebVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "vx", "be272a3", "1.0 beta", "1.0_1"} {
		if got, err := release.DebVersion(bad); err == nil {
			t.Errorf("DebVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestGitVersion checks the version a release without -version gets, in a
// scratch repository: a development version from the commit, then its tag.
func TestGitVersion(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-12-01T12:00:00Z", "GIT_COMMITTER_DATE=2026-12-01T12:00:00Z",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-q", "-m", "one")
	head := git("rev-parse", "HEAD")
	ctx := context.Background()
	v, c, when, err := release.GitVersion(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v0.0.0-git.20261201120000." + head[:12]; v != want || c != head || !when.Equal(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("untagged: %q %q %v, want %q %q 2026-12-01 12:00", v, c, when, want, head)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, _, _, _ := release.GitVersion(ctx, dir); !strings.HasSuffix(v, ".dirty") {
		t.Errorf("modified tree: %q has no .dirty", v)
	}
	git("checkout", "-q", "f")
	git("tag", "v1.4.0")
	if v, _, _, _ := release.GitVersion(ctx, dir); v != "v1.4.0" {
		t.Errorf("tagged: %q, want v1.4.0", v)
	}
}

// TestGoBuildFromGit: a plain `go build` (no -ldflags) from a git clone
// reports the module version and VCS revision Go stamps into the binary.
func TestGoBuildFromGit(t *testing.T) {
	root := repoRoot(t)
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skip("not a git clone (Go stamps VCS information only where .git is a directory, not in a git worktree)")
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "halun")
	// -trimpath and CGO_ENABLED=0 as in a release, so the compiled packages
	// come from the build cache and only the link is new.
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/halun")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("halun version --json: %v", err)
	}
	var b struct{ Version, Commit string }
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(b.Version, "v") || b.Commit != strings.TrimSpace(string(head)) {
		t.Errorf("go build from git: version %q commit %q, want a module version and %s", b.Version, b.Commit, head)
	}
}
