package server

import (
	"fmt"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
)

// Portal management: `halun portal add` and `halun portal remove` edit the
// config's portal_groups through Change, so a new portal is bound, and a
// removed one closed with only its connections, by the same prepare and
// commit as a reload, and the file says what runs.

// AddPortal adds the listening address addr to portal group group,
// creating the group if the config has none with that tag. A new group
// serves every target that does not list its portal groups.
func (n *Node) AddPortal(group uint16, addr string) (*admin.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.portalsManaged(); err != nil {
		return nil, err
	}
	return n.changeLocked(fmt.Sprintf("add portal %s to group %d", addr, group),
		func(d *config.Document) error { return d.AddPortal(group, addr) })
}

// RemovePortal removes the listening address addr from its portal group,
// and the group with it if that was its last portal. The connections that
// came through it are closed; every other session goes on.
func (n *Node) RemovePortal(addr string) (*admin.Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.portalsManaged(); err != nil {
		return nil, err
	}
	return n.changeLocked("remove portal "+addr,
		func(d *config.Document) error { return d.RemovePortal(addr) })
}

// portalsManaged refuses portal changes the running node would not show:
// --listen replaces the config's portals on every load, so an added or
// removed portal would be overridden (or, as a second group, refused).
// n.mu must be held.
func (n *Node) portalsManaged() error {
	l := n.src.Overrides.Listen
	switch {
	case l == "":
		return nil
	case n.src.Path == "":
		return fmt.Errorf("halun serves the embedded default on --listen %s; serve --config FILE to manage portals", l)
	}
	return fmt.Errorf("halun was started with --listen %s, which replaces the portals of %s; restart it without --listen to manage portals", l, n.src.Path)
}
