package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
)

// Options configure the management side of a running node.
type Options struct {
	// ConfigPath is the config file reload rereads and management changes
	// are written to; empty when serving the embedded default.
	ConfigPath string
	// Overrides are the command line's, applied again on every reload.
	Overrides config.Overrides
	// AdminSocket is the admin socket's path; empty means
	// <data_dir>/halun.sock, "off" none.
	AdminSocket string
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	// Parts are the node's parts (parts.go); the zero Parts is a single
	// node's.
	Parts Parts
	// Listening, if set, is called once every portal listens, before the
	// first connection is served (the metrics endpoint starts there).
	Listening func(*Node)
	// Ready, if not nil, is called once every portal listens and every
	// target is ready: the moment a service manager may count the node as
	// started (systemd's READY=1).
	Ready func()
	// Reloading, if not nil, is called with true when a reload of the
	// config begins (SIGHUP or the admin API) and with false when it has
	// ended, applied or refused.
	Reloading func(begin bool)
}

// maxSocketPath is the longest path a Unix socket can be bound at
// (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

// AdminSocketPath is the admin socket path the options ask for with cfg;
// empty for none.
func AdminSocketPath(cfg *config.Config, o Options) string {
	switch o.AdminSocket {
	case "off":
		return ""
	case "":
		return filepath.Join(cfg.Node.DataDir, admin.SocketName)
	}
	return o.AdminSocket
}

// startManagement serves the admin socket and handles reload requests. The
// returned function stops both.
func (n *Node) startManagement(ctx context.Context, o Options) (func(), error) {
	n.SetSource(o.ConfigPath, o.Overrides)
	n.reloading = o.Reloading
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if path := AdminSocketPath(n.cfg, o); path != "" {
		switch {
		case len(path) > maxSocketPath && o.AdminSocket == "":
			n.log.Warn("no admin socket: the path in the data directory is too long for a Unix socket; use --admin-socket",
				"path", path)
		case len(path) > maxSocketPath:
			return nil, fmt.Errorf("admin socket %s: longer than %d bytes", path, maxSocketPath)
		default:
			if o.AdminSocket == "" {
				// The data directory may not exist yet (memory volumes
				// with configured serials need nothing in it).
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					return nil, fmt.Errorf("admin socket: %w", err)
				}
			}
			s, err := admin.Serve(path, n, n.log)
			if err != nil {
				return nil, err
			}
			n.log.Info("admin socket listening", "path", path)
			stops = append(stops, func() {
				if err := s.Close(); err != nil {
					n.log.Warn("admin socket close", "err", err)
				}
			})
		}
	}
	if o.Reload != nil {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-o.Reload:
					n.log.Info("reload requested")
					if _, err := n.Reload(); err != nil {
						var es config.Errors
						if errors.As(err, &es) {
							for _, e := range es {
								n.log.Error("reload refused; running config unchanged", "problem", e.Error())
							}
						} else {
							n.log.Error("reload refused; running config unchanged", "err", err)
						}
					}
				}
			}
		}()
		stops = append(stops, func() { close(done); wg.Wait() })
	}
	return sync.OnceFunc(stop), nil
}
