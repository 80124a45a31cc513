package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
)

// startupConfig has a file volume that opens (so every later failure must
// close it again), a memory volume and one target. The volumes' lines are
// known: the file volume is on line 5, the memory volume on line 6.
const startupConfig = `portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]
volumes:
  - { name: f, backend: file, path: f.img, size: 1MiB, serial: ffff000000000001 }
  - { name: m, backend: memory, size: 1MiB, serial: aaaa000000000001 }
targets:
  - iqn: iqn.2026-11.io.halun.test:t
    luns:
      - { lun: 0, volume: f }
      - { lun: 1, volume: m }
    access: { all: true }
`

// loadStartup loads startupConfig with a private data directory.
func loadStartup(t *testing.T) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(path, []byte(startupConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// The portal moves to a port that was free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := config.LoadWith(path, config.Overrides{DataDir: filepath.Join(dir, "data"), Listen: addr})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestStartupErrors walks every error return of the start-up path (Build,
// then RunWith's management and listen steps): each must come back as an
// error naming what failed (file:line for a volume), never a panic, with
// everything opened before it closed again.
func TestStartupErrors(t *testing.T) {
	cases := []struct {
		name string
		// edit breaks cfg or o, the options RunWith gets; what it sets
		// up is cleaned up by t.
		edit func(t *testing.T, cfg *config.Config, o *Options)
		run  bool   // through RunWith rather than Build
		want string // substring of the error; "@f" and "@m" stand for the volumes' file:line
	}{
		{"reservation directory cannot be created", func(t *testing.T, cfg *config.Config, _ *Options) {
			file := filepath.Join(t.TempDir(), "plain")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.Node.DataDir = filepath.Join(file, "data")
		}, false, "persistent reservation store"},
		{"file volume directory cannot be created", func(t *testing.T, cfg *config.Config, _ *Options) {
			file := filepath.Join(t.TempDir(), "plain")
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.Volumes[0].Path = filepath.Join(file, "f.img")
		}, false, "@f: volume f: create directory"},
		{"file volume larger than its file system allows", func(t *testing.T, cfg *config.Config, _ *Options) {
			cfg.Volumes[0].Size = 1 << 62
		}, false, "@f: volume f: backend: open file"},
		{"block volume device missing", func(t *testing.T, cfg *config.Config, _ *Options) {
			cfg.Volumes[1].Backend = config.BackendBlock
			cfg.Volumes[1].Path = filepath.Join(t.TempDir(), "no-such-device")
		}, false, "@m: volume m: "},
		{"unknown backend", func(t *testing.T, cfg *config.Config, _ *Options) {
			cfg.Volumes[1].Backend = "tape"
		}, false, "@m: volume m: unknown backend"},
		{"logical unit refused", func(t *testing.T, cfg *config.Config, _ *Options) {
			cfg.Volumes[1].Serial = "not printable"
		}, false, "@m: volume m: scsi: new LU"},
		{"kept reservations unreadable", func(t *testing.T, cfg *config.Config, _ *Options) {
			dir := filepath.Join(cfg.Node.DataDir, "reservations")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "pr-aaaa000000000001.json"), []byte("{torn"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, "@m: volume m: scsi: load persistent reservations"},
		{"target settings invalid", func(t *testing.T, cfg *config.Config, _ *Options) {
			v := uint32(1)
			cfg.Targets[0].Params.MaxRecvDataSegmentLength = &v
		}, false, "target iqn.2026-11.io.halun.test:t params"},
		{"server refuses the targets", func(t *testing.T, cfg *config.Config, _ *Options) {
			cfg.Targets = append(cfg.Targets, cfg.Targets[0])
		}, false, "defined twice"},
		{"admin socket cannot be bound", func(t *testing.T, cfg *config.Config, o *Options) {
			o.AdminSocket = filepath.Join(t.TempDir(), "missing", "halun.sock")
		}, true, "halun.sock"},
		{"admin socket path too long", func(t *testing.T, cfg *config.Config, o *Options) {
			o.AdminSocket = "/tmp/" + strings.Repeat("x", maxSocketPath)
		}, true, "longer than"},
		{"portal address taken", func(t *testing.T, cfg *config.Config, _ *Options) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			cfg.PortalGroups[0].Portals[0], err = config.ParsePortal(ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
		}, true, "iscsi: listen on portal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, path := loadStartup(t)
			o := Options{ConfigPath: path, AdminSocket: "off"}
			c.edit(t, cfg, &o)
			want := strings.NewReplacer("@f", path+":5: volumes[0]", "@m", path+":6: volumes[1]").Replace(c.want)
			before := openFDs(t)
			var err error
			if c.run {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = RunWith(ctx, cfg, nil, o)
			} else {
				var n *Node
				n, err = Build(cfg, nil, Parts{})
				if n != nil {
					t.Error("Build returned a node with its error")
					n.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
			if after := openFDs(t); after != before {
				t.Errorf("%d file descriptors open after the failure, %d before", after, before)
			}
		})
	}
}

// TestStartupSucceeds is the control for TestStartupErrors: the unbroken
// config builds and serves until the context ends.
func TestStartupSucceeds(t *testing.T) {
	cfg, path := loadStartup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := RunWith(ctx, cfg, nil, Options{ConfigPath: path, AdminSocket: "off"}); err != nil {
		t.Fatal(err)
	}
}
