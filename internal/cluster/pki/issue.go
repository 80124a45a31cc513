package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/halun/halun/internal/atomicfile"
)

const (
	caYears   = 10
	nodeYears = 5
	// backdate is how far before now certificates start, so that a peer
	// whose clock is a little behind accepts them at once.
	backdate = time.Hour
)

// authority is a loaded or new cluster CA.
type authority struct {
	cluster string
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// Init creates a cluster in dir (made 0700 if it does not exist): a CA
// for cluster and, for each node, a key and certificate signed by it, in
// the layout the package comment describes. It refuses a dir that already
// holds a CA — nodes are added to an existing cluster with AddNodes — and
// writes nothing unless every node is valid.
func Init(dir, cluster string, nodes []Node) error {
	if err := initCluster(dir, cluster, nodes); err != nil {
		return fmt.Errorf("init cluster %s in %s: %w", cluster, dir, err)
	}
	return nil
}

func initCluster(dir, cluster string, nodes []Node) error {
	if err := CheckNodes(cluster, nodes); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	for _, f := range []string{CAKeyFile, CACertFile} {
		p := filepath.Join(dir, f)
		if exists, err := fileExists(p); err != nil {
			return err
		} else if exists {
			return fmt.Errorf("%s already exists: the directory holds a cluster CA, which Init never overwrites; add nodes to it with AddNodes (halun cluster add-node) or choose another directory", p)
		}
	}
	if err := checkNewNodes(dir, nodes); err != nil {
		return err
	}
	now := time.Now()
	ca, caKeyPEM, err := newAuthority(cluster, now)
	if err != nil {
		return err
	}
	issued, err := ca.issueAll(nodes, now)
	if err != nil {
		return err
	}
	// The key first: a crash between the two leaves a directory Init
	// refuses rather than a certificate without its key.
	if err := atomicfile.Write(filepath.Join(dir, CAKeyFile), caKeyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, CACertFile), ca.certPEM, 0o644); err != nil {
		return err
	}
	return writeNodes(dir, ca, issued)
}

// AddNodes signs certificates for nodes new to the cluster whose CA is in
// dir, writing each node's directory as Init does. It refuses a node whose
// directory already holds a certificate or key, a CA of another cluster
// and an expired CA, and writes nothing unless every node is valid.
func AddNodes(dir, cluster string, nodes []Node) error {
	if err := addNodes(dir, cluster, nodes); err != nil {
		return fmt.Errorf("add nodes to cluster %s in %s: %w", cluster, dir, err)
	}
	return nil
}

func addNodes(dir, cluster string, nodes []Node) error {
	if err := CheckNodes(cluster, nodes); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	now := time.Now()
	ca, err := loadAuthority(dir, cluster, now)
	if err != nil {
		return err
	}
	if err := checkNewNodes(dir, nodes); err != nil {
		return err
	}
	issued, err := ca.issueAll(nodes, now)
	if err != nil {
		return err
	}
	return writeNodes(dir, ca, issued)
}

// lockDir takes an exclusive flock on dir, so that two commands working
// on one CA directory do not interleave; the returned func releases it.
func lockDir(dir string) (func(), error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	// Closing the descriptor releases the lock.
	return func() { d.Close() }, nil
}

func fileExists(p string) (bool, error) {
	_, err := os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// checkNewNodes refuses nodes whose directory already holds a key or
// certificate.
func checkNewNodes(dir string, nodes []Node) error {
	var errs []error
	for _, n := range nodes {
		for _, f := range []string{NodeKeyFile, NodeCertFile} {
			p := filepath.Join(dir, n.Name, f)
			exists, err := fileExists(p)
			if err != nil {
				errs = append(errs, err)
			} else if exists {
				errs = append(errs, fmt.Errorf("node %s already exists (%s); remove %s to issue it again",
					n.Name, p, filepath.Join(dir, n.Name)))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// issuedNode is a node's certificate and key, PEM encoded.
type issuedNode struct {
	Node
	certPEM, keyPEM []byte
}

func (ca *authority) issueAll(nodes []Node, now time.Time) ([]issuedNode, error) {
	notAfter := now.AddDate(nodeYears, 0, 0)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	out := make([]issuedNode, 0, len(nodes))
	for _, n := range nodes {
		certPEM, keyPEM, err := ca.issue(ca.cluster, n, now.Add(-backdate), notAfter)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		out = append(out, issuedNode{n, certPEM, keyPEM})
	}
	return out, nil
}

// writeNodes writes each node's directory: the CA copy, then the key,
// then the certificate.
func writeNodes(dir string, ca *authority, nodes []issuedNode) error {
	for _, n := range nodes {
		nd := filepath.Join(dir, n.Name)
		if err := os.MkdirAll(nd, 0o700); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(nd, CACertFile), ca.certPEM, 0o644); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(nd, NodeKeyFile), n.keyPEM, 0o600); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(nd, NodeCertFile), n.certPEM, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func serialNumber() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newAuthority creates a self-signed CA for cluster; it returns the CA
// and its key, PEM encoded.
func newAuthority(cluster string, now time.Time) (*authority, []byte, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "halun " + cluster + " CA"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(caYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		URIs:                  []*url.URL{clusterURL(cluster)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	ca := &authority{cluster: cluster, cert: cert, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	return ca, keyPEM, nil
}

// issue signs a certificate for node n of cluster (normally ca.cluster;
// tests name another), valid from notBefore to notAfter, with a new key.
func (ca *authority) issue(cluster string, n Node, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: n.Name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{nodeURL(cluster, n.Role, n.Name)},
	}
	for _, h := range n.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}
