// Package conformance runs libiscsi's iscsi-test-cu suite against real
// halun daemons, one per volume profile (test/conformance/profiles), one
// iscsi-test-cu process per suite, and compares every test's outcome with
// the profile's expected-results file (expected-<profile>.txt), so any
// regression fails `make test`. Across the profiles every test must pass
// at least once, except those knownNeverPass names with the reason.
package conformance

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/test/harness"
)

// Outcome of one libiscsi test.
const (
	Pass  = "pass"
	Fail  = "fail"
	Skip  = "skip"  // CUnit counts these as passed; the log says [SKIPPED]
	Error = "error" // the suite process crashed or timed out before the test ended
)

var rank = map[string]int{Error: 0, Fail: 1, Skip: 2, Pass: 3}

// profile is one volume configuration and the part of the suite run
// against it.
type profile struct {
	name string // profiles/<name>.yaml, expected-<name>.txt
	// only lists "Suite" or "Suite.Test" entries to run; nil runs every
	// suite.
	only []string
}

var profiles = []profile{
	{name: "thin512"},
	{name: "thin4096"},
	{name: "thin512e", only: []string{"WriteSame10", "WriteSame16", "CompareAndWrite"}},
	{name: "thick512", only: []string{"WriteSame10", "WriteSame16"}},
	{name: "readonly", only: []string{"ReadOnly", "Sanitize.Readonly"}},
	{name: "removable", only: []string{"PreventAllow", "StartStopUnit", "NoMedia"}},
}

// notRun are tests no profile runs, with the reason. They count as never
// passing, so each is in knownNeverPass too.
var notRun = map[string]bool{}

// Ports the profile configs use; the test rewrites them to free ports.
const (
	profilePortal1 = "127.0.0.1:3260"
	profilePortal2 = "127.0.0.1:3261"
)

// secondInitiator is the initiator name of the second session the
// reservation tests open (-I).
const secondInitiator = "iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2"

// ownProcess names tests run in an iscsi-test-cu process of their own,
// not with the rest of their suite, with the reason.
var ownProcess = map[string]string{
	// The test before it in the suite, Sanitize.Reservations, takes a
	// RESERVE(6) on a second connection and ends by closing that socket
	// without a logout; Sanitize.Reset's SANITIZE follows within
	// microseconds on the first connection. The reservation goes when the
	// target sees the connection close, which no target can order before
	// a command on another connection: on a loaded machine the SANITIZE
	// can arrive first and meet RESERVATION CONFLICT. A process of its own
	// starts after the other has exited.
	"ALL.Sanitize.Reset": "follows a socket close that releases a RESERVE(6)",
}

// knownNeverPass names the tests no profile passes, with the reason taken
// from libiscsi's source; the test fails if another one never passes.
var knownNeverPass = map[string]string{}

// knownFail names, per profile, tests that fail against any correct
// target on that profile, with the reason from libiscsi's source. They are
// the only failures allowed.
var knownFail = map[string]map[string]string{
	"thin4096": {
		// iscsi-support.c verify_write_works: WRITE(10) of one block
		// with a hard-coded 512-byte block size, i.e. 512 bytes of
		// data-out for a CDB asking 4096: a partial block no target
		// can write (LIO refuses it the same way). The suites pass
		// on the 512-byte profiles.
		"ALL.ProutReserve.AccessEA":   "verify_write_works assumes 512-byte blocks",
		"ALL.ProutReserve.AccessWE":   "verify_write_works assumes 512-byte blocks",
		"ALL.ProutReserve.AccessEARO": "verify_write_works assumes 512-byte blocks",
		"ALL.ProutReserve.AccessWERO": "verify_write_works assumes 512-byte blocks",
		"ALL.ProutReserve.AccessEAAR": "verify_write_works assumes 512-byte blocks",
		"ALL.ProutReserve.AccessWEAR": "verify_write_works assumes 512-byte blocks",
	},
}

func expectedFile(p string) string { return "expected-" + p + ".txt" }

// tests lists ALL.<Suite>.<Test> names per suite.
func tests(t *testing.T, bin string) map[string][]string {
	out, err := exec.Command(bin, "-l").Output()
	if err != nil {
		t.Fatalf("iscsi-test-cu -l: %v", err)
	}
	m := map[string][]string{}
	re := regexp.MustCompile(`^ALL\.([A-Za-z0-9_]+)\.([A-Za-z0-9_-]+)$`)
	for _, line := range strings.Split(string(out), "\n") {
		if r := re.FindStringSubmatch(strings.TrimSpace(line)); r != nil {
			m[r[1]] = append(m[r[1]], r[2])
		}
	}
	return m
}

var (
	testLine = regexp.MustCompile(`^\s*Test: (\S+) \.\.\.`)
	verdicts = regexp.MustCompile(`passed|FAILED`)
)

// verdict classifies one test's output. CUnit prints "passed" or "FAILED"
// when the test ends; the test's own log lines may contain "[FAILED]" for
// expected failures, and the next test's setup may log "[SKIPPED]" after the
// verdict, so only a "[SKIPPED]" before CUnit's "passed" makes a skip.
func verdict(body string) string {
	for _, loc := range verdicts.FindAllStringIndex(body, -1) {
		if loc[0] > 0 && body[loc[0]-1] == '[' || loc[1] < len(body) && body[loc[1]] == ']' {
			continue
		}
		if body[loc[0]:loc[1]] == "FAILED" {
			return Fail
		}
		if strings.Contains(body[:loc[0]], "[SKIPPED]") {
			return Skip
		}
		return Pass
	}
	return Error
}

// parse reads CUnit's console output: "  Test: Name ...passed|FAILED",
// with "[SKIPPED]" logged in between for skips.
func parse(out string) map[string]string {
	res := map[string]string{}
	cur := ""
	var body strings.Builder
	flush := func() {
		if cur == "" {
			return
		}
		res[cur] = verdict(body.String())
		cur = ""
		body.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := testLine.FindStringSubmatch(line); m != nil {
			flush()
			cur = m[1]
			body.WriteString(line[len(m[0]):])
			body.WriteByte('\n')
			continue
		}
		if strings.HasPrefix(line, "Run Summary:") {
			flush()
			continue
		}
		if cur != "" {
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	return res
}

func readExpected(t *testing.T, expectedFile string) map[string]string {
	f, err := os.Open(expectedFile)
	if err != nil {
		t.Fatalf("expected results: %v", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 2 || rank[fs[1]] == 0 && fs[1] != Error {
			t.Fatalf("%s:%d: want \"ALL.Suite.Test pass|fail|skip|error\", got %q", expectedFile, n, line)
		}
		m[fs[0]] = fs[1]
	}
	return m
}

func writeExpected(t *testing.T, expectedFile, prof string, got map[string]string) {
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "# libiscsi iscsi-test-cu results against `halun serve --config profiles/%s.yaml`.\n", prof)
	b.WriteString("# Regenerate with: HALUN_CONFORMANCE_UPDATE=1 go test ./test/conformance\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, got[n])
	}
	if err := os.WriteFile(expectedFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLibiscsiSuite runs every profile and compares with the expected
// results. HALUN_CONFORMANCE_PROFILE=name runs only that profile,
// HALUN_CONFORMANCE_UPDATE=1 rewrites the expected files, and
// HALUN_CONFORMANCE_LOGS=dir keeps each suite's output.
func TestLibiscsiSuite(t *testing.T) {
	bin := harness.Need(t, "iscsi-test-cu")
	all := tests(t, bin)
	only := os.Getenv("HALUN_CONFORMANCE_PROFILE")
	passed := map[string]bool{}
	ran := 0
	for _, p := range profiles {
		if only != "" && p.name != only {
			continue
		}
		ran++
		t.Run(p.name, func(t *testing.T) {
			for name, r := range runProfile(t, bin, p, all) {
				if r == Pass {
					passed[name] = true
				}
			}
		})
	}
	if ran != len(profiles) {
		return
	}
	var never []string
	for suite, names := range all {
		for _, n := range names {
			full := "ALL." + suite + "." + n
			if !passed[full] && knownNeverPass[full] == "" {
				never = append(never, full)
			}
		}
	}
	sort.Strings(never)
	if len(never) > 0 {
		t.Errorf("tests no profile passes (make them pass or explain them in knownNeverPass):\n%s", strings.Join(never, "\n"))
	}
}

// profileConfig writes the profile's config with its two portals moved to
// free ports and returns the file and the two portal addresses.
func profileConfig(t *testing.T, name string) (file, p1, p2 string) {
	b, err := os.ReadFile(filepath.Join("profiles", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p1 = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	p2 = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	for p2 == p1 {
		p2 = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	}
	s := strings.ReplaceAll(string(b), profilePortal1, p1)
	s = strings.ReplaceAll(s, profilePortal2, p2)
	file = filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, p1, p2
}

// selection returns the suites to run with the -t pattern of each, and
// the tests each reports.
func selection(p profile, all map[string][]string) (order []string, pattern map[string]string, names map[string][]string) {
	pattern, names = map[string]string{}, map[string][]string{}
	add := func(key, pat string, ns []string) {
		if _, ok := pattern[key]; !ok {
			order = append(order, key)
		}
		pattern[key] = pat
		names[key] = ns
	}
	// without returns the -t pattern of a suite without the tests that
	// are not run: the remaining tests as a comma list.
	without := func(suite string) (string, []string) {
		var keep []string
		for _, n := range all[suite] {
			if !notRun["ALL."+suite+"."+n] && ownProcess["ALL."+suite+"."+n] == "" {
				keep = append(keep, n)
			}
		}
		if len(keep) == len(all[suite]) {
			return "ALL." + suite, keep
		}
		pats := make([]string, len(keep))
		for i, n := range keep {
			pats[i] = "ALL." + suite + "." + n
		}
		return strings.Join(pats, ","), keep
	}
	// addSuite adds a suite, then each of its tests that runs alone.
	addSuite := func(suite string) {
		pat, keep := without(suite)
		if len(keep) > 0 {
			add(suite, pat, keep)
		}
		for _, n := range all[suite] {
			if full := "ALL." + suite + "." + n; ownProcess[full] != "" && !notRun[full] {
				add(suite+"."+n, full, []string{n})
			}
		}
	}
	if p.only == nil {
		var suites []string
		for s := range all {
			suites = append(suites, s)
		}
		// MultipathIO first, on the fresh (zeroed) LU:
		// test_multipathio_compareandwrite.c initialises LBAs 0-255
		// with WRITE SAME but then compares LBA 256 with zeros too.
		sort.Slice(suites, func(i, j int) bool {
			if (suites[i] == "MultipathIO") != (suites[j] == "MultipathIO") {
				return suites[i] == "MultipathIO"
			}
			return suites[i] < suites[j]
		})
		for _, s := range suites {
			addSuite(s)
		}
		return order, pattern, names
	}
	for _, e := range p.only {
		if _, test, one := strings.Cut(e, "."); one {
			add(e, "ALL."+e, []string{test})
			continue
		}
		addSuite(e)
	}
	return order, pattern, names
}

// runProfile starts a daemon with the profile's config, runs its suites
// and compares with its expected file. It returns every test's outcome.
func runProfile(t *testing.T, bin string, p profile, all map[string][]string) map[string]string {
	cfg, p1, p2 := profileConfig(t, p.name)
	dataDir := t.TempDir()
	opts := harness.Options{Config: cfg, Portal: p1, DataDir: dataDir, IQN: "iqn.2026-11.io.halun:conformance"}
	d := harness.Start(t, opts)
	got := map[string]string{}
	logDir := os.Getenv("HALUN_CONFORMANCE_LOGS")
	if logDir != "" {
		logDir = filepath.Join(logDir, p.name)
		os.MkdirAll(logDir, 0o755)
	}
	order, pattern, names := selection(p, all)
	start := time.Now()
	for _, key := range order {
		if !d.Alive() {
			t.Errorf("halun died before %s\n%s", key, d.Log())
			d = harness.Start(t, opts)
		}
		suite, _, _ := strings.Cut(key, ".")
		args := []string{"-d", "-S", "-I", secondInitiator, "-t", pattern[key], d.URL(0)}
		if suite == "MultipathIO" {
			args = append(args, d.URLAt(p2, 0))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		res := parse(string(out))
		for _, name := range names[key] {
			r, ok := res[name]
			if !ok {
				r = Error
			}
			got["ALL."+suite+"."+name] = r
		}
		if logDir != "" {
			os.WriteFile(filepath.Join(logDir, key+".log"), out, 0o644)
		}
	}
	counts := map[string]int{}
	for _, r := range got {
		counts[r]++
	}
	t.Logf("profile %s: %d tests in %v: %d pass, %d fail, %d skip, %d error", p.name,
		len(got), time.Since(start).Round(time.Second), counts[Pass], counts[Fail], counts[Skip], counts[Error])
	if !d.Alive() {
		t.Errorf("halun died during the suite\n%s", d.Log())
	}
	ef := expectedFile(p.name)
	if os.Getenv("HALUN_CONFORMANCE_UPDATE") != "" {
		writeExpected(t, ef, p.name, got)
		return got
	}
	want := readExpected(t, ef)
	var worse, better []string
	for name, r := range got {
		w, ok := want[name]
		if !ok {
			worse = append(worse, fmt.Sprintf("%s: %s (not in %s)", name, r, ef))
			continue
		}
		switch {
		case rank[r] < rank[w]:
			worse = append(worse, fmt.Sprintf("%s: %s, expected %s", name, r, w))
		case rank[r] > rank[w]:
			better = append(better, fmt.Sprintf("%s: %s, expected %s", name, r, w))
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			worse = append(worse, fmt.Sprintf("%s: not run, expected %s", name, want[name]))
		}
	}
	sort.Strings(worse)
	sort.Strings(better)
	if len(better) > 0 {
		t.Logf("improved (update %s): \n%s", ef, strings.Join(better, "\n"))
	}
	if len(worse) > 0 {
		t.Errorf("conformance regressions:\n%s", strings.Join(worse, "\n"))
	}
	var bad []string
	for name, r := range got {
		if (r == Fail || r == Error) && knownFail[p.name][name] == "" {
			bad = append(bad, name+": "+r)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("profile %s: FAIL or ERROR (the goal is none but knownFail):\n%s", p.name, strings.Join(bad, "\n"))
	}
	return got
}
