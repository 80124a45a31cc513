package importer

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
)

// fakeInfo is what fakeStat reports for a path.
type fakeInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (f fakeInfo) Name() string       { return f.name }
func (f fakeInfo) Size() int64        { return f.size }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// fakeStat answers as the old storage host would: files in sizes, paths
// under /dev are block devices, anything else does not exist.
func fakeStat(sizes map[string]int64) func(string) (fs.FileInfo, error) {
	return func(p string) (fs.FileInfo, error) {
		if n, ok := sizes[p]; ok {
			return fakeInfo{name: p, size: n}, nil
		}
		if strings.HasPrefix(p, "/dev/") {
			return fakeInfo{name: p, mode: fs.ModeDevice}, nil
		}
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
}

// hostFiles are the file volumes of the sample configs, as on the old host.
var hostFiles = map[string]int64{
	"/srv/iscsi/vm_data1.img": 50 << 30,
	"/srv/iscsi/backup.img":   2<<40 + 1000, // a partial block at the end
	"/srv/iscsi/scratch.img":  8 << 30,
	// tgt samples
	"/srv/tgt/c/zz.img":      8 << 20,
	"/srv/tgt/c/aa.img":      8 << 20,
	"/srv/tgt/c/mm.img":      8 << 20,
	"/srv/tgt/c/direct1.img": 8 << 20,
	"/srv/tgt/c/beta1.img":   8 << 20,
	"/srv/tgt/c/beta2.img":   8 << 20,
	"/srv/tgt/c/gamma1.img":  8 << 20,
	"/srv/tgt/disk1.img":     16 << 20,
	"/srv/tgt/disk2.img":     16 << 20,
	"/srv/tgt/disk3.img":     16 << 20,
	"/srv/tgt/disk4.img":     16 << 20,
	"/srv/tgt/disk5.img":     16 << 20,
	"/srv/tgt/disk6.img":     16 << 20,
	"/srv/tgt/disk7.img":     16 << 20,
	"/srv/tgt/disk8.img":     16 << 20,
	"/srv/tgt/disk9.img":     16 << 20,
}

// convertOK converts and requires the output to pass config.Parse.
func convertOK(t *testing.T, name string, data []byte, o Options) (*Result, *config.Config) {
	t.Helper()
	if o.Stat == nil {
		o.Stat = fakeStat(hostFiles)
	}
	res, err := Convert(name, data, o)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	c, err := config.Parse(name, res.YAML)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, res.YAML)
	}
	return res, c
}

// findingsWith returns the findings of level l whose message contains all
// of subs.
func findingsWith(list []Finding, l Level, subs ...string) []Finding {
	var out []Finding
next:
	for _, f := range list {
		if f.Level != l {
			continue
		}
		for _, s := range subs {
			if !strings.Contains(f.Msg, s) {
				continue next
			}
		}
		out = append(out, f)
	}
	return out
}

func wantFinding(t *testing.T, list []Finding, l Level, line int, subs ...string) {
	t.Helper()
	for _, f := range findingsWith(list, l, subs...) {
		if line < 0 || f.Line == line {
			return
		}
	}
	t.Errorf("no %s finding at line %d with %q; findings:\n%s", l, line, subs, dump(list))
}

func dump(list []Finding) string {
	var b strings.Builder
	for _, f := range list {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func vol(t *testing.T, c *config.Config, name string) *config.Volume {
	t.Helper()
	v := c.Volume(name)
	if v == nil {
		t.Fatalf("no volume %q", name)
	}
	return v
}

func tgt(t *testing.T, c *config.Config, iqn string) *config.Target {
	t.Helper()
	x := c.Target(iqn)
	if x == nil {
		t.Fatalf("no target %q", iqn)
	}
	return x
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
