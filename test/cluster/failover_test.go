// Package cluster_test runs replicated volumes on two storage nodes and a
// witness in one process, on loopback: each node is the same assembly
// halun serve builds (server.Build with the cluster's parts), with its
// own etcd member, data directory and portals, and a multipath initiator
// reaches the volume through both nodes.
package cluster_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/cluster/pki"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/test/harness"
)

const target = "iqn.2026-12.io.halun.test:ha"

// freePort finds a free port on ip. Each test uses a 127.0.0.0/8 address
// of its own, so test packages running at once cannot take the port
// between this check and the node's bind.
func freePort(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type testNode struct {
	name, portal string
	tag          int
	cfg          *config.Config
	yaml         string // cfg's text, for reconfigure
	cl           *cluster.Node
	srv          *harness.InProcess
}

// setup varies the cluster startCluster starts.
type setup struct {
	// extra is added to the cluster section.
	extra string
	// file puts the volumes in files of each node's data directory
	// (<name>.img), not in memory, so that they outlive a node's restart.
	file bool
	// volumes (8 MiB, replicated on both nodes) are LUNs 0, 1… in the
	// order given; without any, one volume v.
	volumes []string
	// external runs a separate three-member etcd cluster (e1, e2, e3)
	// that the nodes reach through cluster.etcd_endpoints, instead of a
	// member in each node and in the witness.
	external bool
	// three runs a third storage node, c, in place of the witness:
	// every volume has three copies.
	three bool
}

// externalEtcd is the members of a separate etcd cluster.
var externalEtcd = []string{"e1", "e2", "e3"}

// startCluster starts storage nodes a and b and witness w (or a third
// storage node c: setup.three) in this process, serves the storage
// nodes, and returns them with a multipath initiator over all their
// portals to the first volume.
func startCluster(t *testing.T, o setup) ([]*testNode, *initiator.Multipath, context.Context) {
	t.Helper()
	dir := t.TempDir()
	tls := filepath.Join(dir, "pki")
	ip := fmt.Sprintf("127.%d.%d.%d", 10+rand.IntN(200), rand.IntN(250), 1+rand.IntN(250))
	if err := pki.Init(tls, "san", []pki.Node{
		{Name: "a", Role: pki.RoleStorage, Hosts: []string{ip}},
		{Name: "b", Role: pki.RoleStorage, Hosts: []string{ip}},
		{Name: "c", Role: pki.RoleStorage, Hosts: []string{ip}},
		{Name: "w", Role: pki.RoleWitness, Hosts: []string{ip}},
		{Name: "e1", Role: pki.RoleWitness, Hosts: []string{ip}},
		{Name: "e2", Role: pki.RoleWitness, Hosts: []string{ip}},
		{Name: "e3", Role: pki.RoleWitness, Hosts: []string{ip}},
	}); err != nil {
		t.Fatal(err)
	}
	addr := map[string]string{}
	for _, k := range []string{"a.portal", "b.portal", "c.portal", "a.rep", "b.rep", "c.rep", "a.peer", "a.client", "b.peer", "b.client",
		"c.peer", "c.client", "w.peer", "w.client",
		"e1.peer", "e1.client", "e2.peer", "e2.client", "e3.peer", "e3.client"} {
		addr[k] = freePort(t, ip)
	}
	if o.external {
		var eps []string
		for _, e := range externalEtcd {
			eps = append(eps, fmt.Sprintf("%q", "https://"+addr[e+".client"]))
		}
		o.extra += "  etcd_endpoints: [" + strings.Join(eps, ", ") + "]\n"
	}
	clusterYAML := fmt.Sprintf(`cluster:
  name: san
  node: %%s
  tls_dir: %s/%%s
  nodes:
    - {name: a, portal_groups: [1], replication: %q, etcd_peer: %q, etcd_client: %q}
    - {name: b, portal_groups: [2], replication: %q, etcd_peer: %q, etcd_client: %q}
`, tls, addr["a.rep"], addr["a.peer"], addr["a.client"], addr["b.rep"], addr["b.peer"], addr["b.client"])
	if o.three {
		clusterYAML += fmt.Sprintf("    - {name: c, portal_groups: [3], replication: %q, etcd_peer: %q, etcd_client: %q}\n", addr["c.rep"], addr["c.peer"], addr["c.client"])
	} else {
		clusterYAML += fmt.Sprintf("  witness: {name: w, etcd_peer: %q, etcd_client: %q}\n", addr["w.peer"], addr["w.client"])
	}
	clusterYAML += o.extra
	volumes := o.volumes
	if len(volumes) == 0 {
		volumes = []string{"v"}
	}
	var vols, luns strings.Builder
	for i, v := range volumes {
		backend := "backend: memory"
		if o.file {
			backend = "backend: file, path: " + v + ".img"
		}
		fmt.Fprintf(&vols, "  - {name: %s, %s, size: 8MiB, serial: ha-%s-00000001}\n", v, backend, v)
		fmt.Fprintf(&luns, "{lun: %d, volume: %s}, ", i, v)
	}
	nodes := []*testNode{{name: "a", tag: 1}, {name: "b", tag: 2}}
	if o.three {
		nodes = append(nodes, &testNode{name: "c", tag: 3})
	}
	for _, n := range nodes {
		n.portal = addr[n.name+".portal"]
		text := fmt.Sprintf(`portal_groups:
  - {tag: %d, portals: [%q]}
volumes:
%stargets:
  - iqn: %s
    luns: [%s]
    access: {all: true}
`, n.tag, n.portal, vols.String(), target, strings.TrimSuffix(luns.String(), ", ")) + fmt.Sprintf(clusterYAML, n.name, n.name)
		cfg, err := config.ParseWith(n.name+".yaml", []byte(text), config.Overrides{DataDir: filepath.Join(dir, n.name)})
		if err != nil {
			t.Fatalf("%s:\n%s\n%v", n.name, text, err)
		}
		n.cfg, n.yaml = cfg, text
	}

	// The witness and both nodes start together: each etcd member waits
	// for a quorum.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	// The etcd members outside the nodes: the witness, or the external
	// cluster.
	members := []string{"w"}
	initial := map[string]string{"a": "https://" + addr["a.peer"], "b": "https://" + addr["b.peer"], "w": "https://" + addr["w.peer"]}
	if o.three {
		members = nil
		initial = map[string]string{"a": "https://" + addr["a.peer"], "b": "https://" + addr["b.peer"], "c": "https://" + addr["c.peer"]}
	}
	if o.external {
		members = externalEtcd
		initial = map[string]string{}
		for _, e := range externalEtcd {
			initial[e] = "https://" + addr[e+".peer"]
		}
	}
	started := make([]*coord.Member, len(members))
	wg.Add(len(members) + len(nodes))
	for i, m := range members {
		go func() {
			defer wg.Done()
			mb, err := coord.StartMember(ctx, coord.MemberConfig{Name: m, DataDir: filepath.Join(dir, m),
				PeerURL: "https://" + addr[m+".peer"], ClientURL: "https://" + addr[m+".client"], TLSDir: filepath.Join(tls, m),
				InitialCluster: initial})
			started[i] = mb
			errs <- err
		}()
	}
	for _, n := range nodes {
		go func() {
			defer wg.Done()
			var err error
			n.cl, err = cluster.Start(ctx, n.cfg, harness.TestLogger())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.cl != nil { // nil after a restart that failed
				n.cl.Close()
			}
		}
		for _, m := range started {
			if m != nil {
				m.Close()
			}
		}
	})
	for _, n := range nodes {
		n.srv = harness.ServeInProcess(t, n.cfg, harness.InProcessOptions{Parts: n.cl.Parts()})
	}

	return nodes, multipath(t, nodes, 0), ctx
}

// multipath returns a multipath initiator to LUN lun over the nodes'
// portals: one initiator port (one ISID, its own per LUN) on every path,
// so a registration with ALL_TG_PT covers them all, as a cluster's hosts
// register.
func multipath(t *testing.T, nodes []*testNode, lun uint64) *initiator.Multipath {
	opts := initiator.Options{InitiatorName: "iqn.2026-12.io.halun.test:host", TargetName: target, ISID: pdu.ISID{0x80, 0, 0, 0, byte(lun >> 8), byte(lun + 1)}}
	var paths []initiator.PathSpec
	for _, n := range nodes {
		paths = append(paths, initiator.PathSpec{Addr: n.portal, Options: opts, LUN: lun})
	}
	mp := initiator.NewMultipath(paths...)
	t.Cleanup(func() { mp.Close() })
	return mp
}

// TestFailover_NoAcknowledgedWriteLost: a multipath initiator writes to
// a volume replicated on nodes a and b; the primary crashes (no lease
// revoke, no clean demotion); the other node promotes itself once the
// primary's lease expires, and I/O goes on through it. Every write that
// was acknowledged, before and after, reads back.
func TestFailover_NoAcknowledgedWriteLost(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{})
	acked := map[uint64]byte{}
	write := func(lba uint64, fill byte) {
		t.Helper()
		if err := mp.Write(ctx, lba, bytes.Repeat([]byte{fill}, 4096), 512); err != nil {
			t.Fatalf("write at %d: %v", lba, err)
		}
		acked[lba] = fill
	}
	for i := range uint64(16) {
		write(i*8, byte(i+1))
	}
	// A persistent reservation, as a Windows or Pacemaker cluster takes
	// one: register (ALL_TG_PT) and reserve WRITE EXCLUSIVE.
	const key = 0x1122334455667788
	if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		return prOut(ctx, s, lun, 0x00, 0, 0, key, true)
	}); err != nil {
		t.Fatalf("PR REGISTER: %v", err)
	}
	if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		return prOut(ctx, s, lun, 0x01, 0x01, key, 0, false)
	}); err != nil {
		t.Fatalf("PR RESERVE: %v", err)
	}
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary after the first writes")
	}
	// halun cluster status, from the other node's certificates.
	st, err := cluster.ReadStatus(ctx, other.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Volumes) != 1 || st.Volumes[0].Primary != primary.name || st.Volumes[0].Epoch != 1 || len(st.Volumes[0].InSync) != 2 ||
		len(st.Nodes) != 3 || !st.Nodes[0].Alive || !st.Nodes[1].Alive || !st.Nodes[2].Alive {
		t.Fatalf("status before the crash: %+v", st)
	}
	t.Logf("primary %s; crashing it", primary.name)
	start := time.Now()
	primary.cl.Crash()
	primary.srv.Stop()
	for i := uint64(16); i < 32; i++ {
		write(i*8, byte(i+1))
	}
	t.Logf("I/O resumed through %s; the first write after the crash took %v", other.name, time.Since(start).Round(time.Millisecond))
	if !other.cl.Primary("v") {
		t.Fatalf("%s is not primary after the failover", other.name)
	}
	st, err = cluster.ReadStatus(ctx, other.cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := st.Volumes[0]
	if v.Primary != other.name || v.Epoch != 2 || len(v.InSync) != 1 || len(v.OutOfSync) != 1 || v.OutOfSync[0] != primary.name {
		t.Fatalf("status after the failover: %+v", v)
	}
	for _, n := range st.Nodes {
		if n.Name == primary.name && n.Alive {
			t.Errorf("the crashed node %s still holds a lease", n.Name)
		}
	}
	for lba, fill := range acked {
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{fill}, 4096)) {
			t.Fatalf("acknowledged write at %d lost after the failover (%v)", lba, err)
		}
	}
	// The reservation moved with the primary: held by the same key,
	// enforced against another initiator.
	var rsv []byte
	if err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		r, err := s.Execute(ctx, lun, []byte{0x5e, 0x01, 0, 0, 0, 0, 0, 0, 255, 0}, nil, 255)
		if err == nil {
			err = r.Err()
			rsv = r.Data
		}
		return err
	}); err != nil {
		t.Fatalf("PR IN READ RESERVATION after the failover: %v", err)
	}
	if len(rsv) < 24 || binary.BigEndian.Uint32(rsv[4:]) != 16 || binary.BigEndian.Uint64(rsv[8:]) != key || rsv[21]&0x0f != 0x01 {
		t.Fatalf("reservation after the failover: % x", rsv)
	}
	intruder, err := initiator.Dial(ctx, other.portal, initiator.Options{InitiatorName: "iqn.2026-12.io.halun.test:intruder", TargetName: target})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	var se *initiator.SCSIError
	for range 3 { // unit attentions first
		err = intruder.Write(ctx, 0, 0, make([]byte, 512), 512)
		if !errors.As(err, &se) || se.SenseKey != 0x6 {
			break
		}
	}
	if !errors.As(err, &se) || se.Status != initiator.StatusReservationConflict {
		t.Fatalf("another initiator's write after the failover: %v, want RESERVATION CONFLICT", err)
	}
}

// prOut sends PERSISTENT RESERVE OUT with service action sa.
func prOut(ctx context.Context, s *initiator.Session, lun uint64, sa, typ byte, key, sark uint64, allTgPt bool) error {
	p := make([]byte, 24)
	binary.BigEndian.PutUint64(p, key)
	binary.BigEndian.PutUint64(p[8:], sark)
	if allTgPt {
		p[20] = 0x04
	}
	cdb := []byte{0x5f, sa, typ, 0, 0, 0, 0, 0, 24, 0}
	r, err := s.Execute(ctx, lun, cdb, p, 0)
	if err != nil {
		return err
	}
	return r.Err()
}

// TestFailover_FenceHook: before a node replaces a lost primary it runs
// the fence hook with the volume and the lost primary's name (a site's
// STONITH), and promotes only when the hook succeeds.
func TestFailover_FenceHook(t *testing.T) {
	dir := t.TempDir()
	hook := filepath.Join(dir, "fence")
	record := filepath.Join(dir, "fenced")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"$@\" >> "+record+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	nodes, mp, ctx := startCluster(t, setup{extra: "  fence_hook: [" + hook + ", --reason, lost]\n"})
	if err := mp.Write(ctx, 0, bytes.Repeat([]byte{0x42}, 4096), 512); err != nil {
		t.Fatal(err)
	}
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary")
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Fatalf("the fence hook ran before any primary was lost: %v", err)
	}
	primary.cl.Crash()
	primary.srv.Stop()
	if err := mp.Write(ctx, 8, bytes.Repeat([]byte{0x43}, 4096), 512); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(record)
	if err != nil || string(got) != "--reason lost v "+primary.name+"\n" {
		t.Fatalf("fence hook calls %q (%v), want one for volume v and node %s", got, err, primary.name)
	}
}

// TestSwitchover_NoErrorForMultipath: a planned switchover (halun cluster
// promote) moves the primary to the other in-sync node while a multipath
// initiator keeps writing; no command fails, and every write reads back.
func TestSwitchover_NoErrorForMultipath(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{})
	if err := mp.Write(ctx, 0, bytes.Repeat([]byte{1}, 4096), 512); err != nil {
		t.Fatal(err)
	}
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary")
	}
	// Wait for the other node to be in sync (it may have been resynced
	// after a start where it was slower).
	waitStatus(t, ctx, other, "both nodes in sync", func(v cluster.VolumeStatus) bool { return len(v.InSync) == 2 })
	start := time.Now()
	if err := cluster.Promote(ctx, other.cfg, "v", other.name, false); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]byte{}
	var moved time.Duration
	for i := uint64(1); moved == 0 && time.Since(start) < 20*time.Second; i++ {
		fill := byte(i)
		if err := mp.Write(ctx, i*8%2048, bytes.Repeat([]byte{fill}, 4096), 512); err != nil {
			t.Fatalf("write during the switchover: %v", err)
		}
		acked[i*8%2048] = fill
		if other.cl.Primary("v") {
			moved = time.Since(start)
		}
	}
	if moved == 0 {
		t.Fatal("the switchover did not happen")
	}
	t.Logf("switchover from %s to %s took %v", primary.name, other.name, moved.Round(time.Millisecond))
	if primary.cl.Primary("v") {
		t.Fatal("two primaries")
	}
	for lba, fill := range acked {
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{fill}, 4096)) {
			t.Fatalf("write at %d lost in the switchover (%v)", lba, err)
		}
	}
}

// waitStatus waits until volume v's status, read with n's certificates,
// satisfies ok, and returns it.
func waitStatus(t *testing.T, ctx context.Context, n *testNode, what string, ok func(cluster.VolumeStatus) bool) cluster.VolumeStatus {
	t.Helper()
	for {
		st, err := cluster.ReadStatus(ctx, n.cfg)
		if err == nil && len(st.Volumes) == 1 && ok(st.Volumes[0]) {
			return st.Volumes[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached (last status %+v, %v)", what, st, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// crash stops node n as a crash would, its server with it.
func crash(n *testNode) {
	n.cl.Crash()
	n.srv.Stop()
}

// restart starts a crashed node again on its data directory, and serves
// it.
func restart(t *testing.T, ctx context.Context, n *testNode) {
	t.Helper()
	var err error
	if n.cl, err = cluster.Start(ctx, n.cfg, harness.TestLogger()); err != nil {
		t.Fatalf("restarting %s: %v", n.name, err)
	}
	n.srv = harness.ServeInProcess(t, n.cfg, harness.InProcessOptions{Parts: n.cl.Parts()})
}

// reconfigure edits node n's running config as `halun volume resize` and
// the other management commands do (server.Node.Change): the config is
// written to a file beside the node's data directory at the first call,
// edited there, and applied live.
func reconfigure(t *testing.T, n *testNode, what string, edit func(*config.Document) error) error {
	t.Helper()
	path := filepath.Join(filepath.Dir(n.cfg.Node.DataDir), n.name+".yaml")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		if err := os.WriteFile(path, []byte(n.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		n.srv.Node.SetSource(path, config.Overrides{DataDir: n.cfg.Node.DataDir})
	}
	_, err := n.srv.Node.Change(what, edit)
	return err
}

// primaryOf returns the node that is volume v's primary and the other.
func primaryOf(nodes []*testNode) (primary, other *testNode) {
	for _, n := range nodes {
		if n.cl.Primary("v") {
			primary = n
		} else {
			other = n
		}
	}
	return primary, other
}
