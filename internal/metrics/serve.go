package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registry returns a registry with halun's collector c, the Go runtime's
// and the process's collectors, and halun_build_info.
func registry(c *collector, version string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "halun_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	info.Set(1)
	reg.MustRegister(info)
	return reg
}

// Server is a running metrics endpoint.
type Server struct {
	ln  net.Listener
	srv *http.Server
	col *collector
}

// Listen opens the metrics endpoint on addr (host:port; loopback unless
// the operator means otherwise): GET /metrics in Prometheus's text
// format, until Close. It reports the build and the process at once, the
// node once Attach gives it; cluster, if not nil, gives a cluster node's
// replication state. It listens before the node starts, so a bad address
// fails the start.
func Listen(addr, version string, cluster func() []cluster.VolumeMetrics, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	col := &collector{cluster: cluster}
	reg := registry(col, version)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	s := &Server{ln: ln, col: col, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint failed", "addr", addr, "err", err)
		}
	}()
	return s, nil
}

// Attach makes the endpoint report node n.
func (s *Server) Attach(n *server.Node) { s.col.node.Store(n) }

// Addr is the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the endpoint, waiting at most a second for scrapes in
// progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
