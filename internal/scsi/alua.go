package scsi

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"weak"
)

// Asymmetric logical unit access (SPC-4 5.16). halun has one target port
// per target portal group, so a target port group is a portal group: its
// ID and the relative target port identifier are the portal group tag of
// the nexus. The state lives in one ALUAGroups per target, shared by every
// view of it. Until it is set every group is active/optimized and ALUA is
// implicit only.
//
// A logical unit may instead have ALUAGroups of its own (LU.SetALUAGroups):
// then the states are the LU's, whatever target reaches it — as in a
// cluster, where each volume has its own primary, the primary's target
// port group is active/optimized for that LU and the other nodes' groups
// standby, and every node answers REPORT TARGET PORT GROUPS for the LU
// identically (SPC-4 5.16.2.1: access states are per logical unit).

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

// ALUAGroups is the ALUA state of one SCSI target: each target port
// group's asymmetric access state and preferred bit, and whether explicit
// ALUA (SET TARGET PORT GROUPS) is enabled. It is one object per target,
// shared by every LUNTarget that serves the target — the per-initiator
// views of Views, and the LUN sets the management layer rebuilds on
// reconfiguration — so REPORT TARGET PORT GROUPS and command filtering
// are the same for every initiator, and a change made by any of them (or
// by management) raises ASYMMETRIC ACCESS STATE CHANGED on every I_T
// nexus of the target, whichever view it uses.
type ALUAGroups struct {
	name string // the target's name: unit attentions go to its nexuses only
	// lu, when set, is the one logical unit whose groups these are: a
	// change reaches every nexus of the LU, through any target.
	lu  atomic.Pointer[LU]
	cfg atomic.Pointer[aluaConfig]
	mu  sync.Mutex // serialises changes of cfg

	membersMu sync.Mutex
	// members are the LUN sets using the groups, weakly: a view that was
	// replaced goes away with its last command.
	members []weak.Pointer[LUNTarget]
}

// NewALUAGroups returns the ALUA state of the target named target, with
// every group active/optimized and ALUA implicit only.
func NewALUAGroups(target string) *ALUAGroups { return &ALUAGroups{name: target} }

// attach makes t one of the LUN sets whose nexuses state changes reach.
func (g *ALUAGroups) attach(t *LUNTarget) {
	g.membersMu.Lock()
	defer g.membersMu.Unlock()
	g.members = slices.DeleteFunc(g.members, func(w weak.Pointer[LUNTarget]) bool { return w.Value() == nil })
	g.members = append(g.members, weak.Make(t))
}

// NewLUALUAGroups returns ALUA state for one logical unit (attach it with
// LU.SetALUAGroups), every group active/optimized and ALUA implicit only
// until Set.
func NewLUALUAGroups() *ALUAGroups { return &ALUAGroups{} }

// SetALUAGroups gives the LU target port group states of its own, which
// take the place of the states of every target that reaches it; nil
// returns it to its targets'. A change raises ASYMMETRIC ACCESS STATE
// CHANGED on every I_T nexus of the LU.
func (lu *LU) SetALUAGroups(g *ALUAGroups) {
	if g != nil {
		g.lu.Store(lu)
	}
	if old := lu.alua.Swap(g); old != g {
		g2 := g
		if g2 == nil {
			g2 = old
		}
		if g2 != nil {
			lu.mu.Lock()
			for _, s := range lu.nexuses {
				s.addUA(ascALUAStateChanged)
			}
			lu.mu.Unlock()
		}
	}
}

// ALUAGroups returns the LU's own ALUA state, or nil when its targets'
// applies.
func (lu *LU) ALUAGroups() *ALUAGroups { return lu.alua.Load() }

// lus returns the distinct logical units of every live member.
func (g *ALUAGroups) lus() []*LU {
	if lu := g.lu.Load(); lu != nil {
		return []*LU{lu}
	}
	g.membersMu.Lock()
	defer g.membersMu.Unlock()
	seen := map[*LU]bool{}
	var out []*LU
	for _, w := range g.members {
		t := w.Value()
		if t == nil {
			continue
		}
		for _, n := range t.list {
			if lu := t.luns[n]; !seen[lu] {
				seen[lu] = true
				out = append(out, lu)
			}
		}
	}
	return out
}

// ours reports whether nexus n is one of the target's. A nexus without a
// target name (the transport did not say) is taken to be, and every nexus
// of a logical unit's own groups is.
func (g *ALUAGroups) ours(n Nexus) bool {
	return n.TargetName == "" || g.name == "" || strings.EqualFold(n.TargetName, g.name)
}

// alua is the ALUA state that applies to the command: its LU's own, or
// its target's.
func (k *task) alua() *ALUAGroups {
	if k.lu != nil {
		if g := k.lu.alua.Load(); g != nil {
			return g
		}
	}
	return k.t.alua
}

// establishUA adds a unit attention for every I_T nexus of the target on
// every logical unit of every member, except skip.
func (g *ALUAGroups) establishUA(asc uint16, skip *Nexus) {
	for _, lu := range g.lus() {
		lu.mu.Lock()
		for n, s := range lu.nexuses {
			if (skip == nil || n != *skip) && g.ours(n) {
				s.addUA(asc)
			}
		}
		lu.mu.Unlock()
	}
}

// Set sets the target port groups' states and whether SET TARGET PORT
// GROUPS is accepted (explicit ALUA). It may be called while commands
// run; when a group's state changes, every I_T nexus of the target gets
// ASYMMETRIC ACCESS STATE CHANGED. Groups not listed are active/optimized.
func (g *ALUAGroups) Set(groups []TargetPortGroup, explicit bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cfg.Load()
	c := &aluaConfig{groups: slices.Clone(groups), status: map[uint16]byte{}, explicit: explicit}
	changed := false
	for _, tg := range c.groups {
		prev := ALUAActiveOptimized
		if old != nil {
			if i := old.find(tg.ID); i >= 0 {
				prev = old.groups[i].State
				c.status[tg.ID] = old.status[tg.ID]
			}
		}
		if prev != tg.State {
			changed = true
			c.status[tg.ID] = aluaStatusByImplicit
		}
	}
	if old != nil {
		for _, og := range old.groups {
			if c.find(og.ID) < 0 && og.State != ALUAActiveOptimized {
				changed = true
			}
		}
	}
	g.cfg.Store(c)
	if changed {
		g.establishUA(ascALUAStateChanged, nil)
	}
}

// Get returns the target port groups set and whether ALUA is explicit.
func (g *ALUAGroups) Get() ([]TargetPortGroup, bool) {
	c := g.cfg.Load()
	if c == nil {
		return nil, false
	}
	return slices.Clone(c.groups), c.explicit
}

// SetALUA sets the ALUA state of the target t serves (ALUAGroups.Set).
func (t *LUNTarget) SetALUA(groups []TargetPortGroup, explicit bool) { t.alua.Set(groups, explicit) }

// ALUA returns the target port groups set and whether ALUA is explicit.
func (t *LUNTarget) ALUA() ([]TargetPortGroup, bool) { return t.alua.Get() }

// ALUAGroups returns the ALUA state t shares with the target's other LUN
// sets.
func (t *LUNTarget) ALUAGroups() *ALUAGroups { return t.alua }

// establishUA adds a unit attention for every known I_T nexus of the
// target on every LU of t, except skip.
func (t *LUNTarget) establishUA(asc uint16, skip *Nexus) {
	for _, lu := range t.luns {
		lu.mu.Lock()
		for n, s := range lu.nexuses {
			if (skip == nil || n != *skip) && t.alua.ours(n) {
				s.addUA(asc)
			}
		}
		lu.mu.Unlock()
	}
}

// ReportedLUNsChanged raises REPORTED LUNS DATA HAS CHANGED on every I_T
// nexus of the target (SPC-4 6.33), for the management layer to call when
// a LUN map changes.
func (t *LUNTarget) ReportedLUNsChanged() { t.establishUA(ascReportedLUNsDataChanged, nil) }

// state is the asymmetric access state of the target port group of a
// TPGT.
func (g *ALUAGroups) state(tpgt uint16) ALUAState {
	c := g.cfg.Load()
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
func (g *ALUAGroups) tpgs() byte {
	if c := g.cfg.Load(); c != nil && c.explicit {
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
	switch k.alua().state(k.cmd.Nexus.TPGT) {
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
// by default one active/optimized group per portal group seen by the
// target's nexuses.
func (g *ALUAGroups) portGroups(self uint16) ([]TargetPortGroup, map[uint16]byte) {
	if c := g.cfg.Load(); c != nil {
		gs := slices.Clone(c.groups)
		slices.SortFunc(gs, func(a, b TargetPortGroup) int { return int(a.ID) - int(b.ID) })
		return gs, c.status
	}
	seen := map[uint16]bool{self: true}
	for _, lu := range g.lus() {
		lu.mu.RLock()
		for n := range lu.nexuses {
			if g.ours(n) {
				seen[n.TPGT] = true
			}
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
	groups, status := k.alua().portGroups(k.cmd.Nexus.TPGT)
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

// opSetTPGRun is SET TARGET PORT GROUPS (SPC-4 6.49): explicit state
// transitions, refused unless explicit ALUA is enabled. The change is the
// target's, seen by every view; every other nexus of the target gets
// ASYMMETRIC ACCESS STATE CHANGED.
func opSetTPGRun(k *task) Result {
	g := k.alua()
	plen := int(be32(k.cdb[6:]))
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cfg.Load()
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
	g.cfg.Store(c)
	if changed {
		n := k.cmd.Nexus
		g.establishUA(ascALUAStateChanged, &n)
	}
	return Good
}
