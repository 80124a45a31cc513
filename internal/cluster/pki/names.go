package pki

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Role is what a node does in the cluster.
type Role string

const (
	// RoleStorage is a node that holds replicas and serves volumes.
	RoleStorage Role = "storage"
	// RoleWitness is a node without volumes that only votes in etcd.
	RoleWitness Role = "witness"
)

func (r Role) valid() bool { return r == RoleStorage || r == RoleWitness }

// Node is a node to issue a certificate for.
type Node struct {
	Name  string // DNS label, also the node's directory name
	Role  Role   // RoleStorage or RoleWitness
	Hosts []string
	// Hosts are the IP addresses and DNS names the node is reached at;
	// they become the certificate's IP and DNS SANs, exactly as given.
}

// File names in a CA directory and in a node directory.
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// uriScheme is the scheme of the URI SANs that name clusters and nodes.
const uriScheme = "halun"

// NodeURI is the URI SAN naming a node: halun://<cluster>/<role>/<name>.
func NodeURI(cluster string, role Role, name string) string {
	return nodeURL(cluster, role, name).String()
}

func nodeURL(cluster string, role Role, name string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: cluster, Path: "/" + string(role) + "/" + name}
}

// clusterURL is the URI SAN of a cluster's CA: halun://<cluster>.
func clusterURL(cluster string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: cluster}
}

// checkName reports whether s is a DNS label (lower case): what cluster
// and node names must be, so that they fit a URI host, a directory name
// and an etcd member name unchanged.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s name is empty", what)
	}
	if len(s) > 63 {
		return fmt.Errorf("%s name %q is longer than 63 characters", what, s)
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i != 0 && i != len(s)-1:
		default:
			return fmt.Errorf("%s name %q: only lower-case letters, digits and inner '-' are allowed", what, s)
		}
	}
	return nil
}

// checkHost reports whether h is an IP address (without zone) or a DNS
// name.
func checkHost(h string) error {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("host %q: an address with a zone cannot be in a certificate", h)
		}
		return nil
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("host %q is neither an IP address nor a DNS name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is neither an IP address nor a DNS name", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("host %q is neither an IP address nor a DNS name", h)
			}
		}
	}
	return nil
}

// CheckNodes reports every problem with a cluster name and the nodes to
// issue certificates for — names, roles, hosts, duplicates — without
// touching any file. Init and AddNodes call it first.
func CheckNodes(cluster string, nodes []Node) error {
	var errs []error
	if err := checkName("cluster", cluster); err != nil {
		errs = append(errs, err)
	}
	if len(nodes) == 0 {
		errs = append(errs, errors.New("no nodes given"))
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if err := checkName("node", n.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[n.Name] {
			errs = append(errs, fmt.Errorf("node %s is given twice", n.Name))
		}
		seen[n.Name] = true
		if !n.Role.valid() {
			errs = append(errs, fmt.Errorf("node %s: role %q is not %s or %s", n.Name, n.Role, RoleStorage, RoleWitness))
		}
		if len(n.Hosts) == 0 {
			errs = append(errs, fmt.Errorf("node %s: no hosts; give the IP addresses or DNS names it is reached at", n.Name))
		}
		for _, h := range n.Hosts {
			if err := checkHost(h); err != nil {
				errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
