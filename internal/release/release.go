package release

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Maintainer is the .deb's Maintainer field until the project names a
// contact address of its own.
const Maintainer = "halun maintainers <maintainers@halun.invalid>"

// Inputs are the files of the repository the .deb installs as they are,
// by their path in the repository.
var Inputs = []string{
	"dist/systemd/halun.service",
	"dist/halun.yaml",
	"ocf/halun",
}

//go:embed postinst.sh
var postinst []byte

// Options says what to build.
type Options struct {
	Root    string   // the repository (holds go.mod)
	OutDir  string   // where the artifacts go; created if missing
	Version string   // e.g. v0.1.0; empty: from git (see GitVersion)
	Commit  string   // full revision; empty: git's HEAD
	Arches  []string // GOARCH values; empty: amd64 and arm64
	Log     io.Writer
}

// Artifacts are the files a release wrote, by architecture.
type Artifacts struct {
	Version  string
	Commit   string
	Binaries map[string]string // GOARCH → path
	Debs     map[string]string // GOARCH → path
	Sums     string            // path of SHA256SUMS
}

// Run builds the binaries and .debs of opts.Arches into opts.OutDir and
// writes SHA256SUMS over them.
func Run(ctx context.Context, opts Options) (*Artifacts, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if len(opts.Arches) == 0 {
		opts.Arches = []string{"amd64", "arm64"}
	}
	if err := CheckInputs(opts.Root); err != nil {
		return nil, err
	}
	// Files get the commit's time, so a rebuild of one commit gives the
	// same man pages and package contents.
	mtime := time.Now().UTC().Truncate(time.Second)
	if opts.Version == "" || opts.Commit == "" {
		v, c, t, err := GitVersion(ctx, opts.Root)
		if err != nil {
			return nil, fmt.Errorf("release: version from git (or give a version and commit): %w", err)
		}
		if opts.Version == "" {
			opts.Version = v
		}
		if opts.Commit == "" {
			opts.Commit = c
		}
		mtime = t
	}
	debVersion, err := DebVersion(opts.Version)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(opts.Commit, " \t\n'\"") {
		return nil, fmt.Errorf("release: commit %q is not a revision", opts.Commit)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	work, err := os.MkdirTemp("", "halun-release-")
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer os.RemoveAll(work)

	a := &Artifacts{Version: opts.Version, Commit: opts.Commit, Binaries: map[string]string{}, Debs: map[string]string{}}
	for _, arch := range opts.Arches {
		bin := filepath.Join(opts.OutDir, "halun-linux-"+arch)
		fmt.Fprintf(opts.Log, "building %s\n", bin)
		if err := BuildBinary(ctx, opts.Root, bin, arch, opts.Version, opts.Commit); err != nil {
			return nil, err
		}
		a.Binaries[arch] = bin
	}

	// The man pages and completions come from a binary this machine can
	// run: the release's own when it is built for this machine.
	host, ok := a.Binaries[runtime.GOARCH]
	if !ok || runtime.GOOS != "linux" {
		host = filepath.Join(work, "halun-host")
		if err := buildGo(ctx, opts.Root, host, runtime.GOOS, runtime.GOARCH, opts.Version, opts.Commit); err != nil {
			return nil, err
		}
	}
	docs, err := generateDocs(ctx, host, work, mtime)
	if err != nil {
		return nil, err
	}
	copyright := filepath.Join(work, "copyright")
	if err := os.WriteFile(copyright, []byte(copyrightText), 0o644); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}

	for _, arch := range opts.Arches {
		p, err := buildDeb(opts, arch, debVersion, mtime, a.Binaries[arch], docs, copyright, work)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "packaged %s\n", p)
		a.Debs[arch] = p
	}

	var all []string
	for _, m := range []map[string]string{a.Binaries, a.Debs} {
		for _, p := range m {
			all = append(all, p)
		}
	}
	a.Sums = filepath.Join(opts.OutDir, "SHA256SUMS")
	if err := writeSums(a.Sums, all); err != nil {
		return nil, err
	}
	return a, nil
}

// CheckInputs reports every file of Inputs missing under root.
func CheckInputs(root string) error {
	var missing []string
	for _, p := range Inputs {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		if abs, err := filepath.Abs(root); err == nil {
			root = abs
		}
		return fmt.Errorf("release: the .deb needs %s, missing in %s", strings.Join(missing, ", "), root)
	}
	return nil
}

// BuildBinary builds the static linux/goarch halun release binary at out,
// with version and commit set in main.
func BuildBinary(ctx context.Context, root, out, goarch, version, commit string) error {
	return buildGo(ctx, root, out, "linux", goarch, version, commit)
}

func buildGo(ctx context.Context, root, out, goos, goarch, version, commit string) error {
	ldflags := "-s -w -X main.version=" + version + " -X main.commit=" + commit
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/halun")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("release: go build for %s/%s: %w\n%s", goos, goarch, err, b)
	}
	return nil
}

// GitVersion is the version, commit and commit time of root's HEAD: its
// tag when HEAD is tagged v*, else v0.0.0-git.<commit time>.<12 digits of
// the commit>, which Debian orders by time before any v0.0.0 release. A
// work tree with uncommitted changes to tracked files gets ".dirty" (or
// "+dirty" after a tag).
func GitVersion(ctx context.Context, root string) (version, commit string, when time.Time, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out)), nil
	}
	if commit, err = git("rev-parse", "HEAD"); err != nil {
		return "", "", time.Time{}, err
	}
	ct, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return "", "", time.Time{}, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("commit time %q: %w", ct, err)
	}
	when = time.Unix(sec, 0).UTC()
	status, err := git("status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", "", time.Time{}, err
	}
	dirty := status != ""
	if tag, err := git("describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"); err == nil && tag != "" {
		if dirty {
			tag += "+dirty"
		}
		return tag, commit, when, nil
	}
	version = "v0.0.0-git." + when.Format("20060102150405") + "." + commit[:12]
	if dirty {
		version += ".dirty"
	}
	return version, commit, when, nil
}

var debVersionRE = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`)

// DebVersion turns a release version into a Debian version: no leading v,
// and the pre-release after "-" behind a "~" so that it sorts before the
// release (v1.2.0-rc1 → 1.2.0~rc1).
func DebVersion(v string) (string, error) {
	d := strings.TrimPrefix(v, "v")
	if i := strings.IndexByte(d, '-'); i >= 0 {
		d = d[:i] + "~" + strings.ReplaceAll(d[i+1:], "-", ".")
	}
	if !debVersionRE.MatchString(d) {
		return "", fmt.Errorf("release: version %q does not make a Debian version (%q): it must start with a digit, after an optional v", v, d)
	}
	return d, nil
}

// docs are the generated, packaged documentation files.
type docs struct {
	manPages        []string // gzipped, *.1.gz
	bash, zsh, fish string
}

// generateDocs runs the host binary's hidden gendocs and gzips the pages.
func generateDocs(ctx context.Context, bin, work string, mtime time.Time) (*docs, error) {
	man, compl := filepath.Join(work, "man"), filepath.Join(work, "completions")
	cmd := exec.CommandContext(ctx, bin, "gendocs", "--man", man, "--completions", compl)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(mtime.Unix(), 10))
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("release: %s gendocs: %w\n%s", bin, err, b)
	}
	pages, err := filepath.Glob(filepath.Join(man, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("release: gendocs wrote no man pages into %s", man)
	}
	d := &docs{bash: filepath.Join(compl, "halun.bash"), zsh: filepath.Join(compl, "_halun"), fish: filepath.Join(compl, "halun.fish")}
	for _, p := range pages {
		gz, err := gzipFile(p)
		if err != nil {
			return nil, err
		}
		d.manPages = append(d.manPages, gz)
	}
	return d, nil
}

// gzipFile writes p.gz at best compression, with no name or time in the
// header (as Debian's gzip -n), and returns its path.
func gzipFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return "", fmt.Errorf("release: gzip %s: %w", p, err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("release: gzip %s: %w", p, err)
	}
	if err := os.WriteFile(p+".gz", buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return p + ".gz", nil
}

// buildDeb packages arch's binary with the repository's and generated files
// and returns the .deb's path.
func buildDeb(opts Options, arch, debVersion string, mtime time.Time, bin string, d *docs, copyright, work string) (string, error) {
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: mtime}}
	}
	repo := func(p string) string { return filepath.Join(opts.Root, filepath.FromSlash(p)) }
	contents := files.Contents{
		file(bin, "/usr/bin/halun", 0o755),
		file(repo("dist/systemd/halun.service"), "/lib/systemd/system/halun.service", 0o644),
		file(repo("ocf/halun"), "/usr/lib/ocf/resource.d/halun/halun", 0o755),
		file(d.bash, "/usr/share/bash-completion/completions/halun", 0o644),
		file(d.zsh, "/usr/share/zsh/vendor-completions/_halun", 0o644),
		file(d.fish, "/usr/share/fish/vendor_completions.d/halun.fish", 0o644),
		file(copyright, "/usr/share/doc/halun/copyright", 0o644),
		file(repo("README.md"), "/usr/share/doc/halun/README.md", 0o644),
	}
	conf := file(repo("dist/halun.yaml"), "/etc/halun/halun.yaml", 0o644)
	conf.Type = files.TypeConfigNoReplace
	contents = append(contents, conf)
	for _, p := range d.manPages {
		contents = append(contents, file(p, "/usr/share/man/man1/"+filepath.Base(p), 0o644))
	}
	sort.Slice(contents, func(i, j int) bool { return contents[i].Destination < contents[j].Destination })

	script := filepath.Join(work, "postinst")
	if err := os.WriteFile(script, postinst, 0o755); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "halun",
		Arch:          arch,
		Platform:      "linux",
		Version:       debVersion,
		VersionSchema: "none", // DebVersion already made it a Debian version
		Section:       "net",
		Priority:      "optional",
		Maintainer:    Maintainer,
		Description: "iSCSI target in one static binary\n" +
			"halun exports files, block devices or memory as SCSI disks over iSCSI\n" +
			"(RFC 7143), with access control, CHAP, ALUA, persistent reservations and\n" +
			"synchronous replication with failover between nodes.",
		MTime: mtime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Scripts:  nfpm.Scripts{PostInstall: script},
		},
	})
	out := filepath.Join(opts.OutDir, deb.Default.ConventionalFileName(info))
	f, err := os.Create(out)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("release: packaging %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	return out, nil
}

// writeSums writes sha256sum's format ("<hex>  <name>") for paths, sorted
// by name, so that `sha256sum -c SHA256SUMS` checks them in their directory.
func writeSums(out string, paths []string) error {
	sort.Slice(paths, func(i, j int) bool { return filepath.Base(paths[i]) < filepath.Base(paths[j]) })
	var b strings.Builder
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("release: hashing %s: %w", p, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// copyrightText is /usr/share/doc/halun/copyright. The repository has no
// LICENSE file yet; this says so rather than invent one.
const copyrightText = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: halun
Comment: halun, an iSCSI target in one static binary. Its repository has no
 LICENSE file yet, so no license is granted here; this file will name it
 once the project chooses one.

Files: *
Copyright: the halun authors
License: none-chosen-yet
 No license has been chosen for halun yet.
`
