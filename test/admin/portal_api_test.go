package admin_test

import (
	"errors"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/initiator"
)

// TestPortalAddRemove manages portals the way targetcli's portals
// create/delete do, through the admin API and the halun CLI: an added
// portal (in a new portal group) listens at once, is announced by
// SendTargets and takes logins, and is written to the config with its
// comments kept; removing it closes only its connection, stops the
// listener and gives the file back as it was.
func TestPortalAddRemove(t *testing.T) {
	nd := startNode(t)
	ctx := ctxT(t)
	orig, err := os.ReadFile(nd.path)
	if err != nil {
		t.Fatal(err)
	}
	busy := nd.login(t, targetA, ini1) // through the config's portal; must survive
	var ua uaLog
	if err := ua.do(func() error { return busy.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	res, err := nd.client.AddPortal(ctx, 2, addr)
	if err != nil {
		t.Fatalf("add portal: %v", err)
	}
	if !res.Persisted || !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.Contains(c, "portal "+addr+" (group 2) added") }) {
		t.Errorf("add portal: %+v", res)
	}
	if res.SessionsEnded != 0 || res.ConnectionsClosed != 0 {
		t.Errorf("adding a portal ended %d sessions, closed %d connections", res.SessionsEnded, res.ConnectionsClosed)
	}
	text, err := os.ReadFile(nd.path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "  - tag: 2\n    portals: [\"" + addr + "\"]\n"; !strings.Contains(string(text), want) {
		t.Errorf("the config lacks %q:\n%s", want, text)
	}
	for _, comment := range []string{"# live reconfiguration test", "# serials live here", "# the busy disk", "# removed by the reload"} {
		if !strings.Contains(string(text), comment) {
			t.Errorf("the config lost the comment %q:\n%s", comment, text)
		}
	}
	ps, err := nd.client.Portals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ps, func(p admin.Portal) bool { return p.Group == 2 && p.Addr == addr && p.Bound == addr }) {
		t.Errorf("portal list %+v lacks %s bound in group 2", ps, addr)
	}
	// SendTargets through the old portal announces the new one.
	ds, err := initiator.Discover(ctx, nd.addr, ini1)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	i := slices.IndexFunc(ds, func(d initiator.DiscoveredTarget) bool { return d.Name == targetA })
	if i < 0 || !slices.Contains(ds[i].Portals, initiator.Portal{Addr: addr, TPGT: 2}) {
		t.Errorf("SendTargets: %+v, want %s in group 2 for target A", ds, addr)
	}
	via := dialAt(t, addr, ini1)
	if err := ua.do(func() error { return via.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatalf("session through the added portal: %v", err)
	}

	// Remove it with the CLI.
	out, err := halunCLI(t, nd.sock, "portal", "remove", addr)
	if err != nil {
		t.Fatalf("halun portal remove: %v\n%s", err, out)
	}
	for _, want := range []string{"portal " + addr + " (group 2) removed", "1 connection(s) through removed or moved portals closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("halun portal remove printed %q, lacks %q", out, want)
		}
	}
	if err := via.TestUnitReady(ctx, 0); err == nil {
		t.Errorf("the session through the removed portal still works")
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the removed portal %s still accepts connections", addr)
	}
	if err := ua.do(func() error { return busy.TestUnitReady(ctx, 0) }); err != nil {
		t.Errorf("the session through the config's portal broke: %v", err)
	}
	if text, err = os.ReadFile(nd.path); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), addr) || string(text) != string(orig) {
		t.Errorf("config after the removal:\n%s\nwant it as it was:\n%s", text, orig)
	}
}

// TestPortalAddRemoveErrors: refused portal changes leave the config file
// and the listeners as they were, and say why.
func TestPortalAddRemoveErrors(t *testing.T) {
	nd := startNode(t)
	ctx := ctxT(t)
	orig, err := os.ReadFile(nd.path)
	if err != nil {
		t.Fatal(err)
	}
	status := func(err error) int {
		var ae *admin.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("not an API error: %v", err)
		}
		return ae.Status
	}
	// The config's portal is group 1's: it cannot join group 2 as well.
	_, err = nd.client.AddPortal(ctx, 2, nd.addr)
	if status(err) != http.StatusConflict || !strings.Contains(err.Error(), "in portal group 1") {
		t.Errorf("adding group 1's portal to group 2: %v", err)
	}
	out, err := halunCLI(t, nd.sock, "portal", "add", nd.addr, "--group", "2")
	if err == nil || !strings.Contains(out, "already exists in portal group 1") {
		t.Errorf("halun portal add of group 1's portal: %v\n%s", err, out)
	}
	// An address another program holds refuses the change.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := nd.client.AddPortal(ctx, 1, taken.Addr().String()); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("adding a taken address: %v, want an error naming it", err)
	}
	// The only portal stays.
	if _, err := nd.client.RemovePortal(ctx, nd.addr); status(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "only portal") {
		t.Errorf("removing the only portal: %v", err)
	}
	if _, err := nd.client.RemovePortal(ctx, "127.0.0.1:1"); status(err) != http.StatusNotFound {
		t.Errorf("removing a portal the config lacks: %v", err)
	}
	if text, _ := os.ReadFile(nd.path); string(text) != string(orig) {
		t.Errorf("refused changes wrote the config:\n%s", text)
	}
	ps, err := nd.client.Portals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Addr != nd.addr || ps[0].Bound == "" {
		t.Errorf("portals after refused changes: %+v", ps)
	}
	nd.login(t, targetA, ini1)
}
