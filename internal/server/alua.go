package server

import (
	"errors"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/scsi"
)

// ALUA: a target port group is a portal group (scsi/alua.go). The node
// keeps the states set through management and installs them on every
// target's LUN set; a rebuilt LUN set (reload) takes over the states of
// the one it replaces, including changes an initiator made with SET TARGET
// PORT GROUPS. The states are runtime state, not config: a restart starts
// active/optimized, and the HA layer is what will drive them.

// aluaTarget is a LUN set that reports ALUA states.
type aluaTarget interface {
	SetALUA(groups []scsi.TargetPortGroup, explicit bool)
	ALUA() ([]scsi.TargetPortGroup, bool)
}

var errNoALUA = errors.New("this build's SCSI layer cannot report ALUA states on this target")

var aluaStates = map[string]scsi.ALUAState{
	admin.ALUAActiveOptimized:    scsi.ALUAActiveOptimized,
	admin.ALUAActiveNonOptimized: scsi.ALUAActiveNonOptimized,
	admin.ALUAStandby:            scsi.ALUAStandby,
	admin.ALUAUnavailable:        scsi.ALUAUnavailable,
	admin.ALUATransitioning:      scsi.ALUATransitioning,
}

func aluaName(s scsi.ALUAState) string {
	for name, v := range aluaStates {
		if v == s {
			return name
		}
	}
	return "unknown"
}

// applyALUA installs the node's ALUA states on a target's LUN set, keeping
// its explicit-ALUA setting and its other groups' states.
func (n *Node) applyALUA(t scsi.Target) error {
	at, ok := t.(aluaTarget)
	if !ok {
		if len(n.alua) == 0 {
			return nil
		}
		return errNoALUA
	}
	groups, explicit := at.ALUA()
	for tag, name := range n.alua {
		g := scsi.TargetPortGroup{ID: tag, State: aluaStates[name]}
		replaced := false
		for i := range groups {
			if groups[i].ID == tag {
				g.Preferred = groups[i].Preferred
				groups[i] = g
				replaced = true
			}
		}
		if !replaced {
			groups = append(groups, g)
		}
	}
	at.SetALUA(groups, explicit)
	return nil
}

// inheritALUA gives a rebuilt LUN set the ALUA states of the one it
// replaces.
func inheritALUA(from, to scsi.Target) {
	f, ok1 := from.(aluaTarget)
	t, ok2 := to.(aluaTarget)
	if !ok1 || !ok2 {
		return
	}
	if groups, explicit := f.ALUA(); groups != nil || explicit {
		t.SetALUA(groups, explicit)
	}
}

// groupState is the ALUA state of portal group tag as the targets report
// it. n.mu must be held.
func (n *Node) groupState(tag uint16) string {
	for _, live := range n.luns {
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
		return admin.ALUAActiveOptimized
	}
	if s := n.alua[tag]; s != "" {
		return s
	}
	return admin.ALUAActiveOptimized
}
