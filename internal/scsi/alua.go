package scsi

import "slices"

// Asymmetric logical unit access (SPC-4 5.16). halun has one target port
// per target portal group, so a target port group is a portal group: its
// ID and the relative target port identifier are the portal group tag of
// the nexus. Until SetALUA is called every group is active/optimized and
// ALUA is implicit only.

// ALUAState is an asymmetric access state (SPC-4 table 37).
type ALUAState uint8

// The asymmetric access states halun supports.
const (
	ALUAActiveOptimized    ALUAState = 0x0
	ALUAActiveNonOptimized ALUAState = 0x1
	ALUAStandby            ALUAState = 0x2
	ALUAUnavailable        ALUAState = 0x3
	ALUATransitioning      ALUAState = 0xf
)

// TargetPortGroup is the state of one target port group (portal group
// tag ID).
type TargetPortGroup struct {
	ID        uint16
	State     ALUAState
	Preferred bool
}

const (
	saReportTPG = 0x0a // MAINTENANCE IN
	saSetTPG    = 0x0a // MAINTENANCE OUT

	opMaintenanceOut = 0xa4

	ascALUAStandby        = 0x040b
	ascALUAUnavailable    = 0x040c
	ascALUATransitioning  = 0x040a
	ascALUAStateChanged   = 0x2a06
	aluaStatusNone        = 0
	aluaStatusByExplicit  = 1
	aluaStatusByImplicit  = 2
	aluaTransitionSeconds = 0
)

// aluaConfig is a target's ALUA configuration, replaced as a whole.
type aluaConfig struct {
	groups   []TargetPortGroup
	status   map[uint16]byte // STATUS CODE of RTPG per group
	explicit bool
}

func (c *aluaConfig) find(id uint16) int {
	return slices.IndexFunc(c.groups, func(g TargetPortGroup) bool { return g.ID == id })
}

// SetALUA sets the target port groups' states and whether SET TARGET
// PORT GROUPS is accepted (explicit ALUA). It may be called while commands
// run; a group whose state changes raises ASYMMETRIC ACCESS STATE CHANGED
// on every I_T nexus. Groups not listed are active/optimized.
func (t *LUNTarget) SetALUA(groups []TargetPortGroup, explicit bool) {
	t.aluaMu.Lock()
	defer t.aluaMu.Unlock()
	old := t.alua.Load()
	c := &aluaConfig{groups: slices.Clone(groups), status: map[uint16]byte{}, explicit: explicit}
	changed := false
	for _, g := range c.groups {
		prev := ALUAActiveOptimized
		if old != nil {
			if i := old.find(g.ID); i >= 0 {
				prev = old.groups[i].State
				c.status[g.ID] = old.status[g.ID]
			}
		}
		if prev != g.State {
			changed = true
			c.status[g.ID] = aluaStatusByImplicit
		}
	}
	if old != nil {
		for _, g := range old.groups {
			if c.find(g.ID) < 0 && g.State != ALUAActiveOptimized {
				changed = true
			}
		}
	}
	t.alua.Store(c)
	if changed {
		t.establishUA(ascALUAStateChanged, nil)
	}
}

// ALUA returns the target port groups set and whether ALUA is explicit.
func (t *LUNTarget) ALUA() ([]TargetPortGroup, bool) {
	c := t.alua.Load()
	if c == nil {
		return nil, false
	}
	return slices.Clone(c.groups), c.explicit
}

// establishUA adds a unit attention for every known I_T nexus of every LU
// of the target, except skip.
func (t *LUNTarget) establishUA(asc uint16, skip *Nexus) {
	for _, lu := range t.luns {
		lu.mu.Lock()
		lu.establishUALocked(asc, skip)
		lu.mu.Unlock()
	}
}

// ReportedLUNsChanged raises REPORTED LUNS DATA HAS CHANGED on every I_T
// nexus of the target (SPC-4 6.33), for the management layer to call when
// a LUN map changes.
func (t *LUNTarget) ReportedLUNsChanged() { t.establishUA(ascReportedLUNsDataChanged, nil) }

// aluaState is the asymmetric access state of the target port group of a
// TPGT.
func (t *LUNTarget) aluaState(tpgt uint16) ALUAState {
	c := t.alua.Load()
	if c == nil {
		return ALUAActiveOptimized
	}
	if i := c.find(tpgt); i >= 0 {
		return c.groups[i].State
	}
	return ALUAActiveOptimized
}

// tpgs is the TPGS field of standard INQUIRY data: implicit ALUA, and
// explicit when enabled (SPC-4 6.6.2).
func (t *LUNTarget) tpgs() byte {
	if c := t.alua.Load(); c != nil && c.explicit {
		return 0x30
	}
	return 0x10
}

// aluaGate refuses commands the access state of the nexus's target port
// group does not allow (SPC-4 5.16.2.4): standby allows the commands
// flagged fStandbyOK, unavailable and transitioning only those flagged
// fUnavailableOK.
func (k *task) aluaGate(flags opFlags) *Result {
	var asc uint16
	switch k.t.aluaState(k.cmd.Nexus.TPGT) {
	case ALUAActiveOptimized, ALUAActiveNonOptimized:
		return nil
	case ALUAStandby:
		if flags&(fStandbyOK|fUnavailableOK) != 0 {
			return nil
		}
		asc = ascALUAStandby
	case ALUATransitioning:
		if flags&fUnavailableOK != 0 {
			return nil
		}
		asc = ascALUATransitioning
	default:
		if flags&fUnavailableOK != 0 {
			return nil
		}
		asc = ascALUAUnavailable
	}
	r := k.fail(keyNotReady, asc)
	return &r
}

// portGroups is what REPORT TARGET PORT GROUPS lists: the groups set, or
// by default one active/optimized group per portal group seen.
func (t *LUNTarget) portGroups(self uint16) ([]TargetPortGroup, map[uint16]byte) {
	if c := t.alua.Load(); c != nil {
		gs := slices.Clone(c.groups)
		slices.SortFunc(gs, func(a, b TargetPortGroup) int { return int(a.ID) - int(b.ID) })
		return gs, c.status
	}
	seen := map[uint16]bool{self: true}
	for _, lu := range t.luns {
		lu.mu.RLock()
		for n := range lu.nexuses {
			seen[n.TPGT] = true
		}
		lu.mu.RUnlock()
	}
	var gs []TargetPortGroup
	for id := range seen {
		gs = append(gs, TargetPortGroup{ID: id})
	}
	slices.SortFunc(gs, func(a, b TargetPortGroup) int { return int(a.ID) - int(b.ID) })
	return gs, nil
}

// opReportTPGRun is REPORT TARGET PORT GROUPS (SPC-4 6.36), in the length
// only or the extended header format.
func opReportTPGRun(k *task) Result {
	format := k.cdb[1] >> 5
	alloc := int(be32(k.cdb[6:]))
	if format > 1 {
		return k.invalidCDB(1, 7)
	}
	groups, status := k.t.portGroups(k.cmd.Nexus.TPGT)
	b := make([]byte, 4, 8+12*len(groups))
	if format == 1 {
		b = append(b, 0x10, aluaTransitionSeconds, 0, 0) // FORMAT TYPE 001b
	}
	for _, g := range groups {
		d := make([]byte, 12)
		d[0] = byte(g.State) & 0x0f
		if g.Preferred {
			d[0] |= 0x80
		}
		d[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01 // T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP
		put16(d[2:], g.ID)
		d[5] = status[g.ID]
		d[7] = 1 // TARGET PORT COUNT
		put16(d[10:], relativePortID(Nexus{TPGT: g.ID}))
		b = append(b, d...)
	}
	put32(b, uint32(len(b)-4))
	return data(b, alloc)
}

// stpgDataOut is the PARAMETER LIST LENGTH of SET TARGET PORT GROUPS.
func stpgDataOut(k *task) uint32 { return be32(k.cdb[6:]) }

// opSetTPGRun is SET TARGET PORT GROUPS (SPC-4 6.43): explicit state
// transitions, refused unless explicit ALUA is enabled. Every other nexus
// gets ASYMMETRIC ACCESS STATE CHANGED.
func opSetTPGRun(k *task) Result {
	t := k.t
	plen := int(be32(k.cdb[6:]))
	t.aluaMu.Lock()
	defer t.aluaMu.Unlock()
	old := t.alua.Load()
	if old == nil || !old.explicit {
		return k.invalidCDB(1, 4)
	}
	if plen == 0 {
		return Good
	}
	p := k.cmd.DataOut
	if plen < 4 || len(p) < plen || (plen-4)%4 != 0 {
		return k.fail(keyIllegalRequest, ascParameterListLengthError)
	}
	c := &aluaConfig{groups: slices.Clone(old.groups), status: map[uint16]byte{}, explicit: true}
	for id, s := range old.status {
		c.status[id] = s
	}
	changed := false
	for off := 4; off < plen; off += 4 {
		st := ALUAState(p[off] & 0x0f)
		id := be16(p[off+2:])
		switch st {
		case ALUAActiveOptimized, ALUAActiveNonOptimized, ALUAStandby, ALUAUnavailable:
		default:
			return k.invalidParam(off, 3)
		}
		i := c.find(id)
		if i < 0 {
			return k.invalidParam(off+2, -1)
		}
		if c.groups[i].State != st {
			c.groups[i].State = st
			changed = true
		}
		c.status[id] = aluaStatusByExplicit
	}
	t.alua.Store(c)
	if changed {
		n := k.cmd.Nexus
		t.establishUA(ascALUAStateChanged, &n)
	}
	return Good
}
