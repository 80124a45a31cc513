package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/scsi"
)

// ALUA: a target port group is a portal group (scsi/alua.go). Each target
// has one scsi.ALUAGroups, shared by all its initiators' views and kept
// across reconfiguration, so that a rebuilt LUN set keeps the live states
// (including changes initiators made with SET TARGET PORT GROUPS). The
// config says what the states are (portal_groups[].alua) and whether
// initiators may change them (targets[].alua.explicit); they are set at
// start, and a reload applies the groups whose configured state changed.
// `halun alua set` writes the new state to the config and applies it.

// aluaTarget is a LUN set that reports ALUA states.
type aluaTarget interface {
	SetALUA(groups []scsi.TargetPortGroup, explicit bool)
	ALUA() ([]scsi.TargetPortGroup, bool)
	ALUAGroups() *scsi.ALUAGroups
}

var aluaStates = map[string]scsi.ALUAState{
	config.ALUAActiveOptimized:    scsi.ALUAActiveOptimized,
	config.ALUAActiveNonOptimized: scsi.ALUAActiveNonOptimized,
	config.ALUAStandby:            scsi.ALUAStandby,
	config.ALUAUnavailable:        scsi.ALUAUnavailable,
	config.ALUATransitioning:      scsi.ALUATransitioning,
}

func aluaName(s scsi.ALUAState) string {
	for name, v := range aluaStates {
		if v == s {
			return name
		}
	}
	return "unknown"
}

// configALUA is what cfg says target t's ALUA state is: one target port
// group per portal group the target is reachable through.
func configALUA(cfg *config.Config, t *config.Target) ([]scsi.TargetPortGroup, bool) {
	var gs []scsi.TargetPortGroup
	for _, tag := range t.PortalGroups {
		g := scsi.TargetPortGroup{ID: tag}
		if pg := cfg.PortalGroup(tag); pg != nil {
			g.State = aluaStates[pg.ALUA.State]
			g.Preferred = pg.ALUA.Preferred
		}
		gs = append(gs, g)
	}
	return gs, t.ALUA.Explicit
}

// newALUAGroups returns a new target's ALUA state as cfg configures it.
func newALUAGroups(cfg *config.Config, t *config.Target) *scsi.ALUAGroups {
	g := scsi.NewALUAGroups(t.IQN)
	g.Set(configALUA(cfg, t))
	return g
}

// aluaGroupsOf returns the ALUA state of a running target's LUN set, or nil.
func aluaGroupsOf(t scsi.Target) *scsi.ALUAGroups {
	if at, ok := t.(aluaTarget); ok {
		return at.ALUAGroups()
	}
	return nil
}

// aluaUpdate is a running target's ALUA change: from what the old config
// said to what the new one says.
type aluaUpdate struct {
	g        *scsi.ALUAGroups
	old, new []scsi.TargetPortGroup
	explicit bool
}

// apply changes the groups whose configured state changed (or that are
// new), keeping the live state of the others — which an initiator may have
// changed with SET TARGET PORT GROUPS.
func (u aluaUpdate) apply() {
	live, _ := u.g.Get()
	out := make([]scsi.TargetPortGroup, 0, len(u.new))
	for _, g := range u.new {
		i := slices.IndexFunc(u.old, func(o scsi.TargetPortGroup) bool { return o.ID == g.ID })
		j := slices.IndexFunc(live, func(l scsi.TargetPortGroup) bool { return l.ID == g.ID })
		if i >= 0 && u.old[i] == g && j >= 0 {
			g = live[j]
		}
		out = append(out, g)
	}
	u.g.Set(out, u.explicit)
}

// aluaDiff describes the ALUA changes between two configs, once per
// portal group and target.
func aluaDiff(a, b *config.Config) []string {
	var out []string
	for _, pg := range b.PortalGroups {
		if o := a.PortalGroup(pg.Tag); o != nil && o.ALUA != pg.ALUA {
			s := fmt.Sprintf("portal group %d: ALUA state %s (was %s)", pg.Tag, pg.ALUA.State, o.ALUA.State)
			if o.ALUA.Preferred != pg.ALUA.Preferred {
				s += fmt.Sprintf(", preferred %v", pg.ALUA.Preferred)
			}
			out = append(out, s)
		}
	}
	for _, t := range b.Targets {
		if o := a.Target(t.IQN); o != nil && o.ALUA.Explicit != t.ALUA.Explicit {
			if t.ALUA.Explicit {
				out = append(out, fmt.Sprintf("target %s: explicit ALUA (SET TARGET PORT GROUPS) enabled", t.IQN))
			} else {
				out = append(out, fmt.Sprintf("target %s: explicit ALUA (SET TARGET PORT GROUPS) disabled", t.IQN))
			}
		}
	}
	return out
}

// groupState is the ALUA state of portal group tag as the targets report
// it: the first target reachable through it, else the config's. n.mu must
// be held.
func (n *Node) groupState(tag uint16) string {
	for _, t := range n.cfg.Targets {
		live := n.luns[t.IQN]
		if live == nil || !slices.Contains(t.PortalGroups, tag) {
			continue
		}
		at, ok := live.get().(aluaTarget)
		if !ok {
			continue
		}
		groups, _ := at.ALUA()
		for _, g := range groups {
			if g.ID == tag {
				return aluaName(g.State)
			}
		}
	}
	if pg := n.cfg.PortalGroup(tag); pg != nil {
		return pg.ALUA.State
	}
	return config.ALUAActiveOptimized
}

// SetALUA sets the asymmetric access state of target port group group
// (the portal group with that tag) on every target reachable through it,
// and writes it to the config. A live state that differs from the
// config's (an initiator's SET TARGET PORT GROUPS) is set too.
func (n *Node) SetALUA(group uint16, state string) (*admin.Result, error) {
	st, ok := normState(state)
	if !ok {
		return nil, fmt.Errorf("ALUA state %q is not one of %s", state, strings.Join(admin.ALUAStates, ", "))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cfg.PortalGroup(group) == nil {
		return nil, fmt.Errorf("portal group %d: %w", group, config.ErrNotFound)
	}
	prev := n.groupState(group)
	res, err := n.changeLocked("alua", func(d *config.Document) error { return d.SetPortalGroupALUA(group, st) })
	if err != nil {
		return nil, err
	}
	forced := false
	for _, t := range n.cfg.Targets {
		live := n.luns[t.IQN]
		if live == nil || !slices.Contains(t.PortalGroups, group) {
			continue
		}
		at, ok := live.get().(aluaTarget)
		if !ok {
			continue
		}
		groups, explicit := at.ALUA()
		changed := false
		for i := range groups {
			if groups[i].ID == group && groups[i].State != aluaStates[st] {
				groups[i].State = aluaStates[st]
				changed = true
			}
		}
		if changed {
			at.SetALUA(groups, explicit)
			forced = true
		}
	}
	if forced && len(res.Changes) == 0 {
		res.Changes = append(res.Changes, fmt.Sprintf("portal group %d: ALUA state %s (was %s)", group, st, prev))
		n.logResult("alua", res)
	}
	return res, nil
}
