// Package conformance runs libiscsi's iscsi-test-cu suite against a real
// halun daemon serving its embedded default, one process per suite, and
// compares every test's outcome with the expected-results file, so any
// regression fails `make test`.
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

const expectedFile = "expected-default.txt"

// suites lists the ALL.<Suite> names iscsi-test-cu knows.
func suites(t *testing.T, bin string) []string {
	out, err := exec.Command(bin, "-l").Output()
	if err != nil {
		t.Fatalf("iscsi-test-cu -l: %v", err)
	}
	var s []string
	re := regexp.MustCompile(`^ALL\.([A-Za-z0-9_]+)$`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			s = append(s, m[1])
		}
	}
	return s
}

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

func readExpected(t *testing.T) map[string]string {
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

func writeExpected(t *testing.T, got map[string]string) {
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# libiscsi iscsi-test-cu results against `halun serve` (embedded default).\n")
	b.WriteString("# Regenerate with: HALUN_CONFORMANCE_UPDATE=1 go test ./test/conformance\n")
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, got[n])
	}
	if err := os.WriteFile(expectedFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLibiscsiSuite runs every suite and compares with the expected results.
func TestLibiscsiSuite(t *testing.T) {
	bin := harness.Need(t, "iscsi-test-cu")
	dataDir := t.TempDir()
	d := harness.Start(t, harness.Options{DataDir: dataDir})
	all := tests(t, bin)
	got := map[string]string{}
	logDir := os.Getenv("HALUN_CONFORMANCE_LOGS")
	for _, suite := range suites(t, bin) {
		if !d.Alive() {
			t.Errorf("halun died before suite %s\n%s", suite, d.Log())
			d = harness.Start(t, harness.Options{DataDir: dataDir})
		}
		args := []string{"-d", "-S", "-t", "ALL." + suite, d.URL(0)}
		if suite == "MultipathIO" {
			args = append(args, d.URL(0))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, bin, args...)
		out, _ := cmd.CombinedOutput()
		cancel()
		res := parse(string(out))
		for _, name := range all[suite] {
			r, ok := res[name]
			if !ok {
				r = Error
			}
			got["ALL."+suite+"."+name] = r
		}
		if logDir != "" {
			os.WriteFile(filepath.Join(logDir, suite+".log"), out, 0o644)
		}
	}
	counts := map[string]int{}
	for _, r := range got {
		counts[r]++
	}
	t.Logf("libiscsi suite: %d tests: %d pass, %d fail, %d skip, %d error",
		len(got), counts[Pass], counts[Fail], counts[Skip], counts[Error])
	if os.Getenv("HALUN_CONFORMANCE_UPDATE") != "" {
		writeExpected(t, got)
		return
	}
	want := readExpected(t)
	var worse, better []string
	for name, r := range got {
		w, ok := want[name]
		if !ok {
			worse = append(worse, fmt.Sprintf("%s: %s (not in %s)", name, r, expectedFile))
			continue
		}
		switch {
		case rank[r] < rank[w]:
			worse = append(worse, fmt.Sprintf("%s: %s, expected %s", name, r, w))
		case rank[r] > rank[w]:
			better = append(better, fmt.Sprintf("%s: %s, expected %s", name, r, w))
		}
	}
	sort.Strings(worse)
	sort.Strings(better)
	if len(better) > 0 {
		t.Logf("improved (update %s): \n%s", expectedFile, strings.Join(better, "\n"))
	}
	if len(worse) > 0 {
		t.Errorf("conformance regressions:\n%s", strings.Join(worse, "\n"))
	}
	if !d.Alive() {
		t.Errorf("halun died during the suite\n%s", d.Log())
	}
}
