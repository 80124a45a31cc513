package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const cluster = "c1"

// testNodes are the nodes every test cluster starts with.
var testNodes = []Node{
	{Name: "a", Role: RoleStorage, Hosts: []string{"127.0.0.1", "a.example.net"}},
	{Name: "b", Role: RoleStorage, Hosts: []string{"127.0.0.1", "::1"}},
	{Name: "w", Role: RoleWitness, Hosts: []string{"10.0.0.3"}},
}

// newCluster runs Init in a new directory and returns it.
func newCluster(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := Init(dir, name, testNodes); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustLoad(t *testing.T, dir, node string) *Identity {
	t.Helper()
	id, err := Load(filepath.Join(dir, node))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// forge signs, with the CA of dir (a CA of caCluster), a certificate that
// Init would never issue: for a node of certCluster, valid from notBefore
// to notAfter. It returns an Identity of cluster caCluster using it, and
// the PEM files.
func forge(t *testing.T, dir, caCluster, certCluster string, n Node, notBefore, notAfter time.Time) (id *Identity, certPEM, keyPEM []byte) {
	t.Helper()
	ca, err := loadAuthority(dir, caCluster, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err = ca.issue(certCluster, n, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &Identity{Cluster: caCluster, Name: n.Name, Role: n.Role, Cert: cert, CA: pool}, certPEM, keyPEM
}

func TestClusterInitWritesCAAndNodeCertificates(t *testing.T) {
	dir := newCluster(t, cluster)
	ca, err := loadAuthority(dir, cluster, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := ca.cert
	if c.Subject.CommonName != "halun c1 CA" || !c.IsCA || c.Issuer.CommonName != c.Subject.CommonName {
		t.Errorf("CA: CN %q, IsCA %v, issuer %q", c.Subject.CommonName, c.IsCA, c.Issuer.CommonName)
	}
	if want := c.NotBefore.AddDate(caYears, 0, 0).Add(backdate); absDuration(c.NotAfter.Sub(want)) > 24*time.Hour {
		t.Errorf("CA valid %s to %s, want 10 years", c.NotBefore, c.NotAfter)
	}
	for _, n := range testNodes {
		id := mustLoad(t, dir, n.Name)
		if id.Cluster != cluster || id.Name != n.Name || id.Role != n.Role {
			t.Errorf("%s: loaded as %s/%s/%s", n.Name, id.Cluster, id.Role, id.Name)
		}
		leaf := id.Cert.Leaf
		if leaf.Subject.CommonName != n.Name {
			t.Errorf("%s: CN %q", n.Name, leaf.Subject.CommonName)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "halun://c1/"+string(n.Role)+"/"+n.Name {
			t.Errorf("%s: URIs %v", n.Name, leaf.URIs)
		}
		var hosts []string
		for _, ip := range leaf.IPAddresses {
			a, _ := netip.AddrFromSlice(ip)
			hosts = append(hosts, a.Unmap().String())
		}
		hosts = append(hosts, leaf.DNSNames...)
		if !reflect.DeepEqual(hosts, n.Hosts) {
			t.Errorf("%s: SAN hosts %v, want exactly %v", n.Name, hosts, n.Hosts)
		}
		if !reflect.DeepEqual(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) || leaf.IsCA {
			t.Errorf("%s: ext key usage %v, IsCA %v", n.Name, leaf.ExtKeyUsage, leaf.IsCA)
		}
		if want := leaf.NotBefore.AddDate(nodeYears, 0, 0).Add(backdate); absDuration(leaf.NotAfter.Sub(want)) > 24*time.Hour {
			t.Errorf("%s: valid %s to %s, want 5 years", n.Name, leaf.NotBefore, leaf.NotAfter)
		}
		caCopy, err := os.ReadFile(filepath.Join(dir, n.Name, CACertFile))
		if err != nil || !bytes.Equal(caCopy, ca.certPEM) {
			t.Errorf("%s: ca.crt is not a copy of the CA: %v", n.Name, err)
		}
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func TestClusterKeysAreReadableOnlyByOwner(t *testing.T) {
	dir := newCluster(t, cluster)
	want := map[string]fs.FileMode{
		dir:                            0o700,
		filepath.Join(dir, CAKeyFile):  0o600,
		filepath.Join(dir, CACertFile): 0o644,
	}
	for _, n := range testNodes {
		want[filepath.Join(dir, n.Name)] = 0o700
		want[filepath.Join(dir, n.Name, NodeKeyFile)] = 0o600
		want[filepath.Join(dir, n.Name, NodeCertFile)] = 0o644
		want[filepath.Join(dir, n.Name, CACertFile)] = 0o644
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	// Nothing else: no temporary files left behind.
	var got int
	filepath.WalkDir(dir, func(string, fs.DirEntry, error) error { got++; return nil })
	if got != len(want) {
		t.Errorf("%d entries in %s, want %d", got, dir, len(want))
	}
}

func TestClusterInitRefusesAnExistingCA(t *testing.T) {
	dir := newCluster(t, cluster)
	before, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	beforeKey, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	err := Init(dir, cluster, []Node{{Name: "z", Role: RoleStorage, Hosts: []string{"10.0.0.9"}}})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, CAKeyFile)+" already exists") ||
		!strings.Contains(err.Error(), "AddNodes") {
		t.Fatalf("second Init: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	afterKey, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if !bytes.Equal(before, after) || !bytes.Equal(beforeKey, afterKey) {
		t.Error("second Init changed the CA")
	}
	if _, err := os.Stat(filepath.Join(dir, "z")); err == nil {
		t.Error("second Init wrote node z")
	}
}

func TestClusterInvalidNodesWriteNothing(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		nodes   []Node
		err     string
	}{
		{"no nodes", cluster, nil, "no nodes given"},
		{"cluster name with capitals", "Prod", testNodes, `cluster name "Prod"`},
		{"node name with slash", cluster, []Node{{Name: "../x", Role: RoleStorage, Hosts: []string{"10.0.0.1"}}}, `node name "../x"`},
		{"duplicate node", cluster, append(testNodes[:1:1], testNodes[0]), "node a is given twice"},
		{"no role", cluster, []Node{{Name: "x", Hosts: []string{"10.0.0.1"}}}, `node x: role "" is not storage or witness`},
		{"no hosts", cluster, []Node{{Name: "x", Role: RoleStorage}}, "node x: no hosts"},
		{"bad host", cluster, []Node{{Name: "x", Role: RoleStorage, Hosts: []string{"10.0.0.1:3260"}}}, `node x: host "10.0.0.1:3260"`},
		{"zoned address", cluster, []Node{{Name: "x", Role: RoleStorage, Hosts: []string{"fe80::1%eth0"}}}, "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			err := Init(dir, tt.cluster, tt.nodes)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Init: %v, want %q", err, tt.err)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("Init created %s", dir)
			}
		})
	}
}

func TestClusterAddNodesSignsWithTheExistingCA(t *testing.T) {
	dir := newCluster(t, cluster)
	caBefore, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	d := Node{Name: "d", Role: RoleStorage, Hosts: []string{"127.0.0.1"}}
	if err := AddNodes(dir, cluster, []Node{d}); err != nil {
		t.Fatal(err)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	if !bytes.Equal(caBefore, caAfter) {
		t.Fatal("AddNodes changed the CA")
	}
	newID, a := mustLoad(t, dir, "d"), mustLoad(t, dir, "a")
	for _, pair := range [][2]*Identity{{newID, a}, {a, newID}} {
		client, server := pair[0], pair[1]
		r := handshake(t, server, server.ServerTLS(RequireRole(RoleStorage)), client, client.ClientTLS(server.Name))
		if r.serverErr != nil || r.clientErr != nil {
			t.Fatalf("%s to %s: server %v, client %v", client.Name, server.Name, r.serverErr, r.clientErr)
		}
	}

	for _, tt := range []struct {
		name    string
		dir     string
		cluster string
		nodes   []Node
		err     string
	}{
		{"existing node", dir, cluster, []Node{{Name: "a", Role: RoleStorage, Hosts: []string{"10.0.0.1"}}},
			"node a already exists (" + filepath.Join(dir, "a", NodeKeyFile) + ")"},
		{"other cluster name", dir, "c2", []Node{{Name: "e", Role: RoleStorage, Hosts: []string{"10.0.0.1"}}},
			filepath.Join(dir, CACertFile) + " is the CA of cluster c1, not c2"},
		{"no CA", t.TempDir(), cluster, []Node{{Name: "e", Role: RoleStorage, Hosts: []string{"10.0.0.1"}}}, CACertFile + ": no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := AddNodes(tt.dir, tt.cluster, tt.nodes)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("AddNodes: %v, want %q", err, tt.err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "e")); err == nil {
		t.Error("a refused AddNodes wrote node e")
	}
}

func TestClusterLoadNamesTheDamagedFile(t *testing.T) {
	dir := newCluster(t, cluster)
	other := newCluster(t, cluster)
	read := func(p ...string) []byte {
		b, err := os.ReadFile(filepath.Join(p...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	past := time.Now().AddDate(-2, 0, 0)
	_, expiredCert, expiredKey := forge(t, dir, cluster, cluster, testNodes[0], past, past.AddDate(1, 0, 0))
	cert := read(dir, "a", NodeCertFile)
	tests := []struct {
		name  string
		file  string
		data  []byte
		err   string
		also  string // a second file to replace
		also2 []byte
	}{
		{"truncated certificate", NodeCertFile, cert[:len(cert)/2], "node.crt: damaged", "", nil},
		{"certificate not PEM", NodeCertFile, []byte("hello\n"), "node.crt: damaged", "", nil},
		{"key not PEM", NodeKeyFile, []byte("garbage"), "node.key: damaged: no PEM private key", "", nil},
		{"key bytes damaged", NodeKeyFile, bytes.Replace(read(dir, "a", NodeKeyFile), []byte("M"), []byte("A"), 3),
			"node.key: damaged", "", nil},
		{"key of another node", NodeKeyFile, read(dir, "b", NodeKeyFile), "node.key is not the key of", "", nil},
		{"empty CA", CACertFile, nil, "ca.crt: no PEM certificate", "", nil},
		{"CA of another cluster", CACertFile, read(other, CACertFile), "node.crt does not verify against", "", nil},
		{"missing key", NodeKeyFile, nil, "node.key: no such file", "", nil},
		{"expired certificate", NodeCertFile, expiredCert, "node.crt: certificate \"a\" expired on", NodeKeyFile, expiredKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nd := filepath.Join(t.TempDir(), "a")
			if err := os.Mkdir(nd, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{NodeCertFile, NodeKeyFile, CACertFile} {
				if err := os.WriteFile(filepath.Join(nd, f), read(dir, "a", f), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p := filepath.Join(nd, tt.file)
			if strings.Contains(tt.name, "missing") {
				os.Remove(p)
			} else if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.also != "" {
				if err := os.WriteFile(filepath.Join(nd, tt.also), tt.also2, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(nd)
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), nd) {
				t.Fatalf("Load: %v, want %q naming the file", err, tt.err)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Errorf("error quotes a key: %v", err)
			}
		})
	}
}

// result is what both ends of a handshake saw.
type result struct {
	serverErr, clientErr error
	serverSaw, clientSaw string // PeerName's "role/name" of the other end
}

// end is one side's outcome.
type end struct {
	err  error
	peer string
}

// handshake connects a client to a server over loopback TCP and exchanges
// one message each way, so that a refusal by either end surfaces on both;
// each end then asks its Identity's PeerName who the other is. The
// deadline only keeps a broken test from hanging.
func handshake(t *testing.T, srvID *Identity, server *tls.Config, cliID *Identity, client *tls.Config) result {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(30 * time.Second)
	srv := make(chan end, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srv <- end{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		srv <- converse(tls.Server(c, server), srvID)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	cl := converse(tls.Client(c, client), cliID)
	c.Close()
	s := <-srv
	return result{serverErr: s.err, clientErr: cl.err, serverSaw: s.peer, clientSaw: cl.peer}
}

// converse handshakes, writes "hello", reads the peer's, and names the
// peer with id.PeerName.
func converse(c *tls.Conn, id *Identity) end {
	if err := c.Handshake(); err != nil {
		return end{err: err}
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		return end{err: err}
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return end{err: err}
	}
	if id == nil {
		return end{}
	}
	name, role, err := id.PeerName(c.ConnectionState())
	if err != nil {
		return end{err: err}
	}
	return end{peer: string(role) + "/" + name}
}
