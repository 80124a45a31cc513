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

// SetALUA sets the target port groups' states on every view (see
// LUNTarget.SetALUA). Views built later by Set start without them: the
// management layer, which replaces a target's Views as a whole, carries
// them over.
func (v *Views) SetALUA(groups []TargetPortGroup, explicit bool) {
	for _, t := range v.m.Load().targets() {
		t.SetALUA(groups, explicit)
	}
}

// ALUA returns the target port groups' states, as the view of an
// initiator without access reports them (every view has the same unless
// an initiator changed its own with SET TARGET PORT GROUPS).
func (v *Views) ALUA() ([]TargetPortGroup, bool) { return v.m.Load().none.ALUA() }

// ReportedLUNsChanged raises REPORTED LUNS DATA HAS CHANGED on every I_T
// nexus of every view's logical units.
func (v *Views) ReportedLUNsChanged() {
	for _, t := range v.m.Load().targets() {
		t.ReportedLUNsChanged()
	}
}
