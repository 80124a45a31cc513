package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func serialsConfig(t *testing.T, dir, volumes string) *Config {
	t.Helper()
	src := "node: {data_dir: " + dir + "}\nportal_groups: [{tag: 1, portals: [\":3260\"]}]\nvolumes:\n" + volumes +
		"targets: [{iqn: iqn.2003-01.org.example:t, access: {all: true}}]\n"
	c, err := Parse("h.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureSerialsGeneratesOnceAndPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by EnsureSerials
	vols := "  - {name: a, backend: memory, size: 1MiB}\n  - {name: b, backend: memory, size: 1MiB, serial: fixed1}\n  - {name: c, backend: memory, size: 1MiB}\n"
	c := serialsConfig(t, dir, vols)
	if err := EnsureSerials(c); err != nil {
		t.Fatal(err)
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	a, b, cc := c.Volumes[0].Serial, c.Volumes[1].Serial, c.Volumes[2].Serial
	if !hex16.MatchString(a) || !hex16.MatchString(cc) || a == cc {
		t.Errorf("generated serials %q %q", a, cc)
	}
	if b != "fixed1" {
		t.Errorf("configured serial changed to %q", b)
	}
	data, err := os.ReadFile(filepath.Join(dir, SerialsFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc serialsDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 1 || doc.Volumes["a"].Serial != a || len(doc.Volumes) != 2 {
		t.Errorf("serials file %s (%v)", data, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}

	// A restart gets the same serials, and a new volume a new one, while
	// a removed volume's serial stays on file.
	c2 := serialsConfig(t, dir, "  - {name: c, backend: memory, size: 1MiB}\n  - {name: d, backend: memory, size: 1MiB}\n")
	if err := EnsureSerials(c2); err != nil {
		t.Fatal(err)
	}
	if c2.Volumes[0].Serial != cc || c2.Volumes[1].Serial == "" || c2.Volumes[1].Serial == cc {
		t.Errorf("after restart: %+v", c2.Volumes)
	}
	c3 := serialsConfig(t, dir, "  - {name: a, backend: memory, size: 1MiB}\n")
	if err := EnsureSerials(c3); err != nil || c3.Volumes[0].Serial != a {
		t.Errorf("re-added volume: serial %q, %v; want %q", c3.Volumes[0].Serial, err, a)
	}
}

func TestEnsureSerialsNoopWhenAllSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	c := serialsConfig(t, dir, "  - {name: a, backend: memory, size: 1MiB, serial: s1}\n")
	if err := EnsureSerials(c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir touched although every serial is configured: %v", err)
	}
}

func TestEnsureSerialsDamagedFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, SerialsFile)
	for _, content := range []string{"{not json", `{"version": 2, "volumes": {}}`, `{"version": 1, "volumes": {"a": {"serial": "has space"}}}`} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		c := serialsConfig(t, dir, "  - {name: a, backend: memory, size: 1MiB}\n")
		err := EnsureSerials(c)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want an error naming %s, got %v", content, p, err)
		}
		if c.Volumes[0].Serial != "" {
			t.Errorf("%s: config changed on error", content)
		}
		if got, _ := os.ReadFile(p); string(got) != content {
			t.Errorf("%s: damaged file overwritten", content)
		}
	}
}

func TestEnsureSerialsCollision(t *testing.T) {
	dir := t.TempDir()
	doc := `{"version": 1, "volumes": {"a": {"serial": "0123456789abcdef"}}}`
	if err := os.WriteFile(filepath.Join(dir, SerialsFile), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c := serialsConfig(t, dir, "  - {name: a, backend: memory, size: 1MiB}\n  - {name: b, backend: memory, size: 1MiB, serial: 0123456789ABCDEF}\n")
	err := EnsureSerials(c)
	if err == nil || !strings.Contains(err.Error(), "also configured for volume b") {
		t.Errorf("want collision error, got %v", err)
	}
}

func TestEnsureSerialsUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	c := serialsConfig(t, dir, "  - {name: a, backend: memory, size: 1MiB}\n")
	if err := EnsureSerials(c); err == nil || c.Volumes[0].Serial != "" {
		t.Errorf("want an error and an unchanged config, got %v, %q", err, c.Volumes[0].Serial)
	}
}
