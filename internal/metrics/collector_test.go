package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/server"
)

const testConfig = `portal_groups:
  - {tag: 1, portals: ["127.0.0.1:3260"]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: mtest0000000001}
targets:
  - iqn: iqn.2026-11.io.halun.test:metrics
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`

// The endpoint reports the build at once and the node once attached,
// a cluster node's replication state, and passes Prometheus's lint.
func TestEndpointExposesNodeAndCluster(t *testing.T) {
	cfg, err := config.ParseWith("metrics.yaml", []byte(testConfig), config.Overrides{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := server.Build(cfg, slog.New(slog.DiscardHandler), server.Parts{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	repl := []cluster.VolumeMetrics{{Volume: "v1", Primary: true, Epoch: 7, ResyncedBytes: 4096, Promotions: 2,
		Replicas: []cluster.ReplicaMetrics{{Node: "b", InSync: false, DirtyBytes: 8192, Resyncing: true}}}}
	s, err := Listen("127.0.0.1:0", "v9.9.9", func() []cluster.VolumeMetrics { return repl }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func() string {
		resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := get()
	if !strings.Contains(before, `halun_build_info{goversion=`) || strings.Contains(before, "halun_volume_") {
		t.Errorf("before Attach: want the build and no node:\n%s", before)
	}
	s.Attach(n)
	text := get()
	for _, want := range []string{
		`halun_volume_size_bytes{volume="v1"} 4.194304e+06`,
		`halun_volume_commands_total{class="read",volume="v1"} 0`,
		`halun_replication_primary{volume="v1"} 1`,
		`halun_replication_epoch{volume="v1"} 7`,
		`halun_replication_replica_in_sync{replica="b",volume="v1"} 0`,
		`halun_replication_replica_dirty_bytes{replica="b",volume="v1"} 8192`,
		`halun_replication_replica_resyncing{replica="b",volume="v1"} 1`,
		`halun_replication_resynced_bytes_total{volume="v1"} 4096`,
		`halun_replication_promotions_total{volume="v1"} 2`,
		`halun_config_reloads_total{result="refused"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "halun_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// A bad address fails Listen with the address named.
func TestListenRefusesBadAddress(t *testing.T) {
	if _, err := Listen("127.0.0.1:99999", "v", nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "127.0.0.1:99999") {
		t.Errorf("Listen on a bad port: %v", err)
	}
}
