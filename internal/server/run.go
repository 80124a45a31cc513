package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	lus    []*scsi.LU
	stores []backend.Store
	log    *slog.Logger
}

// Run serves cfg until ctx ends, then shuts down gracefully: listeners
// close, in-flight commands finish, volumes are flushed and closed.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	n, err := Build(cfg, log)
	if err != nil {
		return err
	}
	if err := n.Server.Listen(); err != nil {
		n.Close()
		return err
	}
	for _, pa := range n.Server.Addrs() {
		log.Info("portal listening", "addr", pa.Addr, "tpgt", pa.Tag)
	}
	for _, t := range cfg.Targets {
		log.Info("target ready", "iqn", t.IQN, "luns", len(t.LUNs))
	}
	serveErr := n.Server.Serve(ctx)
	closeErr := n.Close()
	log.Info("stopped")
	return errors.Join(serveErr, closeErr)
}

// Build opens every volume and assembles logical units, targets and the
// iSCSI server. Nothing is half-built: on error everything opened is closed.
func Build(cfg *config.Config, log *slog.Logger) (n *Node, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n = &Node{log: log}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()
	lus := map[string]*scsi.LU{}
	for i := range cfg.Volumes {
		v := &cfg.Volumes[i]
		store, err := openStore(v)
		if err != nil {
			return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
		}
		n.stores = append(n.stores, store)
		lu, err := scsi.NewLU(scsi.LUConfig{Serial: v.Serial, BlockSize: uint32(v.BlockSize), PhysicalBlockSize: uint32(v.PhysicalBlockSize),
			ReadOnly: v.ReadOnly, Removable: v.Removable, Thin: v.Thin, WriteCache: v.WriteCache}, store)
		if err != nil {
			return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
		}
		n.lus = append(n.lus, lu)
		lus[v.Name] = lu
	}
	icfg := iscsi.Config{Logger: log}
	for _, pg := range cfg.PortalGroups {
		g := iscsi.PortalGroup{Tag: pg.Tag}
		for _, p := range pg.Portals {
			g.Addrs = append(g.Addrs, p.String())
		}
		icfg.PortalGroups = append(icfg.PortalGroups, g)
	}
	for _, t := range cfg.Targets {
		m := map[uint64]*scsi.LU{}
		for _, l := range t.LUNs {
			m[uint64(l.LUN)] = lus[l.Volume]
		}
		settings, err := targetSettings(t.Params)
		if err != nil {
			return nil, fmt.Errorf("%s: target %s params: %w", t.Pos, t.IQN, err)
		}
		icfg.Targets = append(icfg.Targets, iscsi.Target{Name: t.IQN, Alias: t.Alias,
			PortalGroups: t.PortalGroups, Settings: settings, LUNs: scsi.NewTarget(t.IQN, m)})
	}
	srv, err := iscsi.NewServer(icfg)
	if err != nil {
		return nil, err
	}
	n.Server = srv
	return n, nil
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

func openStore(v *config.Volume) (backend.Store, error) {
	switch v.Backend {
	case config.BackendFile:
		if err := os.MkdirAll(filepath.Dir(v.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", v.Path, err)
		}
		return backend.OpenFile(v.Path, v.Size, true)
	case config.BackendBlock:
		return backend.OpenBlock(v.Path)
	case config.BackendMemory:
		return backend.NewMemory(v.Size), nil
	}
	return nil, fmt.Errorf("unknown backend %q", v.Backend)
}

// Close flushes every logical unit and closes the stores.
func (n *Node) Close() error {
	var errs []error
	start := time.Now()
	for _, lu := range n.lus {
		if err := lu.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flush: %w", err))
		}
	}
	for _, s := range n.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close volume: %w", err))
		}
	}
	n.lus, n.stores = nil, nil
	n.log.Debug("volumes flushed and closed", "took", time.Since(start))
	return errors.Join(errs...)
}
