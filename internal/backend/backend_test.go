package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// stores returns one fresh store of each kind that can be made in a test.
func stores(t *testing.T, size int64) map[string]Store {
	t.Helper()
	f, err := OpenFile(filepath.Join(t.TempDir(), "lun.img"), size, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return map[string]Store{"file": f, "memory": NewMemory(size)}
}

func TestStoreReadWrite(t *testing.T) {
	const size = 3*memChunk + 4096
	cases := []struct {
		name string
		off  int64
		n    int
	}{
		{"first sector", 0, 512},
		{"across chunk boundary", memChunk - 100, 300},
		{"several chunks", 100, 2*memChunk + 7},
		{"last bytes", size - 4096, 4096},
		{"empty", 12345, 0},
	}
	for kind, s := range stores(t, size) {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				if s.Size() != size {
					t.Fatalf("Size = %d, want %d", s.Size(), size)
				}
				data := make([]byte, c.n)
				for i := range data {
					data[i] = byte(i*7 + 1)
				}
				if err := s.WriteAt(ctx, data, c.off, false); err != nil {
					t.Fatalf("WriteAt: %v", err)
				}
				got := make([]byte, c.n)
				if err := s.ReadAt(ctx, got, c.off); err != nil {
					t.Fatalf("ReadAt: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatal("read back differs from written data")
				}
				if err := s.Sync(ctx); err != nil {
					t.Fatalf("Sync: %v", err)
				}
			})
		}
	}
}

func TestStoreOutOfRange(t *testing.T) {
	const size = 8192
	cases := []struct {
		name string
		off  int64
		n    int
	}{
		{"past end", size - 10, 11},
		{"at end", size, 1},
		{"negative", -1, 1},
	}
	for kind, s := range stores(t, size) {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				if err := s.ReadAt(ctx, make([]byte, c.n), c.off); !errors.Is(err, ErrOutOfRange) {
					t.Errorf("ReadAt err = %v, want ErrOutOfRange", err)
				}
				if err := s.WriteAt(ctx, make([]byte, c.n), c.off, false); !errors.Is(err, ErrOutOfRange) {
					t.Errorf("WriteAt err = %v, want ErrOutOfRange", err)
				}
				if err := s.Unmap(ctx, c.off, int64(c.n)); !errors.Is(err, ErrOutOfRange) {
					t.Errorf("Unmap err = %v, want ErrOutOfRange", err)
				}
			})
		}
	}
}

func TestStoreUnmapReadsZeros(t *testing.T) {
	const size = 4 * memChunk
	cases := []struct {
		name   string
		off, n int64
	}{
		{"partial block", 100, 200},
		{"whole chunk", memChunk, memChunk},
		{"unaligned across chunks", memChunk - 4096, memChunk + 8192},
		{"to the end", 3*memChunk + 512, memChunk - 512},
		{"nothing", 4096, 0},
	}
	for kind, s := range stores(t, size) {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				all := bytes.Repeat([]byte{0xa5}, size)
				if err := s.WriteAt(ctx, all, 0, false); err != nil {
					t.Fatal(err)
				}
				if err := s.Unmap(ctx, c.off, c.n); err != nil {
					t.Fatalf("Unmap: %v", err)
				}
				got := make([]byte, size)
				if err := s.ReadAt(ctx, got, 0); err != nil {
					t.Fatal(err)
				}
				for i, b := range got {
					in := int64(i) >= c.off && int64(i) < c.off+c.n
					if in && b != 0 || !in && b != 0xa5 {
						t.Fatalf("byte %d = %#x after unmap of [%d,+%d)", i, b, c.off, c.n)
					}
				}
			})
		}
	}
}

func TestMemoryThinAllocation(t *testing.T) {
	m := NewMemory(1 << 30)
	if a := m.Allocated(); a != 0 {
		t.Fatalf("fresh 1 GiB store holds %d bytes", a)
	}
	if err := m.WriteAt(ctx, []byte{1}, 5*memChunk+3, false); err != nil {
		t.Fatal(err)
	}
	if a := m.Allocated(); a != memChunk {
		t.Fatalf("after one write Allocated = %d, want %d", a, memChunk)
	}
	mapped, run, _ := m.MapStatus(5*memChunk, 3*memChunk)
	if !mapped || run != memChunk {
		t.Fatalf("MapStatus = %v, %d; want mapped one chunk", mapped, run)
	}
	mapped, run, _ = m.MapStatus(0, 5*memChunk+10)
	if mapped || run != 5*memChunk {
		t.Fatalf("MapStatus = %v, %d; want hole of five chunks", mapped, run)
	}
	if err := m.Unmap(ctx, 5*memChunk, memChunk); err != nil {
		t.Fatal(err)
	}
	if a := m.Allocated(); a != 0 {
		t.Fatalf("after unmap Allocated = %d, want 0", a)
	}
}

// TestMemoryConcurrent writes, reads and unmaps from eight goroutines at
// once, each on its own 64 KiB slots that straddle chunk boundaries: every
// read must return what that goroutine last left there, so a lost or
// misplaced write fails the test with or without -race.
func TestMemoryConcurrent(t *testing.T) {
	const (
		workers = 8
		slot    = 64 << 10
		slots   = 4 * memChunk / slot / workers
	)
	m := NewMemory(4 * memChunk)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				shadow := make([][]byte, slots)
				buf := make([]byte, slot)
				for i := range 200 {
					k := (i * 7) % slots
					// Slots interleave across workers so neighbours share chunks.
					off := int64(k*workers+g) * slot
					switch i % 3 {
					case 0:
						w := bytes.Repeat([]byte{byte(g<<4 | i&15)}, slot)
						if err := m.WriteAt(ctx, w, off, false); err != nil {
							return err
						}
						shadow[k] = w
					case 1:
						if err := m.ReadAt(ctx, buf, off); err != nil {
							return err
						}
						want := shadow[k]
						if want == nil {
							want = make([]byte, slot)
						}
						if !bytes.Equal(buf, want) {
							return fmt.Errorf("worker %d: slot at %d reads back data it did not leave there", g, off)
						}
					default:
						if err := m.Unmap(ctx, off, slot); err != nil {
							return err
						}
						shadow[k] = nil
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		path     string
		size     int64
		create   bool
		wantSize int64
		wantErr  bool
	}{
		{"create sparse", filepath.Join(dir, "new"), 1 << 30, true, 1 << 30, false},
		{"missing without create", filepath.Join(dir, "missing"), 4096, false, 0, true},
		{"existing, size from file", existing, 0, false, 4096, false},
		{"existing, grown", existing, 8192, false, 8192, false},
		{"existing, would shrink", existing, 512, false, 0, true},
		{"directory", dir, 4096, false, 0, true},
		{"create with size zero", filepath.Join(dir, "zero"), 0, true, 0, true},
		{"negative size", filepath.Join(dir, "neg"), -1, true, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := OpenFile(c.path, c.size, c.create)
			if c.wantErr {
				if err == nil {
					f.Close()
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Size() != c.wantSize {
				t.Fatalf("Size = %d, want %d", f.Size(), c.wantSize)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(c.path, &st); err != nil {
				t.Fatal(err)
			}
			if c.create && st.Blocks*512 >= c.wantSize {
				t.Errorf("created file is not sparse: %d blocks", st.Blocks)
			}
		})
	}
}

func TestFileUnmapPunchesHoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lun")
	f, err := OpenFile(path, 8<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.WriteAt(ctx, bytes.Repeat([]byte{1}, 8<<20), 0, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Unmap(ctx, 0, 8<<20); err != nil {
		t.Fatal(err)
	}
	mapped, run, err := f.MapStatus(0, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	if f.noPunch.Load() {
		t.Skip("file system cannot punch holes; zeros were written instead")
	}
	if mapped || run != 8<<20 {
		t.Errorf("after punching the whole file MapStatus = %v, %d", mapped, run)
	}
}

func TestOpenBlockRejectsRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notdev")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := OpenBlock(path); err == nil {
		b.Close()
		t.Fatal("OpenBlock accepted a regular file")
	}
	if b, err := OpenBlock("/dev/null"); err == nil {
		b.Close()
		t.Fatal("OpenBlock accepted a character device")
	}
}

// TestUnmapChain checks the fallback order Block.Unmap relies on: a step
// that is unsupported is skipped from then on, a real error is returned.
func TestUnmapChain(t *testing.T) {
	var noA, noB atomic.Bool
	var calls []string
	step := func(name string, err error, flag *atomic.Bool) unmapStep {
		return unmapStep{flag, name, func() error { calls = append(calls, name); return err }}
	}
	last := func() error { calls = append(calls, "zeros"); return nil }

	err := unmapChain("dev", 0, 1, []unmapStep{step("punch", syscall.EOPNOTSUPP, &noA), step("zeroout", syscall.ENOTTY, &noB)}, last)
	if err != nil || len(calls) != 3 || !noA.Load() || !noB.Load() {
		t.Fatalf("first run: err %v calls %v", err, calls)
	}
	calls = nil
	if err := unmapChain("dev", 0, 1, []unmapStep{step("punch", nil, &noA), step("zeroout", nil, &noB)}, last); err != nil || len(calls) != 1 || calls[0] != "zeros" {
		t.Fatalf("second run should go straight to zeros: err %v calls %v", err, calls)
	}
	var noC atomic.Bool
	calls = nil
	if err := unmapChain("dev", 0, 1, []unmapStep{step("punch", syscall.EIO, &noC)}, last); !errors.Is(err, syscall.EIO) || len(calls) != 1 {
		t.Fatalf("I/O error must be returned: err %v calls %v", err, calls)
	}
}

// ctx is the context of the tests' store calls.
var ctx = context.Background()
