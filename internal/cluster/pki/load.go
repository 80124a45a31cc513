package pki

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Identity is a node's cluster identity, loaded from its directory: who it
// is, its certificate and key, and the CA its peers must chain to.
type Identity struct {
	Cluster string
	Name    string
	Role    Role
	// Cert is the node's certificate (Cert.Leaf is set) and key.
	Cert tls.Certificate
	// CA holds the cluster CA certificates of ca.crt.
	CA *x509.CertPool
	// NotAfter is when the node certificate expires.
	NotAfter time.Time
}

// Load reads a node directory (node.crt, node.key, ca.crt) and checks that
// the key is the certificate's, that the certificate names a node of the
// CA's cluster, chains to the CA, is usable as TLS server and client, and
// is valid now. Errors name the file at fault.
func Load(nodeDir string) (*Identity, error) {
	id, err := load(nodeDir, time.Now())
	if err != nil {
		return nil, fmt.Errorf("load node identity from %s: %w", nodeDir, err)
	}
	return id, nil
}

func load(nodeDir string, now time.Time) (*Identity, error) {
	certPath := filepath.Join(nodeDir, NodeCertFile)
	keyPath := filepath.Join(nodeDir, NodeKeyFile)
	caPath := filepath.Join(nodeDir, CACertFile)
	chain, err := readCerts(certPath)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !samePublicKey(key, leaf) {
		return nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	cas, err := readCerts(caPath)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, fmt.Errorf("%s: %q is not a CA certificate", caPath, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	p, err := peerOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if err := checkValidity(leaf, now); err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{usage}})
		if err != nil {
			return nil, fmt.Errorf("%s does not verify against %s: %w", certPath, caPath, err)
		}
		root := chains[0][len(chains[0])-1]
		if c, err := clusterOfCA(root); err != nil {
			return nil, fmt.Errorf("%s: %w", caPath, err)
		} else if c != p.cluster {
			return nil, fmt.Errorf("%s names node %s of cluster %s, but %s is the CA of cluster %s",
				certPath, p.name, p.cluster, caPath, c)
		}
	}
	raw := make([][]byte, len(chain))
	for i, c := range chain {
		raw[i] = c.Raw
	}
	return &Identity{
		Cluster:  p.cluster,
		Name:     p.name,
		Role:     p.role,
		Cert:     tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: leaf},
		CA:       pool,
		NotAfter: leaf.NotAfter,
	}, nil
}

// loadAuthority reads the CA of dir and checks it is cluster's and valid
// now.
func loadAuthority(dir, cluster string, now time.Time) (*authority, error) {
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(certPath, certPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s holds %d certificates, not the one CA certificate", certPath, len(certs))
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", certPath)
	}
	c, err := clusterOfCA(cert)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if c != cluster {
		return nil, fmt.Errorf("%s is the CA of cluster %s, not %s", certPath, c, cluster)
	}
	if err := checkValidity(cert, now); err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !samePublicKey(key, cert) {
		return nil, fmt.Errorf("%s is not the key of %s", keyPath, certPath)
	}
	return &authority{cluster: cluster, cert: cert, certPEM: certPEM, key: key}, nil
}

func checkValidity(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("certificate %q expired on %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s (is the clock right?)", c.Subject.CommonName,
			c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// readCerts reads a PEM file of one or more certificates.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCerts(path, data)
}

func parseCerts(path string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is %q, not CERTIFICATE", path, len(certs)+1, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: damaged: not PEM after certificate %d", path, len(certs))
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in the file", path)
	}
	return certs, nil
}

// readKey reads a PEM private key (PKCS#8, or SEC 1 for EC). Errors never
// quote the key.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: damaged: no PEM private key in the file", path)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: damaged: more than one PEM block", path)
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block is %q, not PRIVATE KEY", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: damaged private key: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported private key type %T", path, key)
	}
	return s, nil
}

func samePublicKey(key crypto.Signer, c *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}

// peer is who a certificate names.
type peer struct {
	cluster, name string
	role          Role
}

// peerOf reads the identity of a node certificate: its one halun URI SAN,
// which must agree with its CommonName.
func peerOf(c *x509.Certificate) (peer, error) {
	var found []string
	var p peer
	for _, u := range c.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		found = append(found, u.String())
		role, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || !ok {
			return peer{}, fmt.Errorf("URI SAN %s is not halun://<cluster>/<role>/<name>", u)
		}
		if err := checkName("cluster", u.Host); err != nil {
			return peer{}, fmt.Errorf("URI SAN %s: %w", u, err)
		}
		if err := checkName("node", name); err != nil {
			return peer{}, fmt.Errorf("URI SAN %s: %w", u, err)
		}
		if !Role(role).valid() {
			return peer{}, fmt.Errorf("URI SAN %s: role %q is not %s or %s", u, role, RoleStorage, RoleWitness)
		}
		p = peer{cluster: u.Host, name: name, role: Role(role)}
	}
	switch {
	case len(found) == 0:
		return peer{}, fmt.Errorf("certificate %q names no halun node (no %s:// URI SAN)", c.Subject.CommonName, uriScheme)
	case len(found) > 1:
		return peer{}, fmt.Errorf("certificate %q names more than one halun node: %s", c.Subject.CommonName,
			strings.Join(found, ", "))
	case c.Subject.CommonName != p.name:
		return peer{}, fmt.Errorf("certificate CommonName %q differs from its node name %s", c.Subject.CommonName, p.name)
	}
	return p, nil
}

// clusterOfCA reads the cluster a CA certificate is for: its URI SAN
// halun://<cluster>.
func clusterOfCA(c *x509.Certificate) (string, error) {
	for _, u := range c.URIs {
		if u.Scheme == uriScheme && (u.Path == "" || u.Path == "/") && checkName("cluster", u.Host) == nil {
			return u.Host, nil
		}
	}
	return "", errors.New("the CA certificate names no halun cluster (no halun://<cluster> URI SAN)")
}
