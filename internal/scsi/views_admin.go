package scsi

// Management hooks of Views, fanned out to every view: the management
// layer sets ALUA states and announces LUN inventory changes on a target
// without knowing how its initiators' views are split.

// targets returns the views' distinct LUN sets.
func (m *viewMap) targets() []*LUNTarget {
	out := []*LUNTarget{m.none}
	if m.all != nil {
		out = append(out, m.all)
	}
	for _, t := range m.byName {
		out = append(out, t)
	}
	return out
}

// SetALUA sets the target's ALUA state, which every view shares (see
// ALUAGroups.Set).
func (v *Views) SetALUA(groups []TargetPortGroup, explicit bool) { v.alua.Set(groups, explicit) }

// ALUA returns the target port groups' states and whether ALUA is
// explicit: the same for every view.
func (v *Views) ALUA() ([]TargetPortGroup, bool) { return v.alua.Get() }

// ALUAGroups returns the ALUA state every view shares.
func (v *Views) ALUAGroups() *ALUAGroups { return v.alua }

// ReportedLUNsChanged raises REPORTED LUNS DATA HAS CHANGED on every I_T
// nexus of every view's logical units.
func (v *Views) ReportedLUNsChanged() {
	for _, t := range v.m.Load().targets() {
		t.ReportedLUNsChanged()
	}
}
