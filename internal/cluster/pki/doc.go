// Package pki owns the certificates of a halun cluster: the cluster CA,
// one key and certificate per node, the files they live in, and the
// mutual-TLS configurations every cluster link (etcd peer and client
// traffic, replication between storage nodes) is built from. A process
// without a node certificate signed by the cluster's CA can neither write
// a replica nor change cluster state.
//
// Init creates a cluster: a CA (ECDSA P-256, self-signed, CommonName
// "halun <cluster> CA", valid 10 years) and a certificate per node (ECDSA
// P-256, valid 5 years but never beyond the CA, usable as TLS server and
// client). AddNodes signs certificates for nodes added later with the same
// CA. The layout of the directory they write is
//
//	<dir>/ca.crt           the CA certificate
//	<dir>/ca.key           the CA key (0600): keep it off the nodes
//	<dir>/<node>/node.crt  the node's certificate
//	<dir>/<node>/node.key  the node's key (0600)
//	<dir>/<node>/ca.crt    a copy of the CA certificate
//
// so that <dir>/<node> is self-contained: it is copied to that node as
// <data_dir>/tls, and Load reads it there. Every file is written with
// internal/atomicfile; directories holding keys are created 0700.
//
// A node's identity is in its certificate: the CommonName is the node
// name, and exactly one URI SAN says cluster, role and name:
//
//	halun://<cluster>/storage/<name>   a storage node (holds replicas)
//	halun://<cluster>/witness/<name>   a witness (etcd member, no volumes)
//
// The CA carries the URI SAN halun://<cluster>. IP and DNS SANs are the
// node's Hosts, exactly as given (nothing such as 127.0.0.1 is added), for
// peers such as etcd that check host names; halun's own links do not.
// Cluster and node names are DNS labels: lower-case letters, digits and
// '-', at most 63 characters.
//
// Identity.ServerTLS and Identity.ClientTLS are TLS 1.3 only and mutual:
// the server requires a client certificate, both sides verify the peer's
// chain to the cluster CA and that its URI SAN names the same cluster, and
// the client checks the server by its expected node name, never by the
// address it dialled (addresses are loopback or namespace IPs in tests,
// and may change). RequireRole limits a link to one role, as replication
// accepts only storage nodes. Identity.PeerName tells who is at the other
// end of an established connection.
package pki
