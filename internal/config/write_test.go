package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/write")

// golden compares got with testdata/write/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "write", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func loadCommented(t *testing.T) *Document {
	t.Helper()
	d, err := LoadDocument(filepath.Join("testdata", "write", "commented.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDocumentEditsKeepComments makes each management edit on a commented
// config and compares the result with a golden file: every comment, blank
// line and alignment that the edit does not touch stays as written.
func TestDocumentEditsKeepComments(t *testing.T) {
	thin := true
	cases := []struct {
		name string
		edit func(d *Document) error
	}{
		{"add-volume", func(d *Document) error {
			return d.AddVolume(VolumeSpec{Name: "data", Backend: "memory", Size: "1GiB", Thin: &thin})
		}},
		{"remove-volume", func(d *Document) error {
			if err := d.UnmapLUN("iqn.2026-11.io.halun:rig", "", 1); err != nil {
				return err
			}
			return d.RemoveVolume("scratch")
		}},
		{"resize-volume", func(d *Document) error { return d.SetVolumeSize("boot", "96MiB") }},
		{"map-lun", func(d *Document) error {
			if err := d.AddVolume(VolumeSpec{Name: "data", Backend: "memory", Size: "1GiB"}); err != nil {
				return err
			}
			return d.MapLUN("iqn.2026-11.io.halun:rig", "", 7, "data")
		}},
		{"unmap-lun", func(d *Document) error { return d.UnmapLUN("IQN.2026-11.io.halun:RIG", "", 0) }},
		{"add-acl", func(d *Document) error {
			return d.AddACL("iqn.2026-11.io.halun:rig", ACLSpec{Initiator: "iqn.2026-11.io.halun:host3",
				LUNs: []LUN{{LUN: 0, Volume: "scratch"}}})
		}},
		{"remove-acl", func(d *Document) error {
			return d.RemoveACL("iqn.2026-11.io.halun:rig", "iqn.2026-11.io.halun:host1")
		}},
		{"add-target", func(d *Document) error {
			return d.AddTarget(TargetSpec{IQN: "iqn.2026-11.io.halun:second", PortalGroups: []uint16{1},
				LUNs: []LUN{{LUN: 0, Volume: "scratch"}}, AllInitiators: true})
		}},
		{"remove-target", func(d *Document) error {
			if err := d.AddTarget(TargetSpec{IQN: "iqn.2026-11.io.halun:second", AllInitiators: true}); err != nil {
				return err
			}
			return d.RemoveTarget("iqn.2026-11.io.halun:rig")
		}},
		{"initiator-luns", func(d *Document) error {
			if err := d.MapLUN("iqn.2026-11.io.halun:rig", "iqn.2026-11.io.halun:host2", 3, "boot"); err != nil {
				return err
			}
			return d.MapLUN("iqn.2026-11.io.halun:rig", "iqn.2026-11.io.halun:host2", 4, "scratch")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEdit(t, c.name, c.edit) })
	}
}

// checkEdit makes edit on the commented config and checks the result: made
// as a text patch, valid, with the comments kept, and equal to the golden
// file name.yaml.
func checkEdit(t *testing.T, name string, edit func(*Document) error, comments ...string) {
	t.Helper()
	d := loadCommented(t)
	if err := edit(d); err != nil {
		t.Fatal(err)
	}
	out := d.Bytes()
	if d.Reencoded {
		t.Errorf("the edit fell back to re-encoding the whole file")
	}
	if _, err := Parse("edited.yaml", out); err != nil {
		t.Errorf("edited config is invalid: %v\n%s", err, out)
	}
	for _, comment := range append([]string{"# halun config of the test rig.", "# end of file", "# the front network"}, comments...) {
		if !strings.Contains(string(out), comment) {
			t.Errorf("comment %q lost", comment)
		}
	}
	golden(t, name+".yaml", out)
}

func TestDocumentEditErrors(t *testing.T) {
	d := loadCommented(t)
	if err := d.AddVolume(VolumeSpec{Name: "BOOT", Backend: "memory", Size: "1MiB"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate volume: %v", err)
	}
	if err := d.RemoveVolume("boot"); err == nil || !strings.Contains(err.Error(), "still mapped") {
		t.Errorf("removing a mapped volume: %v", err)
	}
	if err := d.RemoveVolume("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a missing volume: %v", err)
	}
	if err := d.MapLUN("iqn.2026-11.io.halun:rig", "", 0, "scratch"); !errors.Is(err, ErrExists) {
		t.Errorf("mapping a used LUN: %v", err)
	}
	if err := d.UnmapLUN("iqn.2026-11.io.halun:rig", "", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("unmapping a missing LUN: %v", err)
	}
	if err := d.MapLUN("iqn.2026-11.io.halun:nope", "", 0, "boot"); !errors.Is(err, ErrNotFound) {
		t.Errorf("mapping on a missing target: %v", err)
	}
	if err := d.RemoveACL("iqn.2026-11.io.halun:rig", "iqn.2026-11.io.halun:host1"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveACL("iqn.2026-11.io.halun:rig", "iqn.2026-11.io.halun:host2"); err == nil {
		t.Errorf("removing the last ACL entry was allowed")
	}
	if string(d.Bytes()) == "" {
		t.Fatal("empty document")
	}
}

// TestDocumentFallback edits a layout the patcher does not handle (a flow
// style list); the result is re-encoded, still correct and still commented.
func TestDocumentFallback(t *testing.T) {
	src := `# top comment
portal_groups: [{tag: 1, portals: ["127.0.0.1:3260"]}]
volumes: [{name: a, backend: memory, size: 1MiB, serial: s1}]   # inline
targets: [{iqn: "iqn.2026-11.io.halun:t", luns: [{lun: 0, volume: a}], access: {all: true}}]
`
	d, err := ParseDocument("flow.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddVolume(VolumeSpec{Name: "b", Backend: "memory", Size: "2MiB", Serial: "s2"}); err != nil {
		t.Fatal(err)
	}
	if err := d.MapLUN("iqn.2026-11.io.halun:t", "", 1, "b"); err != nil {
		t.Fatal(err)
	}
	if !d.Reencoded {
		t.Errorf("expected a re-encode")
	}
	c, err := Parse("flow.yaml", d.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, d.Bytes())
	}
	if len(c.Volumes) != 2 || len(c.Targets[0].LUNs) != 2 {
		t.Errorf("edits lost:\n%s", d.Bytes())
	}
	if !strings.Contains(string(d.Bytes()), "# top comment") {
		t.Errorf("comment lost:\n%s", d.Bytes())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "halun.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(real); string(b) != "new" {
		t.Errorf("content %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("leftover files: %v", ents)
	}
}
