package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/halun/halun/internal/config"
)

// fakeNode keeps a config document in memory and applies changes to it
// the way the daemon does: edit, then validate, else refuse.
type fakeNode struct {
	mu      sync.Mutex
	doc     []byte
	reloads int
	alua    map[uint16]string
}

const fakeConfig = `# fake node
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]
volumes:
  - name: v0
    backend: memory
    size: 1MiB
    serial: s0
targets:
  - iqn: iqn.2026-11.io.halun:t0
    luns:
      - { lun: 0, volume: v0 }
    access:
      initiators:
        - iqn: iqn.2026-11.io.halun:i1
        - iqn: iqn.2026-11.io.halun:i2
`

func (f *fakeNode) Status() Status {
	return Status{Version: "test", Config: "fake.yaml", Persistent: true}
}

func (f *fakeNode) cfg() *config.Config {
	c, err := config.Parse("fake.yaml", f.doc)
	if err != nil {
		panic(err)
	}
	return c
}

func (f *fakeNode) Volumes() []Volume {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Volume
	for _, v := range f.cfg().Volumes {
		out = append(out, Volume{Name: v.Name, Backend: string(v.Backend), Size: v.Size, Serial: v.Serial})
	}
	return out
}

func (f *fakeNode) Targets() []Target {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Target
	for _, t := range f.cfg().Targets {
		at := Target{IQN: t.IQN, AllInitiators: t.Access.All}
		for _, l := range t.LUNs {
			at.LUNs = append(at.LUNs, LUN{LUN: l.LUN, Volume: l.Volume})
		}
		for _, ia := range t.Access.Initiators {
			at.ACLs = append(at.ACLs, ACL{Initiator: ia.IQN})
		}
		out = append(out, at)
	}
	return out
}

func (f *fakeNode) Portals() []Portal {
	return []Portal{{Group: 1, Addr: "127.0.0.1:3260", ALUA: f.alua[1]}}
}

func (f *fakeNode) Sessions() []Session {
	return []Session{{Initiator: "iqn.2026-11.io.halun:i1", ISID: "23d000000001", TSIH: 7, Target: "iqn.2026-11.io.halun:t0",
		TPGT: 1, Params: []KV{{Key: "HeaderDigest", Value: "None"}}, Commands: 3}}
}

func (f *fakeNode) Reload() (*Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return &Result{Config: "fake.yaml"}, nil
}

func (f *fakeNode) Change(what string, edit func(*config.Document) error) (*Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := config.ParseDocument("fake.yaml", f.doc)
	if err != nil {
		return nil, err
	}
	if err := edit(d); err != nil {
		return nil, err
	}
	if _, err := config.Parse("fake.yaml", d.Bytes()); err != nil {
		return nil, err
	}
	f.doc = d.Bytes()
	return &Result{Changes: []string{what}, Persisted: true}, nil
}

func (f *fakeNode) Stats() Stats {
	return Stats{Volumes: []VolumeStats{{Name: "v0", Commands: map[string]uint64{"read": 3}}}}
}

func (f *fakeNode) SetALUA(group uint16, state string) (*Result, error) {
	if group != 1 {
		return nil, config.ErrNotFound
	}
	f.alua[group] = state
	return &Result{Changes: []string{state}}, nil
}

func (f *fakeNode) AddPortal(group uint16, addr string) (*Result, error) {
	return f.Change("add portal "+addr, func(d *config.Document) error { return d.AddPortal(group, addr) })
}

func (f *fakeNode) RemovePortal(addr string) (*Result, error) {
	return f.Change("remove portal "+addr, func(d *config.Document) error { return d.RemovePortal(addr) })
}

func start(t *testing.T) (*fakeNode, *Client, string) {
	t.Helper()
	n := &fakeNode{doc: []byte(fakeConfig), alua: map[uint16]string{}}
	sock := filepath.Join(t.TempDir(), SocketName)
	s, err := Serve(sock, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	return n, NewClient(sock), sock
}

func TestListings(t *testing.T) {
	_, c, sock := start(t)
	ctx := context.Background()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	st, err := c.Status(ctx)
	if err != nil || st.Version != "test" {
		t.Fatalf("status %+v %v", st, err)
	}
	vols, err := c.Volumes(ctx)
	if err != nil || len(vols) != 1 || vols[0].Serial != "s0" {
		t.Fatalf("volumes %+v %v", vols, err)
	}
	ts, err := c.Targets(ctx)
	if err != nil || len(ts) != 1 || len(ts[0].ACLs) != 2 {
		t.Fatalf("targets %+v %v", ts, err)
	}
	ss, err := c.Sessions(ctx)
	if err != nil || len(ss) != 1 || ss[0].TSIH != 7 || ss[0].Params[0].Key != "HeaderDigest" {
		t.Fatalf("sessions %+v %v", ss, err)
	}
	if _, err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestChanges(t *testing.T) {
	n, c, _ := start(t)
	ctx := context.Background()
	const iqn = "iqn.2026-11.io.halun:t0"
	steps := []func() (*Result, error){
		func() (*Result, error) {
			return c.AddVolume(ctx, VolumeAdd{Name: "v1", Backend: "memory", Size: "2MiB"})
		},
		func() (*Result, error) { return c.MapLUN(ctx, iqn, 1, "v1", "") },
		func() (*Result, error) { return c.ResizeVolume(ctx, "v1", "4MiB") },
		func() (*Result, error) {
			return c.AddACL(ctx, iqn, "iqn.2026-11.io.halun:i3", []LUN{{LUN: 5, Volume: "v1"}})
		},
		func() (*Result, error) { return c.RemoveACL(ctx, iqn, "iqn.2026-11.io.halun:i1") },
		func() (*Result, error) {
			return c.AddTarget(ctx, TargetAdd{IQN: "iqn.2026-11.io.halun:t1", AllInitiators: true})
		},
		func() (*Result, error) { return c.UnmapLUN(ctx, iqn, 1, "") },
		func() (*Result, error) { return c.RemoveTarget(ctx, "iqn.2026-11.io.halun:t1") },
		func() (*Result, error) { return c.SetALUA(ctx, 1, ALUAStandby) },
		// The address travels path-escaped: brackets, colons, a zone's %.
		func() (*Result, error) { return c.AddPortal(ctx, 2, "[fe80::1%eth0]:3260") },
		func() (*Result, error) { return c.AddPortal(ctx, 1, "[::1]:3260") },
		func() (*Result, error) { return c.AddPortal(ctx, 1, ":3261") },
		func() (*Result, error) { return c.RemovePortal(ctx, "127.0.0.1:3260") },
	}
	for i, s := range steps {
		if res, err := s(); err != nil || len(res.Changes) != 1 {
			t.Fatalf("step %d: %+v %v", i, res, err)
		}
	}
	cfg := n.cfg()
	if len(cfg.Volumes) != 2 || cfg.Volumes[1].Size != 4<<20 {
		t.Errorf("volumes %+v", cfg.Volumes)
	}
	tg := cfg.Targets[0]
	if len(cfg.Targets) != 1 || len(tg.LUNs) != 1 || len(tg.Access.Initiators) != 2 || tg.Access.Initiators[1].LUNs[0].LUN != 5 {
		t.Errorf("target %+v", tg)
	}
	if n.alua[1] != ALUAStandby {
		t.Errorf("alua %v", n.alua)
	}
	var portals []string
	for _, pg := range cfg.PortalGroups {
		for _, p := range pg.Portals {
			portals = append(portals, fmt.Sprintf("%d %s", pg.Tag, p))
		}
	}
	if want := "1 [::1]:3260, 1 :3261, 2 [fe80::1%eth0]:3260"; strings.Join(portals, ", ") != want {
		t.Errorf("portals %q, want %s", portals, want)
	}
	if !strings.HasPrefix(string(n.doc), "# fake node\n") {
		t.Errorf("comment lost:\n%s", n.doc)
	}
}

func TestErrors(t *testing.T) {
	_, c, _ := start(t)
	ctx := context.Background()
	const iqn = "iqn.2026-11.io.halun:t0"
	status := func(err error) int {
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("not an API error: %v", err)
		}
		return ae.Status
	}
	if _, err := c.RemoveVolume(ctx, "nope"); status(err) != http.StatusNotFound {
		t.Errorf("remove missing volume: %v", err)
	}
	if _, err := c.AddVolume(ctx, VolumeAdd{Name: "v0", Backend: "memory", Size: "1MiB"}); status(err) != http.StatusConflict {
		t.Errorf("add existing volume: %v", err)
	}
	// Invalid result: a size that is not a multiple of the block size.
	_, err := c.AddVolume(ctx, VolumeAdd{Name: "v2", Backend: "memory", Size: "1000"})
	var ae *APIError
	if status(err) != http.StatusBadRequest || !errors.As(err, &ae) || len(ae.Details) == 0 ||
		!strings.Contains(ae.Details[0], "fake.yaml:") {
		t.Errorf("invalid config: %v", err)
	}
	if _, err := c.MapLUN(ctx, iqn, 0, "v0", ""); status(err) != http.StatusConflict {
		t.Errorf("map used LUN: %v", err)
	}
	if _, err := c.ResizeVolume(ctx, "v0", "big"); status(err) != http.StatusBadRequest {
		t.Errorf("bad size: %v", err)
	}
	if _, err := c.AddTarget(ctx, TargetAdd{IQN: "iqn.2026-11.io.halun:t9"}); status(err) != http.StatusBadRequest {
		t.Errorf("target without access: %v", err)
	}
	if _, err := c.SetALUA(ctx, 9, ALUAStandby); status(err) != http.StatusNotFound {
		t.Errorf("alua on a missing group: %v", err)
	}
	if _, err := c.AddPortal(ctx, 2, "127.0.0.1:3260"); status(err) != http.StatusConflict ||
		!strings.Contains(err.Error(), "in portal group 1") {
		t.Errorf("add a portal another group has: %v", err)
	}
	if _, err := c.AddPortal(ctx, 1, "::1:3260"); status(err) != http.StatusBadRequest {
		t.Errorf("add an IPv6 portal without brackets: %v", err)
	}
	if _, err := c.AddPortal(ctx, 0, "127.0.0.2:3260"); status(err) != http.StatusBadRequest {
		t.Errorf("add a portal to group 0: %v", err)
	}
	if _, err := c.RemovePortal(ctx, "[::2]:3260"); status(err) != http.StatusNotFound {
		t.Errorf("remove a missing portal: %v", err)
	}
	if _, err := c.RemovePortal(ctx, "127.0.0.1:3260"); status(err) != http.StatusUnprocessableEntity ||
		!strings.Contains(err.Error(), "only portal") {
		t.Errorf("remove the last portal: %v", err)
	}
	if err := c.do(ctx, "GET", "/v1/nothing", nil, nil); status(err) != http.StatusNotFound {
		t.Errorf("unknown route: %v", err)
	}
	if err := c.do(ctx, "POST", "/v1/volumes", map[string]any{"name": "x", "bogus": 1}, nil); status(err) != http.StatusBadRequest {
		t.Errorf("unknown field: %v", err)
	}
}

func TestSocketBusyAndStale(t *testing.T) {
	_, _, sock := start(t)
	if _, err := Listen(sock); !errors.Is(err, ErrSocketBusy) {
		t.Errorf("second daemon on a live socket: %v", err)
	}
	// A stale socket: bound, then abandoned without unlinking.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln2.Close()
	// Not a socket: left alone.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := Listen(file); err == nil {
		t.Errorf("a regular file was replaced")
	}
}

func TestClientWithoutDaemon(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	_, err := c.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is `halun serve` running") {
		t.Errorf("error %v", err)
	}
}
