package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
)

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "halun.yaml")
	var stdout, stderr bytes.Buffer
	code := run([]string{"import", "--data-dir", "/var/lib/halun", "../../internal/config/importer/testdata/saveconfig.json", "-o", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "to review") || strings.Contains(stderr.String(), "web1initsecret") {
		t.Errorf("stdout %q, report:\n%s", stdout.String(), stderr.String())
	}
	c, err := config.Load(out)
	if err != nil {
		t.Fatalf("written config: %v", err)
	}
	if c.Node.DataDir != "/var/lib/halun" || c.Volume("web01") == nil {
		t.Errorf("config = %+v", c)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, %v", fi.Mode(), err)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"import", "--format", "scst", "../../internal/config/importer/testdata/scst.conf"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "iqn.2006-10.net.example:san.esx") {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("Target iqn.2001-04.com.example:a\n\tLun x Path=/a\n"), 0o644)
	stderr.Reset()
	if code := run([]string{"import", bad}, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "bad.conf:2:") {
		t.Errorf("bad input: exit %d, %s", code, stderr.String())
	}
	if code := run([]string{"import", "--format", "nope", bad}, &stdout, &stderr); code != exitUsage {
		t.Errorf("bad format: exit %d", code)
	}
}
