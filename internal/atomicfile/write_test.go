package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// entries lists dir's names, to find leftover temporary files.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "one" {
		t.Errorf("content %q", got)
	}
	if err := Write(p, []byte("two, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "two, longer" {
		t.Errorf("content %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (Write sets perm)", fi.Mode().Perm())
	}
	if err := Write(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "" {
		t.Errorf("content %q, want empty", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("leftover files: %v", names)
	}
}

func TestWriteKeepMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteKeepMode(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
	if err := os.Chmod(p, 0o604); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeepMode(p, []byte("again"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o604 {
		t.Errorf("mode %v, want the kept 0604", fi.Mode().Perm())
	}
}

func TestWriteFollowsLink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeepMode(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, real); got != "new" {
		t.Errorf("target content %q", got)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

// readOnlyDir returns a directory nothing can be created in, holding the
// file "f" with content "old": a read-only tmpfs as root (whom
// permissions do not stop), a mode 0500 directory otherwise.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		return dir
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	return dir
}

// TestWriteErrors checks that each failing step is reported, wrapped with
// the path and the step, and leaves the old content and no temporary file.
func TestWriteErrors(t *testing.T) {
	t.Run("unwritable directory", func(t *testing.T) {
		dir := readOnlyDir(t)
		p := filepath.Join(dir, "f")
		err := Write(p, []byte("new"), 0o600)
		if err == nil || !strings.Contains(err.Error(), "write "+p+": create temporary file") {
			t.Fatalf("error %v", err)
		}
		if !errors.Is(err, syscall.EROFS) && !errors.Is(err, os.ErrPermission) {
			t.Errorf("error %v does not wrap the cause", err)
		}
		if got := readFile(t, p); got != "old" {
			t.Errorf("content %q after failure", got)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "no", "f")
		if err := Write(p, []byte("new"), 0o600); err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "d")
		if err := os.MkdirAll(filepath.Join(p, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		err := Write(p, []byte("new"), 0o600)
		if err == nil || !strings.Contains(err.Error(), "rename into place") {
			t.Fatalf("error %v", err)
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("temporary file left: %v", names)
		}
	})
	for _, step := range []struct {
		name string
		dir  bool // fail the directory's fsync, not the file's
		want string
	}{{"file fsync fails", false, "fsync temporary file"}, {"directory fsync fails", true, "fsync directory"}} {
		t.Run(step.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected EIO")
			syncFile = func(f *os.File) error {
				if (f.Name() == dir) == step.dir {
					return injected
				}
				return f.Sync()
			}
			t.Cleanup(func() { syncFile = (*os.File).Sync })
			err := Write(p, []byte("new"), 0o600)
			if !errors.Is(err, injected) || !strings.Contains(err.Error(), step.want) {
				t.Fatalf("error %v, want %q wrapping the injected one", err, step.want)
			}
			want := "old"
			if step.dir {
				want = "new" // renamed already; only its durability is in doubt
			}
			if got := readFile(t, p); got != want {
				t.Errorf("content %q, want %q", got, want)
			}
			if names := entries(t, dir); len(names) != 1 {
				t.Errorf("temporary file left: %v", names)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("still there: %v", err)
	}
	if err := Remove(p); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	injected := errors.New("injected EIO")
	if err := Write(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	syncFile = func(*os.File) error { return injected }
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	if err := Remove(p); !errors.Is(err, injected) || !strings.Contains(err.Error(), "fsync directory") {
		t.Errorf("directory fsync failure: %v", err)
	}
}

// TestRemoveStale: the temporary files of an interrupted write go, for one
// file or a whole directory; other files stay.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := mk("halun.yaml")
	stale := mk(".halun.yaml.tmp-123")
	other := mk(".serials.json.tmp-9")
	keep := []string{cfg, mk("halun.yaml.tmp-1"), mk(".halun.yaml.bak")}
	removed, err := RemoveStale(cfg)
	if err != nil || len(removed) != 1 || removed[0] != stale {
		t.Fatalf("RemoveStale removed %v, %v; want [%s]", removed, err, stale)
	}
	removed, err = RemoveStaleIn(dir)
	if err != nil || len(removed) != 1 || removed[0] != other {
		t.Fatalf("RemoveStaleIn removed %v, %v; want [%s]", removed, err, other)
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
