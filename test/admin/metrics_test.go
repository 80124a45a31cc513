package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/test/harness"
)

const metricsConfig = `# served by the metrics test
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]   # replaced by --listen
volumes:
  - { name: m0, backend: memory, size: 4MiB, serial: mtr0000000000000, thin: true }
targets:
  - iqn: iqn.2026-11.io.halun.test:metrics
    luns:
      - { lun: 0, volume: m0 }
    access: { all: true }
`

// scrape is one scrape of the metrics endpoint, parsed, with its text.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %v %s", err, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return scrape{text: string(body), families: fams}
}

// value is the counter, gauge or histogram count of the series of name
// with exactly the labels given (name=value pairs); -1 if there is none.
func (s scrape) value(name string, labels ...string) float64 {
	f := s.families[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsCountAKnownLoad scrapes the metrics endpoint around a known
// load through the project's initiator — writes, reads, a SYNCHRONIZE
// CACHE, a read past the end, a refused login and a LUN reset — and
// checks that each counter moved by exactly that much, and that
// promtool accepts the exposition.
func TestMetricsCountAKnownLoad(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, metricsConfig)
	maddr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: filepath.Join(dir, "data"), IQN: "iqn.2026-11.io.halun.test:metrics",
		Args: []string{"--metrics-listen", maddr}})
	url := "http://" + maddr + "/metrics"
	ctx := ctxT(t)

	const vol, target = "m0", "iqn.2026-11.io.halun.test:metrics"
	s, err := initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:metrics-host", TargetName: target})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The login's own commands (none here) and the POWER ON unit
	// attention are behind us once a TEST UNIT READY has been answered.
	for i := 0; s.TestUnitReady(ctx, 0) != nil; i++ {
		if i == 3 {
			t.Fatal("TEST UNIT READY keeps failing")
		}
	}
	before := scrapeMetrics(t, url)

	const writes, reads, blocks = 7, 5, 8 // 4 KiB each
	for i := range writes {
		if err := s.Write(ctx, 0, uint64(i*blocks), make([]byte, blocks*512), 512); err != nil {
			t.Fatal(err)
		}
	}
	for i := range reads {
		if _, err := s.Read(ctx, 0, uint64(i*blocks), blocks, 512); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SyncCache(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, 0, 1<<20, 1, 512); err == nil {
		t.Fatal("a read past the end succeeded")
	}
	if _, err := s.LUNReset(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// The gauges, before the refused login's connection comes and goes.
	during := scrapeMetrics(t, url)
	// Each refusal is counted by the time the initiator reads it: a
	// scrape right after it sees it (the target once counted after
	// sending, and a quick scrape missed it).
	const refusals = 5
	var after scrape
	for i := 1; i <= refusals; i++ {
		_, err = initiator.Dial(ctx, d.Addr, initiator.Options{InitiatorName: "iqn.2026-11.io.halun.test:metrics-host", TargetName: "iqn.2026-11.io.halun.test:nonesuch"})
		var le *initiator.LoginError
		if !errors.As(err, &le) {
			t.Fatalf("login to a missing target: %v, want a refusal", err)
		}
		after = scrapeMetrics(t, url)
		if n := after.value("halun_iscsi_login_failures_total", "reason", "no_such_target") - max(before.value("halun_iscsi_login_failures_total", "reason", "no_such_target"), 0); n != float64(i) {
			t.Fatalf("after refusal %d the scrape counts %v refusals", i, n)
		}
	}

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"halun_volume_commands_total", []string{"volume", vol, "class", "write"}, writes},
		{"halun_volume_commands_total", []string{"volume", vol, "class", "read"}, reads + 1},
		{"halun_volume_commands_total", []string{"volume", vol, "class", "sync"}, 1},
		{"halun_volume_command_duration_seconds", []string{"volume", vol, "class", "write"}, writes},
		{"halun_volume_written_bytes_total", []string{"volume", vol}, writes * blocks * 512},
		{"halun_volume_read_bytes_total", []string{"volume", vol}, reads * blocks * 512},
		{"halun_volume_check_conditions_total", []string{"volume", vol, "sense_key", "illegal_request"}, 1},
		{"halun_iscsi_task_management_total", []string{"function", "logical_unit_reset"}, 1},
		{"halun_iscsi_login_failures_total", []string{"reason", "no_such_target"}, refusals},
		{"halun_iscsi_login_failures_total", []string{"reason", "authorization"}, 0},
	} {
		b := max(before.value(c.name, c.labels...), 0)
		a := after.value(c.name, c.labels...)
		if a < 0 {
			t.Errorf("%s%v: no such series\n%s", c.name, c.labels, after.text)
			continue
		}
		if a-b != c.want {
			t.Errorf("%s%v moved by %v (%v → %v), want %v", c.name, c.labels, a-b, b, a, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"halun_iscsi_sessions", []string{"target", target, "initiator", "iqn.2026-11.io.halun.test:metrics-host", "type", "normal"}, 1},
		{"halun_iscsi_logins_total", []string{"target", target, "type", "normal"}, 1},
		{"halun_iscsi_connections", []string{"portal", d.Addr}, 1},
		{"halun_volume_size_bytes", []string{"volume", vol}, 4 << 20},
		{"halun_config_reloads_total", []string{"result", "applied"}, 0},
	} {
		if got := during.value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if a := after.value("halun_volume_allocated_bytes", "volume", vol); a < writes*blocks*512 {
		t.Errorf("halun_volume_allocated_bytes = %v after %d bytes written to a thin volume", a, writes*blocks*512)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (Debian package prometheus) is not installed: scripts/deps.sh installs it")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(after.text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	checkDashboard(t, after, promtool)
}

// A bad --metrics-listen address stops the start with a clear error.
func TestMetricsListenRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Binary(t), "serve", "--data-dir", t.TempDir(),
		"--listen", "127.0.0.1:"+strconv.Itoa(harness.FreePort(t)), "--metrics-listen", "127.0.0.1:99999")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "metrics: listen on 127.0.0.1:99999") {
		t.Errorf("halun serve with a bad --metrics-listen: %v\n%s", err, out)
	}
}

// checkDashboard checks docs/grafana/halun-dashboard.json against a
// scrape: every query parses (promtool check rules, with the dashboard's
// variables filled in) and every halun metric it names is exposed (the
// replication ones only on a cluster node).
func checkDashboard(t *testing.T, s scrape, promtool string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "docs", "grafana", "halun-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	fill := strings.NewReplacer("$__rate_interval", "1m", "$volume", ".*", "$job", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	names := regexp.MustCompile(`\bhalun_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			n++
			fmt.Fprintf(&rules, "      - record: dashboard:q%d\n        expr: %q\n", n, fill.Replace(q.Expr))
			for _, name := range names.FindAllString(q.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if s.families[base] == nil && !strings.HasPrefix(base, "halun_replication_") {
					t.Errorf("dashboard panel %q queries %s, which halun does not expose", p.Title, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries do not parse: %v\n%s", err, out)
	}
}
