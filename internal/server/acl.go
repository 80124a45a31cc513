package server

import (
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi"
	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/scsi"
)

// targetLUNs builds what a target's sessions execute against, and who may
// log in. With access.all every initiator shares the target's LUN map; with
// access.initiators each listed initiator gets its own view (its own LUN
// map, or the target's), keyed by its name, and everyone else sees nothing.
// Every view shares the target's ALUA state g.
func targetLUNs(t *config.Target, lus map[string]*scsi.LU, g *scsi.ALUAGroups) (scsi.Target, *iscsi.Access) {
	m := map[uint64]*scsi.LU{}
	for _, l := range t.LUNs {
		m[uint64(l.LUN)] = lus[l.Volume]
	}
	a := &iscsi.Access{All: t.Access.All, CHAP: chapCredentials(t.CHAP)}
	if t.Access.All {
		return scsi.NewTargetALUA(t.IQN, m, g), a
	}
	a.Initiators = make(map[string]iscsi.InitiatorAccess, len(t.Access.Initiators))
	views := make(map[string]map[uint64]*scsi.LU, len(t.Access.Initiators))
	for _, ia := range t.Access.Initiators {
		a.Initiators[ia.IQN] = iscsi.InitiatorAccess{CHAP: chapCredentials(ia.CHAP)}
		if !ia.OwnLUNs {
			views[ia.IQN] = m
			continue
		}
		own := make(map[uint64]*scsi.LU, len(ia.LUNs))
		for _, l := range ia.LUNs {
			own[uint64(l.LUN)] = lus[l.Volume]
		}
		views[ia.IQN] = own
	}
	return scsi.NewViewsALUA(t.IQN, g, nil, views), a
}

// chapCredentials converts config CHAP to the login layer's; nil for none.
func chapCredentials(c *config.CHAP) *login.CHAPCredentials {
	if c == nil {
		return nil
	}
	return &login.CHAPCredentials{User: c.User, Secret: c.Secret, TargetUser: c.TargetUser, TargetSecret: c.TargetSecret}
}
