package integration

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/test/harness"
)

// mountSmallFS mounts a tmpfs of size bytes for the test. Only root can;
// CI runs as root, so elsewhere the test is skipped.
func mountSmallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	// Registered after TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// wantNoSpace fails unless err is CHECK CONDITION, DATA PROTECT, SPACE
// ALLOCATION FAILED WRITE PROTECT (SBC-3 4.7.3.6).
func wantNoSpace(t *testing.T, err error) {
	t.Helper()
	var se *initiator.SCSIError
	if !errors.As(err, &se) || se.SenseKey != 0x07 || se.ASC != 0x27 || se.ASCQ != 0x07 {
		t.Fatalf("write to the full volume: %v, want DATA PROTECT 27h/07h", err)
	}
}

// TestThinVolumeOutOfSpace fills a thin file volume bigger than the 4 MiB
// tmpfs holding it, through the initiator: the write that finds no room
// is SPACE ALLOCATION FAILED WRITE PROTECT, logged once however many
// writes follow; reads still work, another volume still takes writes, and
// once space is freed the volume takes writes again without a restart.
func TestThinVolumeOutOfSpace(t *testing.T) {
	small := mountSmallFS(t, "4m")
	filler := filepath.Join(small, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t, "127.0.0.1")
	logs := &harness.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	startConfigLog(t, fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q]}
volumes:
  - {name: thin, backend: file, path: %s, size: 64MiB, thin: true, serial: nospace-0001}
  - {name: other, backend: file, path: %s, size: 8MiB, serial: nospace-0002}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: thin}, {lun: 1, volume: other}]
    access: {all: true}
`, addr, filepath.Join(small, "thin.img"), filepath.Join(t.TempDir(), "other.img"), targetIQN), log)

	ctx := ctxT(t)
	s, err := initiator.Dial(ctx, addr, initiator.Options{InitiatorName: initiatorIQN, TargetName: targetIQN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for lun := uint64(0); lun < 2; lun++ {
		s.TestUnitReady(ctx, lun) // the POWER ON unit attention
		if err := s.TestUnitReady(ctx, lun); err != nil {
			t.Fatalf("LUN %d: %v", lun, err)
		}
	}

	const chunk = 256 << 10
	data := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, chunk) }
	var lba uint64
	i := 0
	for ; ; i++ {
		if lba*blockSize >= 64<<20 {
			t.Fatal("64 MiB written to a 4 MiB file system without an error")
		}
		err = s.Write(ctx, 0, lba, data(i), blockSize)
		if err != nil {
			break
		}
		lba += chunk / blockSize
	}
	wantNoSpace(t, err)
	if lba == 0 {
		t.Fatal("not even the first write found room")
	}
	t.Logf("full after %d KiB", lba*blockSize>>10)
	for j := 0; j < 5; j++ {
		wantNoSpace(t, s.Write(ctx, 0, lba, data(i), blockSize))
		got, err := s.Read(ctx, 0, 0, chunk/blockSize, blockSize)
		if err != nil || !bytes.Equal(got, data(0)) {
			t.Fatalf("read of the full volume: %v", err)
		}
		if err := s.Write(ctx, 1, uint64(j)*(chunk/blockSize), data(j), blockSize); err != nil {
			t.Fatalf("write to the other volume: %v", err)
		}
	}
	if l := logs.Lines("level=ERROR"); len(l) != 1 || !strings.Contains(l[0], "out of space") || !strings.Contains(l[0], "nospace-0001") {
		t.Errorf("error log after 6 refused writes: %q, want one line naming the volume", l)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, 0, lba, data(i), blockSize); err != nil {
		t.Fatalf("write once space returned: %v", err)
	}
	got, err := s.Read(ctx, 0, lba, chunk/blockSize, blockSize)
	if err != nil || !bytes.Equal(got, data(i)) {
		t.Fatalf("read back of the write after space returned: %v", err)
	}
	if l := logs.Lines("writable again"); len(l) != 1 {
		t.Errorf("log of space returning: %q", l)
	}
}
