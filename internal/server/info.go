package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/iscsi"
)

// This file answers the management API's listing calls from the running
// state.

var _ admin.Node = (*Node)(nil)

// Version is reported by Status; cmd/halun sets it.
var Version = "dev"

// Status describes the daemon.
func (n *Node) Status() admin.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := admin.Status{Version: Version, Config: n.src.Path, Persistent: n.src.Path != "", DataDir: n.cfg.Node.DataDir}
	if st.Config == "" {
		st.Config = config.DefaultName
	}
	return st
}

// Volumes lists the volumes with their WWIDs and mappings.
func (n *Node) Volumes() []admin.Volume {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]admin.Volume, 0, len(n.cfg.Volumes))
	for _, vc := range n.cfg.Volumes {
		v := n.vols[vc.Name]
		if v == nil {
			continue
		}
		av := admin.Volume{Name: vc.Name, Backend: string(vc.Backend), Path: vc.Path,
			Size: int64(v.lu.Blocks()) * int64(vc.BlockSize), BlockSize: vc.BlockSize, Serial: vc.Serial,
			WWID: v.lu.WWID(), Style: string(vc.IdentitySpec().StyleName()), ReadOnly: vc.ReadOnly, Thin: vc.Thin, WriteCache: vc.WriteCache, Removable: vc.Removable}
		id := v.lu.Config().Identity
		av.Vendor, av.Product, av.Revision = id.Vendor, id.Product, id.Revision
		for _, d := range id.Designators {
			av.Designators = append(av.Designators, d.String())
		}
		for _, t := range n.cfg.Targets {
			for _, l := range t.LUNs {
				if l.Volume == vc.Name {
					av.MappedBy = append(av.MappedBy, fmt.Sprintf("%s LUN %d", t.IQN, l.LUN))
				}
			}
			for _, ia := range t.Access.Initiators {
				for _, l := range ia.LUNs {
					if l.Volume == vc.Name {
						av.MappedBy = append(av.MappedBy, fmt.Sprintf("%s LUN %d for %s", t.IQN, l.LUN, ia.IQN))
					}
				}
			}
		}
		out = append(out, av)
	}
	return out
}

// Targets lists the targets with their LUN maps, ACLs and session counts.
func (n *Node) Targets() []admin.Target {
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	count := map[string]int{}
	for _, s := range n.Server.Sessions() {
		if !s.Discovery {
			count[s.Target]++
		}
	}
	out := make([]admin.Target, 0, len(cfg.Targets))
	for _, t := range cfg.Targets {
		at := admin.Target{IQN: t.IQN, Alias: t.Alias, PortalGroups: slices.Clone(t.PortalGroups),
			AllInitiators: t.Access.All, CHAP: t.CHAP != nil, Sessions: count[t.IQN], LUNs: adminLUNs(t.LUNs)}
		if len(at.PortalGroups) == 0 {
			for _, pg := range cfg.PortalGroups {
				at.PortalGroups = append(at.PortalGroups, pg.Tag)
			}
		}
		for _, ia := range t.Access.Initiators {
			acl := admin.ACL{Initiator: ia.IQN, CHAP: ia.CHAP != nil}
			if ia.OwnLUNs {
				acl.LUNs = adminLUNs(ia.LUNs)
			}
			at.ACLs = append(at.ACLs, acl)
		}
		out = append(out, at)
	}
	return out
}

func adminLUNs(ls []config.LUN) []admin.LUN {
	out := make([]admin.LUN, 0, len(ls))
	for _, l := range ls {
		out = append(out, admin.LUN{LUN: l.LUN, Volume: l.Volume})
	}
	slices.SortFunc(out, func(a, b admin.LUN) int { return int(a.LUN) - int(b.LUN) })
	return out
}

// Portals lists every portal with what it is bound to and its group's
// ALUA state.
func (n *Node) Portals() []admin.Portal {
	n.mu.Lock()
	cfg := n.cfg
	states := map[uint16]string{}
	for _, pg := range cfg.PortalGroups {
		states[pg.Tag] = n.groupState(pg.Tag)
	}
	n.mu.Unlock()
	bound := map[string]string{}
	for _, pa := range n.Server.Addrs() {
		bound[pa.Configured] = pa.Addr
	}
	var out []admin.Portal
	for _, pg := range cfg.PortalGroups {
		state := states[pg.Tag]
		for _, p := range pg.Portals {
			out = append(out, admin.Portal{Group: pg.Tag, Addr: p.String(), ALUA: state, Bound: bound[p.String()]})
		}
	}
	return out
}

// Sessions lists the sessions with their negotiated keys and counters.
func (n *Node) Sessions() []admin.Session {
	list := n.Server.Sessions()
	out := make([]admin.Session, 0, len(list))
	for _, s := range list {
		as := admin.Session{Initiator: s.Initiator, ISID: s.ISIDString(), TSIH: s.TSIH, Target: s.Target,
			TPGT: s.TPGT, Discovery: s.Discovery, Commands: s.Commands, ReadBytes: s.ReadBytes,
			WriteBytes: s.WriteBytes, Params: sessionParams(s)}
		for _, c := range s.Conns {
			as.Conns = append(as.Conns, admin.Conn{CID: c.CID, Local: c.Local, Remote: c.Remote})
		}
		out = append(out, as)
	}
	return out
}

// sessionParams lists the negotiated keys as iscsiadm -P 3 shows them.
func sessionParams(s iscsi.SessionInfo) []admin.KV {
	p := s.Params
	yn := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	dg := func(b bool) string {
		if b {
			return "CRC32C"
		}
		return "None"
	}
	num := strconv.Itoa
	return []admin.KV{
		{Key: "HeaderDigest", Value: dg(p.HeaderDigest)},
		{Key: "DataDigest", Value: dg(p.DataDigest)},
		{Key: "MaxRecvDataSegmentLength", Value: num(p.TargetMaxRecvDataSegmentLength)},
		{Key: "MaxXmitDataSegmentLength", Value: num(p.MaxRecvDataSegmentLength)},
		{Key: "FirstBurstLength", Value: num(p.FirstBurstLength)},
		{Key: "MaxBurstLength", Value: num(p.MaxBurstLength)},
		{Key: "ImmediateData", Value: yn(p.ImmediateData)},
		{Key: "InitialR2T", Value: yn(p.InitialR2T)},
		{Key: "MaxOutstandingR2T", Value: num(p.MaxOutstandingR2T)},
		{Key: "MaxConnections", Value: num(p.MaxConnections)},
		{Key: "ErrorRecoveryLevel", Value: num(p.ErrorRecoveryLevel)},
		{Key: "DefaultTime2Wait", Value: num(p.DefaultTime2Wait)},
		{Key: "DefaultTime2Retain", Value: num(p.DefaultTime2Retain)},
	}
}

// normState parses an ALUA state as the CLI spells it.
func normState(s string) (string, bool) {
	s = strings.ToLower(strings.NewReplacer("_", "-", "/", "-").Replace(s))
	switch s {
	case "active-optimised", "ao", "optimized":
		s = admin.ALUAActiveOptimized
	case "active-non-optimized", "active-nonoptimised", "ano", "non-optimized":
		s = admin.ALUAActiveNonOptimized
	}
	return s, slices.Contains(admin.ALUAStates, s)
}
