package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/scsi"
)

// Node is an assembled, not yet listening, halun node.
type Node struct {
	Server *iscsi.Server
	log    *slog.Logger
	live   // what live reconfiguration changes (state.go)
	// parts open the volumes, keep their reservations and give targets
	// their ALUA state, at start and on reload alike.
	parts Parts
	// reloadsOK and reloadsFailed count reloads by outcome (stats.go).
	reloadsOK, reloadsFailed atomic.Uint64
	// reloading is Options.Reloading, called around Reload.
	reloading func(begin bool)
}

// Run serves cfg until ctx ends, then shuts down gracefully: listeners
// close, initiators are asked to log out and their sessions drained
// (iscsi.Server.Shutdown), volumes are flushed and closed.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return RunWith(ctx, cfg, log, Options{})
}

// RunWith is Run with the management side: the admin socket and reload
// requests (daemon.go).
func RunWith(ctx context.Context, cfg *config.Config, log *slog.Logger, o Options) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := Build(cfg, log, o.Parts)
	if err != nil {
		return err
	}
	stopAdmin, err := n.startManagement(ctx, o)
	if err != nil {
		return errors.Join(err, n.Close())
	}
	defer stopAdmin()
	if err := n.Server.Listen(); err != nil {
		stopAdmin()
		return errors.Join(err, n.Close())
	}
	for _, pa := range n.Server.Addrs() {
		log.Info("portal listening", "addr", pa.Addr, "tpgt", pa.Tag)
	}
	for _, t := range cfg.Targets {
		log.Info("target ready", "iqn", t.IQN, "luns", len(t.LUNs))
	}
	if o.Listening != nil {
		o.Listening(n)
	}
	if o.Ready != nil {
		o.Ready()
	}
	serveErr := n.Server.Serve(ctx)
	stopAdmin()
	start := time.Now()
	closeErr := n.Close()
	if closeErr != nil {
		log.Error("shutdown: closing volumes", "err", closeErr)
	} else {
		log.Info("shutdown: volumes flushed and closed", "took", time.Since(start).Round(time.Millisecond))
	}
	log.Info("stopped")
	return errors.Join(serveErr, closeErr)
}

// Build opens every volume with parts and assembles logical units, targets
// and the iSCSI server; parts' nil fields are LocalParts'. Nothing is
// half-built: on error everything opened is closed.
func Build(cfg *config.Config, log *slog.Logger, parts Parts) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	parts, err := parts.withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{log: log, parts: parts}
	// The cleanup holds its own reference: a named result would already
	// be nil when an error return runs it.
	built := false
	defer func() {
		if !built {
			if err := n.Close(); err != nil {
				log.Warn("closing what was opened before the failure", "err", err)
			}
		}
	}()
	n.vols = map[string]*volume{}
	lus := map[string]*scsi.LU{}
	for i := range cfg.Volumes {
		v, err := n.openVolume(&cfg.Volumes[i])
		if err != nil {
			return nil, err
		}
		n.vols[v.cfg.Name] = v
		lus[v.cfg.Name] = v.lu
		if err := v.lu.SetPRStore(parts.PRStore); err != nil {
			return nil, fmt.Errorf("%s: volume %s: %w", v.cfg.Pos, v.cfg.Name, err)
		}
	}
	icfg := iscsi.Config{Logger: log, DiscoveryCHAP: chapCredentials(cfg.Discovery.CHAP),
		NopInterval: cfg.Node.NopInInterval, NopTimeout: cfg.Node.NopInTimeout, LogoutWait: cfg.Node.ShutdownLogoutWait,
		MaxConnections: cfg.Node.MaxConnections, MaxConnectionsPerAddress: cfg.Node.MaxConnectionsPerAddress,
		MaxBufferedData: cfg.Node.MaxBufferedData, MaxSessionBufferedData: cfg.Node.MaxSessionBufferedData}
	icfg.PortalGroups = portalGroups(cfg)
	n.luns = map[string]*liveLUNs{}
	for i := range cfg.Targets {
		t, err := buildTarget(&cfg.Targets[i], lus, parts.ALUA(cfg, &cfg.Targets[i]))
		if err != nil {
			return nil, err
		}
		live := newLiveLUNs(t.LUNs)
		n.luns[t.Name] = live
		t.LUNs = live
		icfg.Targets = append(icfg.Targets, t)
	}
	srv, err := iscsi.NewServer(icfg)
	if err != nil {
		return nil, err
	}
	n.Server = srv
	n.cfg = cfg
	built = true
	return n, nil
}

// portalGroups are the portal groups cfg describes, as the server takes
// them.
func portalGroups(cfg *config.Config) []iscsi.PortalGroup {
	var out []iscsi.PortalGroup
	for _, pg := range cfg.PortalGroups {
		g := iscsi.PortalGroup{Tag: pg.Tag}
		for _, p := range pg.Portals {
			g.Addrs = append(g.Addrs, p.String())
		}
		out = append(out, g)
	}
	return out
}

// openVolume opens a volume's store with the node's parts and builds its
// logical unit, which reports storage failures to the node's log.
func (n *Node) openVolume(v *config.Volume) (*volume, error) {
	store, err := n.parts.OpenStore(v)
	if err != nil {
		return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
	}
	lu, err := n.newLU(v, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &volume{cfg: *v, store: store, lu: lu}, nil
}

// newLU builds a volume's logical unit on store, with the volume's own
// ALUA state when the node's parts give it one.
func (n *Node) newLU(v *config.Volume, store backend.Store) (*scsi.LU, error) {
	cfg, err := luConfig(v, n.log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Pos, err)
	}
	lu, err := scsi.NewLU(cfg, store)
	if err != nil {
		return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
	}
	if n.parts.VolumeALUA != nil {
		if g := n.parts.VolumeALUA(v); g != nil {
			lu.SetALUAGroups(g)
		}
	}
	if n.parts.OnLU != nil {
		n.parts.OnLU(v, lu)
	}
	return lu, nil
}

// luConfig is the logical unit a volume's config describes, logging to
// log.
func luConfig(v *config.Volume, log *slog.Logger) (scsi.LUConfig, error) {
	id, err := v.ResolveIdentity()
	if err != nil {
		return scsi.LUConfig{}, err
	}
	return scsi.LUConfig{Serial: v.Serial, Identity: id, BlockSize: uint32(v.BlockSize), PhysicalBlockSize: uint32(v.PhysicalBlockSize),
		ReadOnly: v.ReadOnly, Removable: v.Removable, Thin: v.Thin, WriteCache: v.WriteCache,
		SanitizeRate: v.SanitizeRate, Logger: log}, nil
}

// buildTarget assembles one target over the logical units of the volumes
// it maps (lus, by volume name). Start-up and live reconfiguration both
// build targets here, over the target's ALUA state g.
func buildTarget(t *config.Target, lus map[string]*scsi.LU, g *scsi.ALUAGroups) (iscsi.Target, error) {
	settings, err := targetSettings(t.Params)
	if err != nil {
		return iscsi.Target{}, fmt.Errorf("%s: target %s params: %w", t.Pos, t.IQN, err)
	}
	luns, access := targetLUNs(t, lus, g) // acl.go
	return iscsi.Target{Name: t.IQN, Alias: t.Alias,
		PortalGroups: t.PortalGroups, Settings: settings, LUNs: luns, Access: access}, nil
}

// targetSettings starts from halun's fast defaults and applies what the
// config sets explicitly.
func targetSettings(p config.Params) (login.Settings, error) {
	s := login.DefaultSettings()
	if p.InitialR2T != nil {
		s.InitialR2T = *p.InitialR2T
	}
	if p.ImmediateData != nil {
		s.ImmediateData = *p.ImmediateData
	}
	if p.MaxRecvDataSegmentLength != nil {
		s.MaxRecvDataSegmentLength = int(*p.MaxRecvDataSegmentLength)
	}
	if p.MaxBurstLength != nil {
		s.MaxBurstLength = int(*p.MaxBurstLength)
	}
	if p.FirstBurstLength != nil {
		s.FirstBurstLength = int(*p.FirstBurstLength)
	}
	if p.MaxOutstandingR2T != nil {
		s.MaxOutstandingR2T = int(*p.MaxOutstandingR2T)
	}
	if len(p.HeaderDigest) > 0 {
		s.HeaderDigest = append([]string(nil), p.HeaderDigest...)
	}
	if len(p.DataDigest) > 0 {
		s.DataDigest = append([]string(nil), p.DataDigest...)
	}
	if s.FirstBurstLength > s.MaxBurstLength {
		s.FirstBurstLength = s.MaxBurstLength
	}
	return s, s.Validate()
}

// Close flushes every logical unit and closes the stores.
func (n *Node) Close() error {
	var errs []error
	start := time.Now()
	errs = append(errs, n.closeVolumes()...)
	n.log.Debug("volumes flushed and closed", "took", time.Since(start))
	return errors.Join(errs...)
}
