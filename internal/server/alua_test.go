package server

import (
	"testing"

	"github.com/halun/halun/internal/scsi"
)

// TestALUAUpdateApply: a reload changes the groups whose configured state
// changed and keeps the live state (an initiator's SET TARGET PORT GROUPS)
// of the others.
func TestALUAUpdateApply(t *testing.T) {
	ao, ano, sb := scsi.ALUAActiveOptimized, scsi.ALUAActiveNonOptimized, scsi.ALUAStandby
	tg := func(id uint16, s scsi.ALUAState) scsi.TargetPortGroup { return scsi.TargetPortGroup{ID: id, State: s} }
	cases := []struct {
		name           string
		live, old, new []scsi.TargetPortGroup
		want           []scsi.TargetPortGroup
	}{
		{"configured change wins over live",
			[]scsi.TargetPortGroup{tg(1, ano), tg(2, ao)}, []scsi.TargetPortGroup{tg(1, ao), tg(2, ao)}, []scsi.TargetPortGroup{tg(1, sb), tg(2, ao)},
			[]scsi.TargetPortGroup{tg(1, sb), tg(2, ao)}},
		{"unchanged group keeps live state",
			[]scsi.TargetPortGroup{tg(1, ao), tg(2, sb)}, []scsi.TargetPortGroup{tg(1, ao), tg(2, ao)}, []scsi.TargetPortGroup{tg(1, ano), tg(2, ao)},
			[]scsi.TargetPortGroup{tg(1, ano), tg(2, sb)}},
		{"preferred change is a change",
			[]scsi.TargetPortGroup{tg(1, sb)}, []scsi.TargetPortGroup{tg(1, ao)}, []scsi.TargetPortGroup{{ID: 1, Preferred: true}},
			[]scsi.TargetPortGroup{{ID: 1, Preferred: true}}},
		{"group added and removed",
			[]scsi.TargetPortGroup{tg(1, sb), tg(2, ao)}, []scsi.TargetPortGroup{tg(1, ao), tg(2, ao)}, []scsi.TargetPortGroup{tg(1, ao), tg(3, ano)},
			[]scsi.TargetPortGroup{tg(1, sb), tg(3, ano)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := scsi.NewALUAGroups("iqn.2026-11.io.halun:t")
			g.Set(c.live, false)
			aluaUpdate{g: g, old: c.old, new: c.new, explicit: true}.apply()
			got, explicit := g.Get()
			if !explicit || len(got) != len(c.want) {
				t.Fatalf("got %+v explicit %v", got, explicit)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("got %+v, want %+v", got, c.want)
				}
			}
		})
	}
}
