package pki

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterTLSAcceptsOnlyNodesOfTheCluster(t *testing.T) {
	dir := newCluster(t, cluster)
	sameName := newCluster(t, cluster) // another CA, same cluster name
	otherCluster := newCluster(t, "c2")
	a, b, w := mustLoad(t, dir, "a"), mustLoad(t, dir, "b"), mustLoad(t, dir, "w")
	// Clients with a certificate of another CA that trust ours (its
	// certificate is public), so that it is the server that refuses.
	strangerA := mustLoad(t, sameName, "a")
	strangerA.CA = b.CA
	otherA := mustLoad(t, otherCluster, "a")
	otherA.CA, otherA.Cluster = b.CA, cluster
	// The same as servers, with their own CA.
	strangerServer := mustLoad(t, sameName, "a")
	otherServer := mustLoad(t, otherCluster, "a")
	past := time.Now().AddDate(-2, 0, 0)
	expiredA, _, _ := forge(t, dir, cluster, cluster, testNodes[0], past, past.AddDate(1, 0, 0))
	expiredB, _, _ := forge(t, dir, cluster, cluster, testNodes[1], past, past.AddDate(1, 0, 0))
	notYetA, _, _ := forge(t, dir, cluster, cluster, testNodes[0], time.Now().AddDate(1, 0, 0), time.Now().AddDate(2, 0, 0))
	// Signed by this cluster's CA but naming another cluster: Init never
	// does this, the peer check must still refuse it.
	crossA, _, _ := forge(t, dir, cluster, "c2", testNodes[0], past, time.Now().AddDate(1, 0, 0))
	crossB, _, _ := forge(t, dir, cluster, "c2", testNodes[1], past, time.Now().AddDate(1, 0, 0))

	noCert := a.ClientTLS("b")
	noCert.GetClientCertificate = nil
	tls12 := a.ClientTLS("b")
	tls12.MinVersion, tls12.MaxVersion = tls.VersionTLS12, tls.VersionTLS12

	tests := []struct {
		name      string
		srvID     *Identity
		server    *tls.Config
		cliID     *Identity
		client    *tls.Config
		serverSaw string // on success
		clientSaw string
		serverErr string // on refusal, what the refusing end says
		clientErr string
	}{
		{"storage a to storage b", b, b.ServerTLS(RequireRole(RoleStorage)), a, a.ClientTLS("b"), "storage/a", "storage/b", "", ""},
		{"storage b to storage a", a, a.ServerTLS(RequireRole(RoleStorage)), b, b.ClientTLS("a"), "storage/b", "storage/a", "", ""},
		{"witness to a server of any role", a, a.ServerTLS(), w, w.ClientTLS("a"), "witness/w", "storage/a", "", ""},
		{"storage to witness", w, w.ServerTLS(), a, a.ClientTLS("w"), "storage/a", "witness/w", "", ""},
		{"client without a certificate", b, b.ServerTLS(), nil, noCert, "", "", "client didn't provide a certificate", ""},
		{"client with a certificate of another CA", b, b.ServerTLS(), strangerA, strangerA.ClientTLS("b"), "", "",
			"certificate signed by unknown authority", ""},
		{"client of another cluster's CA", b, b.ServerTLS(), otherA, otherA.ClientTLS("b"), "", "",
			"certificate signed by unknown authority", ""},
		{"client naming another cluster under our CA", b, b.ServerTLS(), crossA, crossA.ClientTLS("b"), "", "",
			"cluster peer a is a node of cluster c2, not c1", ""},
		{"witness where storage is required", a, a.ServerTLS(RequireRole(RoleStorage)), w, w.ClientTLS("a"), "", "",
			"cluster peer w is a witness node; only storage nodes are accepted here", ""},
		{"expired client certificate", b, b.ServerTLS(), expiredA, expiredA.ClientTLS("b"), "", "",
			"expired or is not yet valid", ""},
		{"client certificate not yet valid", b, b.ServerTLS(), notYetA, notYetA.ClientTLS("b"), "", "",
			"expired or is not yet valid", ""},
		{"TLS 1.2 client", b, b.ServerTLS(), nil, tls12, "", "", "client offered only unsupported versions", ""},
		{"server of another CA", strangerServer, strangerServer.ServerTLS(), b, b.ClientTLS("a"), "", "", "",
			"certificate signed by unknown authority"},
		{"server of another cluster's CA", otherServer, otherServer.ServerTLS(), b, b.ClientTLS("a"), "", "", "",
			"certificate signed by unknown authority"},
		{"server naming another cluster under our CA", crossB, crossB.ServerTLS(), a, a.ClientTLS("b"), "", "", "",
			"cluster peer b is a node of cluster c2, not c1"},
		{"server is not the node expected", a, a.ServerTLS(), b, b.ClientTLS("w"), "", "", "",
			"cluster peer is node a, not the expected w"},
		{"expired server certificate", expiredB, expiredB.ServerTLS(), a, a.ClientTLS("b"), "", "", "",
			"expired or is not yet valid"},
		{"witness server where storage is required", w, w.ServerTLS(), a, a.ClientTLS("w", RequireRole(RoleStorage)), "", "", "",
			"cluster peer w is a witness node; only storage nodes are accepted here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := handshake(t, tt.srvID, tt.server, tt.cliID, tt.client)
			if tt.serverErr == "" && tt.clientErr == "" {
				if r.serverErr != nil || r.clientErr != nil {
					t.Fatalf("refused: server %v, client %v", r.serverErr, r.clientErr)
				}
				if r.serverSaw != tt.serverSaw || r.clientSaw != tt.clientSaw {
					t.Errorf("server saw %q, client saw %q; want %q, %q", r.serverSaw, r.clientSaw, tt.serverSaw, tt.clientSaw)
				}
				return
			}
			// A refusal fails both ends; the refusing end says why.
			if r.serverErr == nil || r.clientErr == nil {
				t.Fatalf("not refused on both ends: server %v, client %v", r.serverErr, r.clientErr)
			}
			if tt.serverErr != "" && !strings.Contains(r.serverErr.Error(), tt.serverErr) {
				t.Errorf("server: %v, want %q", r.serverErr, tt.serverErr)
			}
			if tt.clientErr != "" && !strings.Contains(r.clientErr.Error(), tt.clientErr) {
				t.Errorf("client: %v, want %q", r.clientErr, tt.clientErr)
			}
		})
	}
}

func TestClusterPeerNameRefusesAnIncompleteHandshake(t *testing.T) {
	a := mustLoad(t, newCluster(t, cluster), "a")
	if _, _, err := a.PeerName(tls.ConnectionState{}); err == nil {
		t.Fatal("PeerName of no connection succeeded")
	}
}

func TestClusterLoadOfAMissingNodeNamesTheFile(t *testing.T) {
	dir := newCluster(t, cluster)
	if _, err := Load(filepath.Join(dir, "nosuch")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "nosuch", NodeCertFile)) {
		t.Fatalf("Load of a missing node: %v", err)
	}
}
