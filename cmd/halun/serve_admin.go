package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/server"
)

// managementOptions are serve's admin socket and reload settings: SIGHUP
// rereads the config, with the same command line overrides.
func managementOptions(ctx context.Context, o serveOptions) server.Options {
	server.Version = versionString()
	mo := server.Options{ConfigPath: o.config, AdminSocket: o.adminSocket}
	switch {
	case o.config == "":
		mo.Overrides = config.Overrides{DataDir: o.dataDir, Listen: o.listen}
	default:
		if o.listenSet {
			mo.Overrides.Listen = o.listen
		}
		if o.dataDirSet {
			mo.Overrides.DataDir = o.dataDir
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // one pending reload covers several signals
				}
			}
		}
	}()
	mo.Reload = reload
	return mo
}
