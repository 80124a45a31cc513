package scsi

import (
	"strings"
	"sync/atomic"
)

// Views is a Target that gives each initiator, by name, its own view of a
// target's logical units: its own LUN numbers over logical units shared
// with other views, as LIO's mapped LUNs do. Every decision is keyed by the
// initiator name of the command's I_T nexus, never by a connection or slot:
// an initiator without a view sees no logical unit at all (REPORT LUNS is
// empty, commands get LOGICAL UNIT NOT SUPPORTED). The logical units keep
// their per-nexus state (unit attentions, reservations) keyed by the whole
// nexus, so nothing passes from one initiator to another. The target's
// ALUA state is one ALUAGroups shared by every view.
type Views struct {
	name string
	alua *ALUAGroups
	m    atomic.Pointer[viewMap]
}

type viewMap struct {
	all    *LUNTarget            // every initiator without its own view; nil: none
	byName map[string]*LUNTarget // lower-case initiator name → view
	none   *LUNTarget
}

var _ Target = (*Views)(nil)

// NewViews returns a target named name. all, if not nil, is the LUN map
// of every initiator not in perInitiator; perInitiator maps initiator names
// (compared case-insensitively) to their own LUN maps.
func NewViews(name string, all map[uint64]*LU, perInitiator map[string]map[uint64]*LU) *Views {
	return NewViewsALUA(name, nil, all, perInitiator)
}

// NewViewsALUA is NewViews for a target whose ALUA state g is shared with
// the LUN sets it replaces; nil g gives the target its own.
func NewViewsALUA(name string, g *ALUAGroups, all map[uint64]*LU, perInitiator map[string]map[uint64]*LU) *Views {
	if g == nil {
		g = NewALUAGroups(name)
	}
	v := &Views{name: name, alua: g}
	v.Set(all, perInitiator)
	return v
}

// Set replaces every view at once; commands already running finish on the
// views they started with. It is safe while commands run. The ALUA state
// stays as it is.
func (v *Views) Set(all map[uint64]*LU, perInitiator map[string]map[uint64]*LU) {
	m := &viewMap{byName: make(map[string]*LUNTarget, len(perInitiator)), none: NewTargetALUA(v.name, nil, v.alua)}
	if all != nil {
		m.all = NewTargetALUA(v.name, all, v.alua)
	}
	for name, luns := range perInitiator {
		m.byName[strings.ToLower(name)] = NewTargetALUA(v.name, luns, v.alua)
	}
	v.m.Store(m)
}

// View returns the LUN map initiator sees; an initiator without access
// gets an empty one.
func (v *Views) View(initiator string) *LUNTarget {
	m := v.m.Load()
	if t, ok := m.byName[initiator]; ok {
		return t
	}
	if t, ok := m.byName[strings.ToLower(initiator)]; ok {
		return t
	}
	if m.all != nil {
		return m.all
	}
	return m.none
}

// Execute runs cmd on the view of its nexus' initiator.
func (v *Views) Execute(cmd *Command) Result {
	return v.View(cmd.Nexus.InitiatorName).Execute(cmd)
}

// LogicalUnitReset resets the LU lun addresses in nexus' view.
func (v *Views) LogicalUnitReset(nexus Nexus, lun uint64) bool {
	return v.View(nexus.InitiatorName).LogicalUnitReset(nexus, lun)
}

// TargetReset resets every LU of nexus' view.
func (v *Views) TargetReset(nexus Nexus) {
	v.View(nexus.InitiatorName).TargetReset(nexus)
}

// LogicalUnit returns the LU lun addresses in nexus' view, nil if none.
func (v *Views) LogicalUnit(nexus Nexus, lun uint64) *LU {
	return v.View(nexus.InitiatorName).LogicalUnit(nexus, lun)
}

// NexusLost drops the nexus' state from every LU of every view, so that
// none survives a change of views.
func (v *Views) NexusLost(nexus Nexus) {
	m := v.m.Load()
	seen := map[*LU]bool{}
	drop := func(t *LUNTarget) {
		if t == nil {
			return
		}
		for _, lu := range t.luns {
			if !seen[lu] {
				seen[lu] = true
				lu.nexusLost(nexus)
			}
		}
	}
	drop(m.all)
	for _, t := range m.byName {
		drop(t)
	}
}
