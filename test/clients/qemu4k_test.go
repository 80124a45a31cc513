package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/halun/halun/test/harness"
)

// QEMU on thin 4096-byte volumes. QEMU 7.2 (Debian 12) keeps an allocation
// map when Block Limits reports an optimal unmap granularity of 4 KiB–16 MiB
// with LBPRZ, and then, on any read of 32 KiB or more, asks GET LBA STATUS
// for a length that is not a whole number of 4096-byte blocks and aborts on
// its own assertion (block/iscsi.c iscsi_co_block_status). halun reports no
// optimal unmap granularity on such volumes; these tests hold QEMU to
// working on them, with UNMAP still deallocating.

const thin4kIQN = "iqn.2026-11.io.halun.test:thin4k"

func startThin4K(t *testing.T) (*harness.Daemon, string) {
	t.Helper()
	cfg := writeConfig(t, `volumes:
  - {name: t4k, backend: file, path: t4k.img, size: 256MiB, block_size: 4096, thin: true, serial: 5e2a40960001}
targets:
  - iqn: `+thin4kIQN+`
    portal_groups: [1]
    luns: [{lun: 0, volume: t4k}]
    access: {all: true}
`)
	d := harness.Start(t, harness.Options{Config: cfg, IQN: thin4kIQN})
	return d, filepath.Join(d.DataDir, "t4k.img")
}

// qemuIO runs one qemu-io process with the given commands on a raw image.
func qemuIO(t *testing.T, url string, cmds []string) string {
	t.Helper()
	args := []string{"-f", "raw"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out := run(t, "qemu-io", append(args, url)...)
	if strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed:") {
		t.Fatalf("qemu-io reports a failure:\n%s", out)
	}
	return out
}

// allocated is the space a file takes on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestQemuIOThin4096PatternVerify writes 64 MiB of patterns with qemu-io
// and reads them back in 32 KiB–4 MiB pieces, reads never-written space
// (the reads that aborted QEMU), and unmaps through WRITE SAME with UNMAP:
// the blocks read as zeros and the file gives the space back.
func TestQemuIOThin4096PatternVerify(t *testing.T) {
	d, img := startThin4K(t)
	const total = 64 << 20
	sizes := []int{32 << 10, 64 << 10, 128 << 10, 512 << 10, 1 << 20, 4 << 20}
	var writes, reads []string
	for off, i := 0, 0; off < total; i++ {
		n := min(sizes[i%len(sizes)], total-off)
		pat := 0x10 + i%0xe0
		writes = append(writes, fmt.Sprintf("write -P 0x%x %d %d", pat, off, n))
		reads = append(reads, fmt.Sprintf("read -P 0x%x %d %d", pat, off, n))
		off += n
	}
	qemuIO(t, d.URL(0), writes)
	qemuIO(t, d.URL(0), append(reads,
		// Never written: thin and zero, read in pieces from 32 KiB up.
		"read -P 0 100M 32k", "read -P 0 101M 64k", "read -P 0 120M 4M"))
	before := allocated(t, img)
	if before < total {
		t.Fatalf("volume file holds %d bytes after writing %d", before, total)
	}
	qemuIO(t, d.URL(0), []string{"write -z -u 0 32M", "read -P 0 0 4M", "read -P 0 28M 4M"})
	if after := allocated(t, img); after > before-16<<20 {
		t.Fatalf("unmapping 32 MiB left the file at %d bytes (was %d): UNMAP did not deallocate", after, before)
	}
}

// TestQemuImgConvertThin4096 copies a 64 MiB image onto a thin 4096-byte
// volume and back with qemu-img convert: the bytes must match.
func TestQemuImgConvertThin4096(t *testing.T) {
	d, _ := startThin4K(t)
	dir := t.TempDir()
	_, back := convertRoundTrip(t, d.URL(0), dir, 64<<20)
	st, err := os.Stat(back)
	if err != nil || st.Size() != 256<<20 {
		t.Fatalf("image read back: %v, size %v, want the whole 256 MiB volume", err, st)
	}
}
