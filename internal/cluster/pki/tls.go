package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// PeerOption narrows which peers a TLS configuration accepts, beyond
// "a node of this cluster".
type PeerOption func(*peerPolicy)

type peerPolicy struct {
	role Role // "" accepts every role
}

// RequireRole accepts only peers of role r: replication links accept only
// storage nodes.
func RequireRole(r Role) PeerOption {
	return func(p *peerPolicy) { p.role = r }
}

func policyOf(opts []PeerOption) peerPolicy {
	var p peerPolicy
	for _, o := range opts {
		o(&p)
	}
	return p
}

// ServerTLS is the TLS configuration of a cluster server (replication,
// etcd): TLS 1.3 only, presenting id's certificate, requiring a client
// certificate that chains to the cluster CA, is valid now and names a node
// of id's cluster (and of the required role, with RequireRole).
func (id *Identity) ServerTLS(opts ...PeerOption) *tls.Config {
	pol := policyOf(opts)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.CA,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := id.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, "", pol)
			return err
		},
	}
}

// ClientTLS is the TLS configuration for connecting to the cluster node
// named serverName: TLS 1.3 only, presenting id's certificate, and
// accepting only a server whose certificate chains to the cluster CA, is
// valid now and names node serverName of id's cluster (and of the
// required role, with RequireRole). The address dialled plays no part.
func (id *Identity) ClientTLS(serverName string, opts ...PeerOption) *tls.Config {
	pol := policyOf(opts)
	cert := id.Cert
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Always present the node certificate, even to a server whose
		// CA list does not name its issuer: the server then says why it
		// refuses (unknown authority) instead of "no certificate".
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		RootCAs:              id.CA,
		ServerName:           serverName,
		// The standard verification checks the address dialled against
		// the certificate's host names; VerifyConnection replaces it with
		// the chain to the cluster CA and the node name in the URI SAN.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := id.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, serverName, pol)
			return err
		},
	}
}

// PeerName says which node is at the other end of an established TLS
// connection, verifying again that its certificate chains to the cluster
// CA and names a node of id's cluster.
func (id *Identity) PeerName(state tls.ConnectionState) (name string, role Role, err error) {
	if !state.HandshakeComplete {
		return "", "", errors.New("peer identity: the TLS handshake is not complete")
	}
	p, err := id.verifyPeer(state.PeerCertificates, x509.ExtKeyUsageAny, "", peerPolicy{})
	if err != nil {
		return "", "", err
	}
	return p.name, p.role, nil
}

// verifyPeer checks a peer's certificates: they chain to the cluster CA
// for usage, are valid now, and name a node of id's cluster, named
// wantName if that is not "", of the role pol requires.
func (id *Identity) verifyPeer(certs []*x509.Certificate, usage x509.ExtKeyUsage, wantName string, pol peerPolicy) (peer, error) {
	if len(certs) == 0 {
		return peer{}, errors.New("cluster peer sent no certificate")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: id.CA, Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return peer{}, fmt.Errorf("cluster peer %q: certificate not valid for cluster %s: %w", leaf.Subject.CommonName, id.Cluster, err)
	}
	p, err := peerOf(leaf)
	if err != nil {
		return peer{}, fmt.Errorf("cluster peer: %w", err)
	}
	switch {
	case p.cluster != id.Cluster:
		return peer{}, fmt.Errorf("cluster peer %s is a node of cluster %s, not %s", p.name, p.cluster, id.Cluster)
	case wantName != "" && p.name != wantName:
		return peer{}, fmt.Errorf("cluster peer is node %s, not the expected %s", p.name, wantName)
	case pol.role != "" && p.role != pol.role:
		return peer{}, fmt.Errorf("cluster peer %s is a %s node; only %s nodes are accepted here", p.name, p.role, pol.role)
	}
	return p, nil
}
