// Package clients checks halun with the real userspace initiators available
// on Debian: libiscsi's command-line tools and QEMU's iSCSI block driver.
package clients

import (
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/test/harness"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := harness.Need(t, name)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestIscsiLsListsTargetAndLUN(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	out := run(t, "iscsi-ls", "-s", "iscsi://"+d.Addr)
	if !strings.Contains(out, "Target:"+harness.DefaultIQN) {
		t.Errorf("iscsi-ls does not list %s:\n%s", harness.DefaultIQN, out)
	}
	if !strings.Contains(out, "Lun:0") || !strings.Contains(out, "Type:DIRECT_ACCESS") {
		t.Errorf("iscsi-ls does not show LUN 0 as a disk:\n%s", out)
	}
	if !strings.Contains(out, "Portal:"+d.Addr+",1") {
		t.Errorf("iscsi-ls does not show portal %s,1:\n%s", d.Addr, out)
	}
}

func TestIscsiInqAndReadCapacity(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	out := run(t, "iscsi-inq", d.URL(0))
	for _, want := range []string{"Peripheral Device Type:DIRECT_ACCESS", "Vendor:HALUN", "Version Descriptor:0960 iSCSI"} {
		if !strings.Contains(out, want) {
			t.Errorf("iscsi-inq output lacks %q:\n%s", want, out)
		}
	}
	out = run(t, "iscsi-inq", "-e", "1", "-c", "128", d.URL(0))
	if !strings.Contains(out, "Unit Serial Number:") {
		t.Errorf("iscsi-inq VPD 0x80 has no serial:\n%s", out)
	}
	out = run(t, "iscsi-readcapacity16", d.URL(0))
	// The embedded default is a 1 GiB volume of 512-byte blocks.
	if !strings.Contains(out, "LOGICAL BLOCK LENGTH IN BYTES:512") || !strings.Contains(out, "Total size:1073741824") {
		t.Errorf("iscsi-readcapacity16 does not report 1 GiB of 512-byte blocks:\n%s", out)
	}
}

func sha256File(t *testing.T, path string, n int64) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, n)); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// randomFile writes size random bytes to path.
func randomFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
}

// convertRoundTrip writes size random bytes onto the LUN at url with
// qemu-img convert and reads the whole LUN back the same way; the first
// size bytes must match. It returns the image written and the one read.
func convertRoundTrip(t *testing.T, url, dir string, size int64) (src, back string) {
	t.Helper()
	src = filepath.Join(dir, "src.raw")
	randomFile(t, src, size)
	run(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, url)
	back = filepath.Join(dir, "back.raw")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", url, back)
	if a, b := sha256File(t, src, size), sha256File(t, back, size); a != b {
		t.Fatalf("data read back differs: sha256 %x written, %x read", a, b)
	}
	return src, back
}

// TestQemuImgConvertRoundTrip writes a 64 MiB random image onto the LUN with
// qemu-img convert and reads it back: the sha256 must match.
func TestQemuImgConvertRoundTrip(t *testing.T) {
	d := harness.Start(t, harness.Options{})
	dir := t.TempDir()
	const size = 64 << 20
	src, _ := convertRoundTrip(t, d.URL(0), dir, size)
	// The volume outlives a restart: stop, start on the same data dir, read again.
	d.Stop(t)
	d2 := harness.Start(t, harness.Options{DataDir: d.DataDir})
	back2 := filepath.Join(dir, "back2.raw")
	run(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", d2.URL(0), back2)
	if a, b := sha256File(t, src, size), sha256File(t, back2, size); a != b {
		t.Fatalf("data after restart differs: sha256 %x written, %x read", a, b)
	}
}
