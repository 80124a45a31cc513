package server

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/scsi"
)

// memPRStore keeps reservations in memory and records which serials were
// asked for.
type memPRStore struct {
	mu     sync.Mutex
	loaded []string
}

func (s *memPRStore) LoadPR(serial string) (scsi.PRState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = append(s.loaded, serial)
	return scsi.PRState{}, false, nil
}

func (s *memPRStore) SavePR(string, scsi.PRState) error { return nil }

// TestBuildTakesItsParts: a node is assembled from the parts it is given
// — the store opener, the reservation store, the ALUA source — at start
// and on reload, and constructs none of them itself: the data directory
// gets no reservations directory.
func TestBuildTakesItsParts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(path, []byte(baseConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	o := config.Overrides{DataDir: filepath.Join(dir, "data")}
	cfg, err := config.LoadWith(path, o)
	if err != nil {
		t.Fatal(err)
	}
	var opened []string
	var mu sync.Mutex
	prs := &memPRStore{}
	var aluaFor, volALUA []string
	volGroups := scsi.NewLUALUAGroups()
	volGroups.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAActiveOptimized}, {ID: 9, State: scsi.ALUAStandby}}, false)
	parts := Parts{
		OpenStore: func(v *config.Volume) (backend.Store, error) {
			mu.Lock()
			opened = append(opened, v.Name)
			mu.Unlock()
			return backend.NewMemory(v.Size), nil
		},
		PRStore: prs,
		ALUA: func(cfg *config.Config, t *config.Target) *scsi.ALUAGroups {
			aluaFor = append(aluaFor, t.IQN)
			g := scsi.NewALUAGroups(t.IQN)
			g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAStandby}}, false)
			return g
		},
		VolumeALUA: func(v *config.Volume) *scsi.ALUAGroups {
			volALUA = append(volALUA, v.Name)
			if v.Name == "a" {
				return volGroups
			}
			return nil
		},
	}
	n, err := Build(cfg, nil, parts)
	if err != nil {
		t.Fatal(err)
	}
	n.SetSource(path, o)
	t.Cleanup(func() { n.Close() })
	if strings.Join(opened, ",") != "a,b" || len(prs.loaded) != 2 || strings.Join(aluaFor, ",") != "iqn.2026-11.io.halun.test:t" {
		t.Errorf("parts used at start: stores %v, reservations %v, ALUA %v", opened, prs.loaded, aluaFor)
	}
	if gs, _ := aluaGroupsOf(n.luns["iqn.2026-11.io.halun.test:t"].get()).Get(); len(gs) != 1 || gs[0].State != scsi.ALUAStandby {
		t.Errorf("ALUA state %v, want the part's standby", gs)
	}
	if strings.Join(volALUA, ",") != "a,b" || n.vols["a"].lu.ALUAGroups() != volGroups || n.vols["b"].lu.ALUAGroups() != nil {
		t.Errorf("volume ALUA asked for %v; a has %p (want %p), b has %p", volALUA, n.vols["a"].lu.ALUAGroups(), volGroups, n.vols["b"].lu.ALUAGroups())
	}
	if _, err := os.Stat(filepath.Join(o.DataDir, "reservations")); !os.IsNotExist(err) {
		t.Errorf("Build made its own reservation store: %v", err)
	}

	// Reload: a new volume and a new target go through the same parts.
	text := baseConfig + `  - iqn: iqn.2026-11.io.halun.test:u
    luns:
      - { lun: 0, volume: c }
    access: { all: true }
`
	text = strings.Replace(text, "volumes:\n", "volumes:\n  - { name: c, backend: memory, size: 1MiB, serial: cccc000000000001 }\n", 1)
	if _, err := reloadWith(t, n, path, text); err != nil {
		t.Fatal(err)
	}
	if strings.Join(opened, ",") != "a,b,c" || len(prs.loaded) != 3 || len(aluaFor) != 2 {
		t.Errorf("parts used on reload: stores %v, reservations %v, ALUA %v", opened, prs.loaded, aluaFor)
	}
}
