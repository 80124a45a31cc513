package server

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/halun/halun/internal/config"
)

const baseConfig = `portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]
volumes:
  - { name: a, backend: memory, size: 1MiB, serial: aaaa000000000001 }
  - { name: b, backend: memory, size: 1MiB, serial: bbbb000000000001 }
targets:
  - iqn: iqn.2026-11.io.halun.test:t
    luns:
      - { lun: 0, volume: a }
    access: { all: true }
`

func buildFrom(t *testing.T, text string) (*Node, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "halun.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// The daemon's state (reservations) goes to a scratch data dir, not
	// the package directory.
	o := config.Overrides{DataDir: t.TempDir()}
	cfg, err := config.LoadWith(path, o)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Build(cfg, nil, Parts{})
	if err != nil {
		t.Fatal(err)
	}
	n.SetSource(path, o)
	t.Cleanup(func() { n.Close() })
	return n, path
}

func reloadWith(t *testing.T, n *Node, path, text string) ([]string, error) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := n.Reload()
	if err != nil {
		return nil, err
	}
	return res.Changes, nil
}

func TestReloadDiff(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(string) string
		changes []string // substrings, one per change, in order
		err     string
	}{
		{"nothing", func(s string) string { return s + "# a comment\n" }, nil, ""},
		{"new serial replaces the volume",
			func(s string) string { return strings.Replace(s, "aaaa000000000001", "aaaa000000000002", 1) },
			[]string{"volume a replaced (serial changed)"}, ""},
		{"grow", func(s string) string {
			return strings.Replace(s, "{ name: b, backend: memory, size: 1MiB", "{ name: b, backend: memory, size: 2MiB", 1)
		}, []string{"volume b resized from 1MiB to 2MiB"}, ""},
		{"shrink refused", func(s string) string {
			return strings.Replace(s, "{ name: a, backend: memory, size: 1MiB", "{ name: a, backend: memory, size: 512KiB", 1)
		}, nil, "does not shrink"},
		{"portal moved to another port", func(s string) string { return strings.Replace(s, "3260", "3261", 1) },
			[]string{"portal 127.0.0.1:3261 (group 1) added", "portal 127.0.0.1:3260 (group 1) removed"}, ""},
		{"portal group added", func(s string) string {
			return strings.Replace(s, "volumes:", "  - { tag: 2, portals: [\"[::1]:3260\"] }\nvolumes:", 1)
		}, []string{"portal [::1]:3260 (group 2) added", "target iqn.2026-11.io.halun.test:t: portal groups [1 2]"}, ""},
		{"portal in two groups refused", func(s string) string {
			return strings.Replace(s, "volumes:", "  - { tag: 2, portals: [\"127.0.0.1:3260\"] }\nvolumes:", 1)
		}, nil, "halun.yaml"},
		{"invalid", func(s string) string { return strings.Replace(s, "volume: a", "volume: nope", 1) }, nil, "halun.yaml:"},
		{"map and params", func(s string) string {
			return strings.Replace(s, "    access: { all: true }\n",
				"      - { lun: 1, volume: b }\n    access: { all: true }\n    params: { MaxBurstLength: 262144 }\n", 1)
		}, []string{"LUN 1 (volume b) added", "params changed (new sessions)"}, ""},
		{"remove volume and target", func(s string) string {
			s = strings.Replace(s, "  - { name: b, backend: memory, size: 1MiB, serial: bbbb000000000001 }\n", "", 1)
			return s + "  - iqn: iqn.2026-11.io.halun.test:u\n    access: { all: true }\n"
		}, []string{"volume b removed", "target iqn.2026-11.io.halun.test:u added"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, path := buildFrom(t, baseConfig)
			before := n.Config()
			changes, err := reloadWith(t, n, path, c.edit(baseConfig))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				if n.Config() != before {
					t.Errorf("a refused reload changed the running config")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != len(c.changes) {
				t.Fatalf("changes %q, want %q", changes, c.changes)
			}
			for i, want := range c.changes {
				if !strings.Contains(changes[i], want) {
					t.Errorf("change %d: %q, want %q", i, changes[i], want)
				}
			}
			// A second reload of the same file changes nothing.
			if res, err := n.Reload(); err != nil || len(res.Changes) != 0 {
				t.Errorf("second reload: %+v %v", res, err)
			}
		})
	}
}

func TestReloadConcurrentWithListings(t *testing.T) {
	n, path := buildFrom(t, baseConfig)
	grown := strings.Replace(baseConfig, "      - { lun: 0, volume: a }\n", "      - { lun: 0, volume: a }\n      - { lun: 1, volume: b }\n", 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n.Volumes()
				n.Targets()
				n.Portals()
				n.Sessions()
			}
		}()
	}
	for i := 0; i < 20; i++ {
		text := baseConfig
		if i%2 == 0 {
			text = grown
		}
		if _, err := reloadWith(t, n, path, text); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
