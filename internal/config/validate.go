package config

import (
	"fmt"
	"strings"
)

// validate checks what spans entries: unique names, serials, paths, portals
// and LUNs, and that references resolve. Entries that already failed to
// decode are skipped so one mistake is reported once.
func (d *decoder) validate(c *Config) {
	line := d.lineOf
	d.validateLimits(c)

	tags := map[uint16]string{}
	portals := map[Portal]string{}
	for i, pg := range c.PortalGroups {
		p := index("portal_groups", i)
		if pg.Tag != 0 {
			if prev, dup := tags[pg.Tag]; dup {
				d.errField(join(p, "tag"), "tag %d is already used by %s%s", pg.Tag, prev, line(join(prev, "tag")))
			} else {
				tags[pg.Tag] = p
			}
		}
		for j, pt := range pg.Portals {
			pp := index(join(p, "portals"), j)
			if prev, dup := portals[pt]; dup {
				d.errField(pp, "portal %s is already listed at %s%s; a portal belongs to one portal group", pt, prev, line(prev))
			} else {
				portals[pt] = pp
			}
		}
	}

	names := map[string]string{}
	serials := map[string]string{}
	paths := map[string]string{}
	for i, v := range c.Volumes {
		p := index("volumes", i)
		if v.Name != "" {
			if prev, dup := names[v.Name]; dup {
				d.errField(join(p, "name"), "volume %q is already defined at %s%s", v.Name, prev, line(prev))
			} else {
				names[v.Name] = p
			}
		}
		if v.Serial != "" {
			key := strings.ToLower(v.Serial)
			if prev, dup := serials[key]; dup {
				d.errField(join(p, "serial"), "serial %q is already the serial of %s%s; two volumes would have one SCSI identity",
					v.Serial, prev, line(join(prev, "serial")))
			} else {
				serials[key] = p
			}
		}
		if v.Path != "" {
			if prev, dup := paths[v.Path]; dup {
				d.errField(join(p, "path"), "%s is already the path of %s%s", v.Path, prev, line(join(prev, "path")))
			} else {
				paths[v.Path] = p
			}
		}
	}

	d.validateIdentities(c)
	d.validateCluster(c)

	iqns := map[string]string{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := index("targets", i)
		if t.IQN != "" {
			if prev, dup := iqns[t.IQN]; dup {
				d.errField(join(p, "iqn"), "target %s is already defined at %s%s", t.IQN, prev, line(prev))
			} else {
				iqns[t.IQN] = p
			}
		}
		if _, given := d.at[join(p, "portal_groups")]; given {
			seen := map[uint16]bool{}
			for j, tag := range t.PortalGroups {
				pp := index(join(p, "portal_groups"), j)
				switch {
				case seen[tag]:
					d.errField(pp, "portal group %d listed twice", tag)
				case tags[tag] == "":
					d.errField(pp, "portal group %d is not defined in portal_groups", tag)
				}
				seen[tag] = true
			}
		} else {
			for _, pg := range c.PortalGroups {
				t.PortalGroups = append(t.PortalGroups, pg.Tag)
			}
		}
		d.checkLUNMap(join(p, "luns"), t.LUNs, names)
	}
	d.validateAccess(c, names)
}

// validateLimits checks that the per-address and per-session limits are
// within the node-wide ones they are part of.
func (d *decoder) validateLimits(c *Config) {
	nd := c.Node
	if nd.MaxConnectionsPerAddress > nd.MaxConnections {
		d.errField("node.max_connections_per_address", "%d is more than max_connections %d%s",
			nd.MaxConnectionsPerAddress, nd.MaxConnections, d.lineOf("node.max_connections"))
	}
	if nd.MaxSessionBufferedData > nd.MaxBufferedData {
		d.errField("node.max_session_buffered_data", "%s is more than max_buffered_data %s%s",
			FormatSize(nd.MaxSessionBufferedData), FormatSize(nd.MaxBufferedData), d.lineOf("node.max_buffered_data"))
	}
}

// lineOf returns " (line N)" for the config entry at path, for messages
// that point at an earlier entry; "" when its line is unknown.
func (d *decoder) lineOf(path string) string {
	if n := d.at[path]; n != nil && n.Line > 0 {
		return fmt.Sprintf(" (line %d)", n.Line)
	}
	return ""
}

// checkLUNMap checks one LUN map (a target's, or an initiator's own): LUN
// numbers and volumes each appear once, and every volume is defined
// (volumes maps defined volume names to their field paths).
func (d *decoder) checkLUNMap(path string, lunMap []LUN, volumes map[string]string) {
	luns := map[uint16]string{}
	vols := map[string]string{}
	for j, l := range lunMap {
		pl := index(path, j)
		if l.LUN <= MaxLUN {
			if prev, dup := luns[l.LUN]; dup {
				d.errField(join(pl, "lun"), "LUN %d is already mapped at %s%s", l.LUN, prev, d.lineOf(prev))
			} else {
				luns[l.LUN] = pl
			}
		}
		if l.Volume == "" {
			continue
		}
		if volumes[l.Volume] == "" {
			d.errField(join(pl, "volume"), "volume %q is not defined in volumes", l.Volume)
		} else if prev, dup := vols[l.Volume]; dup {
			d.errField(join(pl, "volume"), "volume %q is already mapped at %s%s", l.Volume, prev, d.lineOf(prev))
		} else {
			vols[l.Volume] = pl
		}
	}
}
