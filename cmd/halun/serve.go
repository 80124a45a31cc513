package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/metrics"
	"github.com/halun/halun/internal/server"
)

type serveOptions struct {
	config   string
	listen   string
	dataDir  string
	logLevel string
	// logFormat is --log-format: text or json.
	logFormat string
	// adminSocket is --admin-socket: empty for <data_dir>/halun.sock.
	adminSocket string
	// listenSet and dataDirSet say whether the flags were given: with
	// --config they override the file only then.
	listenSet, dataDirSet bool
	// metricsListen is where the metrics endpoint listens; empty: off.
	metricsListen string
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve iSCSI targets until SIGINT or SIGTERM",
		Long: `Serve iSCSI targets until SIGINT or SIGTERM, then shut down gracefully
and exit 0: the portals stop accepting, every session is asked to log out
(an iSCSI Async Message), sessions that log out end once their commands
have finished, those still there after node.shutdown_logout_wait (default
5s) are closed, and the volumes are flushed and closed. A second SIGINT or
SIGTERM exits at once with status 128+signal (130 or 143); writes already
acknowledged stay as durable as their cache mode promised.

Without --config, serves the embedded default: target
iqn.2026-11.io.halun:default with LUN 0, a 1 GiB thin file volume
<data-dir>/default.img, on --listen.

With --config, serves that file. --data-dir then replaces node.data_dir
(relative volume paths move with it), and --listen replaces the portals of
the config's only portal group (an error if it has several); either only
when given.

Volumes without a configured serial get one generated on first start and
kept in <data_dir>/serials.json, so their SCSI identity never changes.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.listenSet = cmd.Flags().Changed("listen")
			o.dataDirSet = cmd.Flags().Changed("data-dir")
			return serve(cmd.Context(), o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "YAML config `file` (default: the embedded default config)")
	f.StringVar(&o.listen, "listen", config.DefaultListen, "portal `host:port`; IPv6 in brackets, e.g. [::1]:3260")
	f.StringVar(&o.dataDir, "data-dir", config.DefaultDataDir, "`directory` for volumes with relative paths and generated serials")
	f.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://`host:port`/metrics (off by default; e.g. 127.0.0.1:9500)")
	f.StringVar(&o.logFormat, "log-format", logFormatText, "log `format`: text (key=value) or json (one object per line)")
	f.StringVar(&o.adminSocket, "admin-socket", "", "management API Unix socket `path` (default <data_dir>/halun.sock; \"off\" for none)")
	return cmd
}

// loadConfig returns the config serve runs: the embedded default or
// --config, with the overrides the flags ask for. It has no side effects.
func loadConfig(o serveOptions) (*config.Config, error) {
	if o.listenSet || o.config == "" {
		if _, err := config.ParsePortal(o.listen); err != nil {
			return nil, usageError{fmt.Errorf("--listen: %v", err)}
		}
	}
	if o.dataDirSet && o.dataDir == "" {
		return nil, usageError{errors.New("--data-dir: empty")}
	}
	if o.config == "" {
		return config.Default(o.dataDir, o.listen)
	}
	var ov config.Overrides
	if o.listenSet {
		ov.Listen = o.listen
	}
	if o.dataDirSet {
		ov.DataDir = o.dataDir
	}
	return config.LoadWith(o.config, ov)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)}
	}
	return l, nil
}

func serve(ctx context.Context, o serveOptions, stderr io.Writer) error {
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	if err := config.EnsureSerials(cfg); err != nil {
		return err
	}
	changes, err := config.KeepIdentities(cfg)
	if err != nil {
		return err
	}
	logIdentityChanges(log, changes)
	log.Info("halun starting", "version", versionString(), "config", cfg.Source, "data_dir", cfg.Node.DataDir)
	for _, v := range cfg.Volumes {
		log.Debug("volume", "name", v.Name, "backend", v.Backend, "path", v.Path,
			"size", config.FormatSize(v.Size), "block_size", v.BlockSize, "serial", v.Serial)
	}

	if ctx == nil {
		ctx = context.Background()
	}
	// The watchdog pings until serve returns, through the graceful
	// shutdown too.
	sd := notifier{log: log}
	pingCtx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	sd.watchdog(pingCtx)
	ctx, stop := shutdownOnSignal(ctx, log)
	defer stop()
	defer sd.stoppingWhenDone(ctx)()
	mo := managementOptions(ctx, o)
	var cnode atomic.Pointer[cluster.Node]
	if o.metricsListen != "" {
		ms, err := metrics.Listen(o.metricsListen, versionString(), func() []cluster.VolumeMetrics {
			if cn := cnode.Load(); cn != nil {
				return cn.Metrics()
			}
			return nil
		}, log)
		if err != nil {
			return err
		}
		defer ms.Close()
		log.Info("metrics endpoint listening", "addr", ms.Addr().String(), "path", "/metrics")
		mo.Listening = ms.Attach
	}
	mo.Ready = sd.ready
	mo.Reloading = sd.reloading
	if cfg.Cluster != nil {
		// A storage node: its etcd member waits for a quorum, so the
		// other nodes and the witness start alongside.
		log.Info("joining the cluster", "cluster", cfg.Cluster.Name, "node", cfg.Cluster.Node)
		cn, err := cluster.Start(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer cn.Close()
		cnode.Store(cn)
		mo.Parts = cn.Parts()
	}
	err = server.RunWith(ctx, cfg, log, mo)
	if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return err
	}
	return nil
}

// logIdentityChanges reports volumes whose config gives them another SCSI
// identity than they were last served with: initiators see new disks.
func logIdentityChanges(log *slog.Logger, changes []config.IdentityChange) {
	for _, c := range changes {
		log.Warn("volume identity changed by the config: initiators see a new disk", "volume", c.Volume, "old_wwid", c.OldWWID, "wwid", c.WWID)
	}
}
