package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes give a config or an error, never a panic, and a
// config that parses is valid by every rule (it round-trips through
// validation unchanged).
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add(defaultYAML)
	if files, _ := filepath.Glob("../../examples/*.yaml"); files != nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if len(c.Targets) == 0 || len(c.PortalGroups) == 0 {
			t.Fatalf("accepted a config without targets or portal groups: %+v", c)
		}
		for _, v := range c.Volumes {
			if v.Backend != BackendBlock && (v.Size <= 0 || v.Size%int64(v.BlockSize) != 0) {
				t.Fatalf("accepted volume %+v", v)
			}
		}
		for _, tg := range c.Targets {
			for _, l := range tg.LUNs {
				if l.LUN > MaxLUN || c.Volume(l.Volume) == nil {
					t.Fatalf("accepted LUN %+v", l)
				}
			}
			e := tg.Params.Effective()
			if e.FirstBurstLength > e.MaxBurstLength {
				t.Fatalf("accepted params %+v", e)
			}
		}
	})
}
