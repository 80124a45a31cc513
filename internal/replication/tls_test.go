package replication

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/cluster/pki"
)

// TestTLS_OnlyStorageNodesWriteReplicas: the replication link is mutual
// TLS with the cluster's certificates. A storage node's primary writes to
// the replica; a process without a node certificate, with a certificate
// of another cluster, or with a witness certificate cannot even say
// hello, and the replica's data stays as it was.
func TestTLS_OnlyStorageNodesWriteReplicas(t *testing.T) {
	dir := t.TempDir()
	nodes := []pki.Node{
		{Name: "a", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}},
		{Name: "b", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}},
		{Name: "w", Role: pki.RoleWitness, Hosts: []string{"127.0.0.1"}},
	}
	if err := pki.Init(dir, "san", nodes); err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if err := pki.Init(otherDir, "other", []pki.Node{{Name: "a", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}}}); err != nil {
		t.Fatal(err)
	}
	load := func(d, name string) *pki.Identity {
		id, err := pki.Load(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a, b, w, stranger := load(dir, "a"), load(dir, "b"), load(dir, "w"), load(otherDir, "a")

	// Node b is the replica: it accepts storage nodes only.
	store := backend.NewMemory(volSize)
	addr, ep := serveTLSReplica(t, b, store)
	dialAs := func(cfg *tls.Config) ReplicaAddr {
		return ReplicaAddr{Name: "b", Dial: func(ctx context.Context) (net.Conn, error) {
			// The cluster's dial: TLS with a write buffer beneath. The
			// server's verdict on our certificate arrives with the
			// first read in TLS 1.3, the hello's answer.
			var d net.Dialer
			raw, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return ClientTLS(ctx, raw, cfg)
		}}
	}

	s := openPrimary(t, 1, &outLog{}, nil, dialAs(a.ClientTLS("b", pki.RequireRole(pki.RoleStorage))))
	if err := s.WriteAt(ctx, []byte("from a"), 0, true); err != nil {
		t.Fatalf("storage node a: %v", err)
	}
	if in := s.InSync(); len(in) != 1 {
		t.Fatalf("a's replica out of sync: %v", in)
	}

	noCert := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	for name, cfg := range map[string]*tls.Config{
		"no certificate":      noCert,
		"another cluster":     stranger.ClientTLS("b"),
		"witness certificate": w.ClientTLS("b"),
	} {
		out := &outLog{}
		p, err := Open(ctx, Options{Volume: "vol1", Epoch: 9, Local: backend.NewMemory(volSize), Replicas: []ReplicaAddr{dialAs(cfg)},
			OutOfSync: out.outOfSync})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.InSync()) != 0 || len(out.got()) != 1 {
			t.Errorf("%s: reached the replica (in sync %v)", name, p.InSync())
		}
		p.WriteAt(ctx, []byte("intruder"), 0, true)
		p.Close()
	}
	got := make([]byte, 6)
	if err := store.ReadAt(ctx, got, 0); err != nil || string(got) != "from a" {
		t.Errorf("replica holds %q (%v)", got, err)
	}
	if e, _ := ep.Epoch("vol1"); e != 1 {
		t.Errorf("an intruder raised the replica's epoch to %d", e)
	}
}

// serveTLSReplica serves volume vol1 on store as replica id, over mutual
// TLS that admits storage nodes only, until the test ends; it returns the
// listener's address and the replica's epochs. Register it before anything that connects to it:
// cleanups run last in, first out, so a primary closes its connection
// before the server is waited for.
func serveTLSReplica(tb testing.TB, id *pki.Identity, store backend.Store) (string, *FileEpochs) {
	tb.Helper()
	ep, err := OpenFileEpochs(filepath.Join(tb.TempDir(), "epochs.json"))
	if err != nil {
		tb.Fatal(err)
	}
	r := &Replica{Epochs: ep, Volume: func(v string) (backend.Store, bool) { return store, v == "vol1" }}
	ln, err := Listen("127.0.0.1:0", id.ServerTLS(pki.RequireRole(pki.RoleStorage)))
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); r.ServeConn(c) }()
		}
	}()
	return ln.Addr().String(), ep
}

// twoStorageNodes creates a cluster's certificates for storage nodes a
// and b on 127.0.0.1 and returns their identities.
func twoStorageNodes(tb testing.TB) (a, b *pki.Identity) {
	tb.Helper()
	dir := tb.TempDir()
	if err := pki.Init(dir, "test", []pki.Node{
		{Name: "a", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}},
		{Name: "b", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}},
	}); err != nil {
		tb.Fatal(err)
	}
	var err error
	if a, err = pki.Load(filepath.Join(dir, "a")); err != nil {
		tb.Fatal(err)
	}
	if b, err = pki.Load(filepath.Join(dir, "b")); err != nil {
		tb.Fatal(err)
	}
	return a, b
}
