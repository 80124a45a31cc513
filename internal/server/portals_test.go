package server

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
)

func TestPortalChanges(t *testing.T) {
	n, path := buildFrom(t, baseConfig)
	res, err := n.AddPortal(2, "[::1]:3260")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Persisted || !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "portal [::1]:3260 (group 2) added") }) {
		t.Errorf("add: %+v", res)
	}
	if text, _ := os.ReadFile(path); !strings.Contains(string(text), "  - tag: 2\n    portals: [\"[::1]:3260\"]\n") {
		t.Errorf("config after add:\n%s", text)
	}
	if pg := n.Config().PortalGroup(2); pg == nil || len(pg.Portals) != 1 {
		t.Errorf("running portal group 2: %+v", pg)
	}
	if _, err := n.RemovePortal("[::1]:3260"); err != nil {
		t.Fatal(err)
	}
	if text, _ := os.ReadFile(path); string(text) != baseConfig {
		t.Errorf("config after remove:\n%s", text)
	}
	if n.Config().PortalGroup(2) != nil {
		t.Errorf("portal group 2 still runs")
	}
}

// TestPortalChangesUnderListen: --listen replaces the config's portals on
// every load, so portal changes would not show; they are refused.
func TestPortalChangesUnderListen(t *testing.T) {
	n, path := buildFrom(t, baseConfig)
	n.SetSource(path, config.Overrides{DataDir: t.TempDir(), Listen: "127.0.0.1:3299"})
	if _, err := n.AddPortal(1, "127.0.0.2:3260"); err == nil || !strings.Contains(err.Error(), "started with --listen 127.0.0.1:3299") {
		t.Errorf("add under --listen: %v", err)
	}
	if _, err := n.RemovePortal("127.0.0.1:3260"); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("remove under --listen: %v", err)
	}
	if text, _ := os.ReadFile(path); string(text) != baseConfig {
		t.Errorf("a refused change wrote the config:\n%s", text)
	}
	n.SetSource("", config.Overrides{Listen: "127.0.0.1:3299"})
	if _, err := n.AddPortal(1, "127.0.0.2:3260"); err == nil || !strings.Contains(err.Error(), "embedded default") {
		t.Errorf("add serving the embedded default: %v", err)
	}
}
