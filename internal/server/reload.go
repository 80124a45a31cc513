package server

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/scsi"
)

// Live reconfiguration: a new config (reread by reload or SIGHUP, or the
// running one edited through the management API) is compared with the
// running one and the difference applied without touching what did not
// change. It happens in two phases so that nothing is half-applied:
// prepare opens new volumes and builds every new object, and may fail,
// leaving the node as it was; commit swaps them in and cannot fail.
// Sessions are ended only where access went away: a removed target's, an
// initiator's whose access entry was removed, or a connection's whose
// portal was removed or moved to another portal group. New portals are
// bound in prepare, so an address in use refuses the whole change.

// plan is a prepared reconfiguration.
type plan struct {
	n   *Node
	cfg *config.Config
	res admin.Result

	portals  *iscsi.PortalChange // new listeners bound, not yet accepting
	opened   map[string]*volume  // new volumes and replacements, by name
	replaced map[string]bool     // names among opened that replace a running volume
	reused   map[string]bool     // replacements on the running volume's store
	removed  []string            // volumes that go away
	resized  []resize

	add    []iscsi.Target // new targets (LUNs not yet wrapped)
	update []targetUpdate
	remove []string // target IQNs
	alua   []aluaUpdate
	limits *iscsi.Limits // new node limits (limits.go)
}

type resize struct {
	vol      *volume
	from, to int64
}

type targetUpdate struct {
	def         iscsi.Target // new definition; LUNs is the new inner set
	defChanged  bool         // alias, portal groups, params, access or CHAP changed
	lunsChanged bool         // the LUN inventory changed: REPORTED LUNS DATA HAS CHANGED
	allowed     func(initiator string) bool
}

// resizer is the logical unit's live resize (capacity-changed unit
// attention for every nexus).
type resizer interface{ Resize(newBytes int64) error }

// lunsChangedNotifier raises REPORTED LUNS DATA HAS CHANGED for the
// target's nexuses.
type lunsChangedNotifier interface{ ReportedLUNsChanged() }

// prepare builds everything cfg needs that the running node does not have.
// n.mu must be held. On error nothing running has changed.
func (n *Node) prepare(cfg *config.Config) (_ *plan, err error) {
	p := &plan{n: n, cfg: cfg, opened: map[string]*volume{}, replaced: map[string]bool{}, reused: map[string]bool{}}
	defer func() {
		if err != nil {
			p.abort()
		}
	}()
	old := n.cfg
	p.prepareLimits(old)
	// Portals first: binding a new address is what most often fails.
	if p.portals, err = n.Server.PreparePortals(portalGroups(cfg)); err != nil {
		return nil, fmt.Errorf("%s: portal_groups: %w", cfg.Source, err)
	}
	for _, a := range p.portals.Added {
		p.note("portal %s added", a)
	}
	for _, a := range p.portals.Moved {
		p.note("portal %s moved", a)
	}
	for _, a := range p.portals.Removed {
		p.note("portal %s removed", a)
	}
	// Volumes.
	for i := range cfg.Volumes {
		v := &cfg.Volumes[i]
		cur := n.vols[v.Name]
		switch {
		case cur == nil:
			nv, err := n.openVolume(v)
			if err != nil {
				return nil, err
			}
			p.opened[v.Name] = nv
			if err := nv.lu.SetPRStore(n.parts.PRStore); err != nil {
				return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
			}
			p.note("volume %s added (%s, serial %s)", v.Name, config.FormatSize(v.Size), v.Serial)
		case !sameVolume(&cur.cfg, v):
			why := volumeDiff(&cur.cfg, v)
			var nv *volume
			if cur.cfg.Backend == v.Backend && cur.cfg.Path == v.Path && cur.cfg.Size == v.Size && cur.cfg.BlockSize == v.BlockSize {
				// Same data, new logical unit on it.
				lu, err := n.newLU(v, cur.store)
				if err != nil {
					return nil, err
				}
				nv = &volume{cfg: *v, store: cur.store, lu: lu}
				p.reused[v.Name] = true
			} else {
				nv, err = n.openVolume(v)
				if err != nil {
					return nil, err
				}
			}
			p.opened[v.Name] = nv
			p.replaced[v.Name] = true
			if err := nv.lu.SetPRStore(n.parts.PRStore); err != nil {
				return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
			}
			p.note("volume %s replaced (%s): a new logical unit", v.Name, why)
		case cur.cfg.Size != v.Size && v.Backend != config.BackendBlock:
			if v.Size < cur.cfg.Size {
				return nil, fmt.Errorf("%s: volume %s: size %s is less than the running %s; halun does not shrink a volume in use",
					v.Pos, v.Name, config.FormatSize(v.Size), config.FormatSize(cur.cfg.Size))
			}
			p.resized = append(p.resized, resize{vol: cur, from: cur.cfg.Size, to: v.Size})
			p.note("volume %s resized from %s to %s", v.Name, config.FormatSize(cur.cfg.Size), config.FormatSize(v.Size))
		}
	}
	for _, v := range old.Volumes {
		if cfg.Volume(v.Name) == nil {
			p.removed = append(p.removed, v.Name)
			p.note("volume %s removed", v.Name)
		}
	}
	lus := map[string]*scsi.LU{}
	for name, v := range n.vols {
		lus[name] = v.lu
	}
	for name, v := range p.opened {
		lus[name] = v.lu
	}
	// Targets.
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		ot := old.Target(t.IQN)
		// A running target keeps its ALUA state; a change of the
		// configured one is applied at commit.
		var g *scsi.ALUAGroups
		if live := n.luns[t.IQN]; live != nil && ot != nil {
			g = aluaGroupsOf(live.get())
		}
		if g == nil {
			g = n.parts.ALUA(cfg, t)
		} else {
			ow, oe := configALUA(old, ot)
			nw, ne := configALUA(cfg, t)
			if !slices.Equal(ow, nw) || oe != ne {
				p.alua = append(p.alua, aluaUpdate{g: g, old: ow, new: nw, explicit: ne})
			}
		}
		built, err := buildTarget(t, lus, g)
		if err != nil {
			return nil, err
		}
		if ot == nil {
			p.add = append(p.add, built)
			p.note("target %s added with %d LUNs", t.IQN, len(t.LUNs))
			continue
		}
		u := targetUpdate{def: built, allowed: allowedFunc(t)}
		if d := lunMapDiff(ot, t); len(d) > 0 {
			u.lunsChanged = true
			for _, s := range d {
				p.note("target %s: %s", t.IQN, s)
			}
		}
		for _, name := range mappedVolumes(t) {
			if p.replaced[name] {
				u.lunsChanged = true
			}
		}
		if d := targetDefDiff(ot, t); len(d) > 0 {
			u.defChanged = true
			for _, s := range d {
				p.note("target %s: %s", t.IQN, s)
			}
		}
		if u.defChanged || u.lunsChanged || !reflect.DeepEqual(normTarget(*ot), normTarget(*t)) {
			p.update = append(p.update, u)
		}
	}
	for _, t := range old.Targets {
		if cfg.Target(t.IQN) == nil {
			p.remove = append(p.remove, t.IQN)
			p.note("target %s removed", t.IQN)
		}
	}
	p.res.Changes = append(p.res.Changes, aluaDiff(old, cfg)...)
	// Resizes last: they are the only step that changes running objects.
	// Stores only grow, so a resize cannot be undone: if a later one
	// fails, the earlier volumes stay grown (no data is lost, the config
	// is unchanged, and a retry finds them at their new size).
	for i, r := range p.resized {
		if err := resizeVolume(r.vol, r.to); err != nil {
			p.keepGrown(p.resized[:i])
			return nil, fmt.Errorf("volume %s: resize to %s: %w", r.vol.cfg.Name, config.FormatSize(r.to), err)
		}
	}
	return p, nil
}

func (p *plan) note(format string, args ...any) {
	p.res.Changes = append(p.res.Changes, fmt.Sprintf(format, args...))
}

// abort closes what prepare opened.
func (p *plan) abort() {
	if p.portals != nil {
		p.portals.Abort()
	}
	for name, v := range p.opened {
		if !p.reused[name] {
			v.store.Close()
		}
	}
	p.opened = nil
}

// commit swaps the prepared objects in. n.mu must be held.
func (p *plan) commit() *admin.Result {
	n, srv := p.n, p.n.Server
	// Portal groups first: targets added or updated below may name a new
	// group.
	p.res.ConnectionsClosed = p.portals.Commit()
	if p.limits != nil {
		srv.SetLimits(*p.limits)
	}
	for _, r := range p.resized {
		r.vol.cfg.Size = r.to
	}
	for name, v := range p.opened {
		if cur := n.vols[name]; cur != nil && !p.reused[name] {
			defer n.retire(name, cur.store) // after the targets stop reaching it
		}
		n.vols[name] = v
	}
	for _, t := range p.add {
		live := newLiveLUNs(t.LUNs)
		t.LUNs = live
		if err := srv.AddTarget(t); err != nil {
			// prepare checked everything AddTarget checks.
			n.log.Error("adding target", "iqn", t.Name, "err", err)
			continue
		}
		n.luns[t.Name] = live
	}
	for _, u := range p.update {
		live := n.luns[u.def.Name]
		live.swap(u.def.LUNs)
		if u.defChanged {
			def := u.def
			def.LUNs = live
			ended, err := srv.UpdateTarget(def)
			if err != nil {
				n.log.Error("updating target", "iqn", def.Name, "err", err)
			}
			p.res.SessionsEnded += ended
			if u.allowed != nil {
				p.res.SessionsEnded += srv.EndSessions(func(si iscsi.SessionInfo) bool {
					return !si.Discovery && si.Target == def.Name && !u.allowed(si.Initiator)
				}, "initiator's access removed")
			}
		}
		if u.lunsChanged {
			if nt, ok := u.def.LUNs.(lunsChangedNotifier); ok {
				nt.ReportedLUNsChanged()
			} else {
				n.log.Warn("cannot announce the changed LUN inventory (REPORTED LUNS DATA HAS CHANGED) on this target type", "iqn", u.def.Name)
			}
		}
	}
	// ALUA states last: a state change's unit attention reaches the
	// nexuses of the LUN sets swapped in above.
	for _, u := range p.alua {
		u.apply()
	}
	for _, iqn := range p.remove {
		ended, err := srv.RemoveTarget(iqn)
		if err != nil {
			n.log.Error("removing target", "iqn", iqn, "err", err)
		}
		p.res.SessionsEnded += ended
		delete(n.luns, iqn)
	}
	for _, name := range p.removed {
		if v := n.vols[name]; v != nil {
			n.retire(name, v.store)
			delete(n.vols, name)
		}
	}
	n.cfg = p.cfg
	return &p.res
}

func resizeVolume(v *volume, to int64) error {
	r, ok := any(v.lu).(resizer)
	if !ok {
		return errors.New("this build cannot resize a logical unit live")
	}
	return r.Resize(to) // grows the store too
}

// sameVolume reports whether b describes the same logical unit on the same
// data as a; the size may differ.
func sameVolume(a, b *config.Volume) bool { return volumeDiff(a, b) == "" }

// volumeDiff names the fields of a volume that differ, the size aside.
func volumeDiff(a, b *config.Volume) string {
	x, y := *a, *b
	x.Pos, y.Pos = config.Pos{}, config.Pos{}
	x.Size, y.Size = 0, 0
	var diff []string
	xv, yv := reflect.ValueOf(x), reflect.ValueOf(y)
	for i := 0; i < xv.NumField(); i++ {
		if !reflect.DeepEqual(xv.Field(i).Interface(), yv.Field(i).Interface()) {
			diff = append(diff, strings.ToLower(xv.Type().Field(i).Name)+" changed")
		}
	}
	return strings.Join(diff, ", ")
}

// normTarget is t without source positions, for comparisons.
func normTarget(t config.Target) config.Target {
	t.Pos = config.Pos{}
	if t.CHAP != nil {
		c := *t.CHAP
		c.Pos = config.Pos{}
		t.CHAP = &c
	}
	ias := make([]config.InitiatorAccess, len(t.Access.Initiators))
	for i, ia := range t.Access.Initiators {
		ia.Pos = config.Pos{}
		if ia.CHAP != nil {
			c := *ia.CHAP
			c.Pos = config.Pos{}
			ia.CHAP = &c
		}
		ias[i] = ia
	}
	t.Access.Initiators = ias
	return t
}

// lunMapDiff describes the LUN changes of a target: its own map and every
// initiator's.
func lunMapDiff(a, b *config.Target) []string {
	out := lunDiff("", a.LUNs, b.LUNs)
	for _, ib := range b.Access.Initiators {
		if ia := a.Access.Initiator(ib.IQN); ia != nil {
			out = append(out, lunDiff("initiator "+ib.IQN+" ", ia.LUNs, ib.LUNs)...)
		}
	}
	return out
}

func lunDiff(prefix string, a, b []config.LUN) []string {
	am, bm := map[uint16]string{}, map[uint16]string{}
	for _, l := range a {
		am[l.LUN] = l.Volume
	}
	for _, l := range b {
		bm[l.LUN] = l.Volume
	}
	var out []string
	for _, l := range b {
		switch v, ok := am[l.LUN]; {
		case !ok:
			out = append(out, fmt.Sprintf("%sLUN %d (volume %s) added", prefix, l.LUN, l.Volume))
		case v != l.Volume:
			out = append(out, fmt.Sprintf("%sLUN %d now volume %s (was %s)", prefix, l.LUN, l.Volume, v))
		}
	}
	for _, l := range a {
		if _, ok := bm[l.LUN]; !ok {
			out = append(out, fmt.Sprintf("%sLUN %d (volume %s) removed", prefix, l.LUN, l.Volume))
		}
	}
	return out
}

// targetDefDiff describes the changes of a target other than LUN numbers:
// they apply to new logins, except that removed access ends sessions.
func targetDefDiff(a, b *config.Target) []string {
	x, y := normTarget(*a), normTarget(*b)
	var out []string
	if x.Alias != y.Alias {
		out = append(out, fmt.Sprintf("alias %q (new sessions)", y.Alias))
	}
	if !slices.Equal(x.PortalGroups, y.PortalGroups) {
		out = append(out, fmt.Sprintf("portal groups %v", y.PortalGroups))
	}
	if !reflect.DeepEqual(x.Params, y.Params) {
		out = append(out, "params changed (new sessions)")
	}
	if !reflect.DeepEqual(x.CHAP, y.CHAP) {
		out = append(out, "CHAP changed (new logins)")
	}
	if x.Access.All != y.Access.All {
		if y.Access.All {
			out = append(out, "access opened to every initiator")
		} else {
			out = append(out, "access restricted to listed initiators")
		}
	}
	for _, ib := range y.Access.Initiators {
		ia := x.Access.Initiator(ib.IQN)
		switch {
		case ia == nil:
			out = append(out, fmt.Sprintf("initiator %s allowed", ib.IQN))
		case !reflect.DeepEqual(ia.CHAP, ib.CHAP):
			out = append(out, fmt.Sprintf("initiator %s: CHAP changed (new logins)", ib.IQN))
		case ia.OwnLUNs != ib.OwnLUNs:
			out = append(out, fmt.Sprintf("initiator %s: LUN map changed", ib.IQN))
		}
	}
	for _, ia := range x.Access.Initiators {
		if y.Access.Initiator(ia.IQN) == nil {
			out = append(out, fmt.Sprintf("initiator %s no longer allowed", ia.IQN))
		}
	}
	return out
}

// allowedFunc reports which initiators may stay logged in to t.
func allowedFunc(t *config.Target) func(string) bool {
	if t.Access.All {
		return nil
	}
	a := t.Access
	return func(ini string) bool { return a.Initiator(ini) != nil }
}

// mappedVolumes lists the volumes a target maps, for anyone.
func mappedVolumes(t *config.Target) []string {
	var out []string
	for _, l := range t.LUNs {
		out = append(out, l.Volume)
	}
	for _, ia := range t.Access.Initiators {
		for _, l := range ia.LUNs {
			out = append(out, l.Volume)
		}
	}
	return out
}

// ---- entry points ----

// load reads the config source (or text, if given) and fills in serials.
func (n *Node) load(text []byte) (*config.Config, error) {
	var cfg *config.Config
	var err error
	switch {
	case text != nil:
		name := n.src.Path
		if name == "" {
			name = config.DefaultName
		}
		cfg, err = config.ParseWith(name, text, n.src.Overrides)
	case n.src.Path != "":
		cfg, err = config.LoadWith(n.src.Path, n.src.Overrides)
	case n.src.text != nil:
		cfg, err = config.ParseWith(config.DefaultName, n.src.text, n.src.Overrides)
	default:
		return nil, errNoSource
	}
	if err != nil {
		return nil, err
	}
	if err := config.EnsureSerials(cfg); err != nil {
		return nil, err
	}
	changes, err := config.KeepIdentities(cfg)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		n.log.Warn("volume identity changed by the config: initiators see a new disk", "volume", c.Volume, "old_wwid", c.OldWWID, "wwid", c.WWID)
	}
	return cfg, nil
}

// Reload rereads the config file and applies the difference to the running
// node. An invalid file changes nothing.
func (n *Node) Reload() (res *admin.Result, err error) {
	if n.reloading != nil {
		n.reloading(true)
		defer n.reloading(false)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	defer func() { n.countReload(err) }()
	cfg, err := n.load(nil)
	if err != nil {
		return nil, err
	}
	p, err := n.prepare(cfg)
	if err != nil {
		return nil, err
	}
	res = p.commit()
	res.Config = cfg.Source
	n.logResult("reload", res)
	return res, nil
}

// Change edits the config file with edit, validates the result, applies
// it, and writes it back atomically; if anything fails, neither the file
// nor the running node changes. The file's current content is edited, so
// edits made by hand and not yet reloaded are applied too.
func (n *Node) Change(what string, edit func(*config.Document) error) (*admin.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changeLocked(what, edit)
}

// changeLocked is Change with n.mu held.
func (n *Node) changeLocked(what string, edit func(*config.Document) error) (*admin.Result, error) {
	var text []byte
	name := n.src.Path
	switch {
	case n.src.Path != "":
		b, err := os.ReadFile(n.src.Path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		text = b
	case n.src.text != nil:
		text, name = n.src.text, config.DefaultName
	default:
		return nil, errNoSource
	}
	doc, err := config.ParseDocument(name, text)
	if err != nil {
		return nil, err
	}
	if err := edit(doc); err != nil {
		return nil, err
	}
	out := doc.Bytes()
	cfg, err := n.load(out)
	if err != nil {
		return nil, err
	}
	p, err := n.prepare(cfg)
	if err != nil {
		return nil, err
	}
	if n.src.Path != "" {
		if err := config.WriteFileAtomic(n.src.Path, out); err != nil {
			p.keepGrown(p.resized)
			p.abort()
			return nil, err
		}
	} else {
		n.src.text = out
	}
	res := p.commit()
	res.Persisted = n.src.Path != ""
	res.Config = name
	n.logResult(what, res)
	return res, nil
}

// keepGrown reports volumes grown by a change that was then refused: they
// keep their new size (stores do not shrink), which is harmless; the
// running config keeps the old size, so the next reload does not see a
// shrink.
func (p *plan) keepGrown(rs []resize) {
	for _, r := range rs {
		p.n.log.Warn("volume stays grown although the change was refused", "volume", r.vol.cfg.Name,
			"size", config.FormatSize(r.to))
	}
	p.resized = nil
}

func (n *Node) logResult(what string, res *admin.Result) {
	if len(res.Changes) == 0 {
		n.log.Info(what+": nothing changed", "config", res.Config)
		return
	}
	for _, c := range res.Changes {
		n.log.Info(what, "change", c)
	}
	if res.SessionsEnded > 0 {
		n.log.Info(what, "sessions_ended", res.SessionsEnded)
	}
	if res.ConnectionsClosed > 0 {
		n.log.Info(what, "connections_closed", res.ConnectionsClosed)
	}
}
