package backend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestIOErrorKinds(t *testing.T) {
	cases := []struct {
		cause error
		kind  error // nil: no kind
	}{
		{syscall.ENOSPC, ErrNoSpace},
		{syscall.EDQUOT, ErrNoSpace},
		{syscall.EIO, ErrIO},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.EIO}, ErrIO},
		{syscall.EBADF, nil},
		{ErrOutOfRange, nil},
	}
	for _, c := range cases {
		err := fmt.Errorf("backend x: write at 0: %w", ioError(c.cause))
		if !errors.Is(err, c.cause) {
			t.Errorf("%v: the cause is lost", c.cause)
		}
		for _, k := range []error{ErrNoSpace, ErrIO} {
			if errors.Is(err, k) != (k == c.kind) {
				t.Errorf("%v: errors.Is(%v) = %v", c.cause, k, !(k == c.kind))
			}
		}
		if err.Error() != "backend x: write at 0: "+c.cause.Error() {
			t.Errorf("message %q", err)
		}
	}
	if ioError(nil) != nil {
		t.Error("ioError(nil) is not nil")
	}
}

// smallFS mounts a tmpfs of size bytes at a temporary directory for the
// test. It needs root (CI runs as root); without it the test is skipped.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestFileNoSpace fills a thin file bigger than its file system: the write
// that finds no room reports ErrNoSpace, reads go on, and once space is
// freed the same write succeeds.
func TestFileNoSpace(t *testing.T) {
	dir := smallFS(t, 1<<20)
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(filepath.Join(dir, "thin.img"), 8<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 0xa5
	}
	var off int64
	for ; off < f.Size(); off += int64(len(chunk)) {
		if err = f.WriteAt(ctx, chunk, off, false); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write at %d of a full file system: %v, want ErrNoSpace", off, err)
	}
	got := make([]byte, len(chunk))
	if err := f.ReadAt(ctx, got, 0); err != nil || got[0] != 0xa5 {
		t.Fatalf("read after the failure: %v %x", err, got[0])
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteAt(ctx, chunk, off, false); err != nil {
		t.Fatalf("write after space returned: %v", err)
	}
}
