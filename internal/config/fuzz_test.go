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
	f.Add([]byte(aclBase))
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
			if tg.Access.All == (len(tg.Access.Initiators) > 0) {
				t.Fatalf("accepted access %+v: want all: true or initiators, exactly one", tg.Access)
			}
			for _, ia := range tg.Access.Initiators {
				for _, l := range ia.LUNs {
					if l.LUN > MaxLUN || c.Volume(l.Volume) == nil {
						t.Fatalf("accepted initiator LUN %+v", l)
					}
				}
			}
			for _, ch := range []*CHAP{tg.CHAP, c.Discovery.CHAP} {
				if ch != nil && (len(ch.Secret) < MinCHAPSecret || ch.User == "" || ch.Mutual() && ch.Secret == ch.TargetSecret) {
					t.Fatalf("accepted CHAP %v", ch)
				}
			}
			e := tg.Params.Effective()
			if e.FirstBurstLength > e.MaxBurstLength {
				t.Fatalf("accepted params %+v", e)
			}
		}
	})
}
