package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/test/harness"
)

// TestServeVolumeOpenFails runs the real binary on configs whose volume
// cannot be opened: `halun serve` must exit 1 naming the config's file and
// line, as `halun reload` does, not panic.
func TestServeVolumeOpenFails(t *testing.T) {
	bin := harness.Binary(t)
	cases := []struct{ name, volume, want string }{
		{"missing block device", "{name: v, backend: block, path: %s/no-such-device}", "open block device"},
		{"file larger than its file system allows", "{name: v, backend: file, path: %s/v.img, size: 4096PiB}", "file too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeFile(t, "halun.yaml", fmt.Sprintf(`node: {data_dir: %s}
portal_groups: [{tag: 1, portals: ["127.0.0.1:%d"]}]
volumes:
  - `+c.volume+`
targets: [{iqn: iqn.2003-01.org.example:t, luns: [{lun: 0, volume: v}], access: {all: true}}]
`, dir, harness.FreePort(t), dir))
			cmd := exec.Command(bin, "serve", "--config", cfg, "--admin-socket", "off")
			done := make(chan struct{})
			timer := time.AfterFunc(30*time.Second, func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
				}
			})
			out, err := cmd.CombinedOutput()
			close(done)
			timer.Stop()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("halun serve: %v, want exit status 1\n%s", err, out)
			}
			if strings.Contains(string(out), "panic") {
				t.Errorf("halun serve panicked:\n%s", out)
			}
			want := "halun: " + filepath.Clean(cfg) + ":4: volumes[0]: volume v: "
			if !strings.Contains(string(out), want) || !strings.Contains(string(out), c.want) {
				t.Errorf("output lacks %q and %q:\n%s", want, c.want, out)
			}
		})
	}
}
