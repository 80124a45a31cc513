package config

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Cluster is the cluster: section. A node with one runs replicated
// volumes with the other storage nodes named here: each volume's primary
// writes to its in-sync replicas, and etcd (embedded in every node and
// in the witness, or an external cluster) decides who is primary.
//
//	cluster:
//	  name: san                   # the certificates' cluster (halun cluster init --name)
//	  node: a                     # this node; --node overrides it
//	  tls_dir: tls                # this node's certificates, relative to data_dir
//	  nodes:
//	    - {name: a, portal_groups: [1], replication: "10.0.0.1:7000", etcd_peer: "10.0.0.1:2380", etcd_client: "10.0.0.1:2379"}
//	    - {name: b, portal_groups: [2], replication: "10.0.0.2:7000", etcd_peer: "10.0.0.2:2380", etcd_client: "10.0.0.2:2379"}
//	  witness: {name: w, etcd_peer: "10.0.0.3:2380", etcd_client: "10.0.0.3:2379"}
//	  etcd_endpoints: []          # an external etcd cluster instead of the embedded members
//	  replica_timeout: 2s         # a replica that does not answer within it goes out of sync
//	  lease_ttl: 2s               # how long a node that stops renewing stays primary
//	  fence_hook: [/usr/local/sbin/stonith, --node]   # run before replacing a lost primary
//	  fence_timeout: 30s
//	  resync_rate: 100MiB         # bytes per second a resync copies at most; absent: unbounded
type Cluster struct {
	Pos     Pos
	Name    string
	Node    string
	TLSDir  string // absolute: joined to node.data_dir
	Nodes   []ClusterNode
	Witness *ClusterNode
	// EtcdEndpoints, if set, is an external etcd cluster's client URLs;
	// then no member is embedded and etcd_peer/etcd_client are unused.
	EtcdEndpoints  []string
	ReplicaTimeout time.Duration
	LeaseTTL       time.Duration
	// FenceHook, if set, is a command run before this node promotes
	// itself to replace a primary that was lost, with the volume's name
	// and the lost primary's node name as arguments (STONITH: power the
	// old primary off). A non-zero exit, or no exit within FenceTimeout,
	// stops the promotion; it is tried again later.
	FenceHook    []string
	FenceTimeout time.Duration
	// ResyncRate bounds the bytes per second a primary copies to a
	// replica it resyncs (live writes are not counted); 0 is unbounded.
	ResyncRate int64
}

// ClusterNode is one storage node, or the witness (no replication).
type ClusterNode struct {
	Pos  Pos
	Name string
	// PortalGroups are the tags of the node's portal groups, which are
	// its target port groups in ALUA: unique in the cluster, so every
	// node reports the same groups for a volume and each initiator path
	// lands in its node's group.
	PortalGroups []uint16
	Replication  Portal // the replication listener
	EtcdPeer     Portal // the embedded etcd member's peer listener
	EtcdClient   Portal // its client listener
}

// Defaults of the cluster section.
const (
	DefaultReplicaTimeout = 2 * time.Second
	DefaultLeaseTTL       = 2 * time.Second
	DefaultTLSDir         = "tls"
)

// Self returns this node's entry.
func (c *Cluster) Self() *ClusterNode {
	for i := range c.Nodes {
		if c.Nodes[i].Name == c.Node {
			return &c.Nodes[i]
		}
	}
	return nil
}

// NodeNames lists the storage nodes.
func (c *Cluster) NodeNames() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Name
	}
	return out
}

func (d *decoder) cluster(n *yaml.Node, path, dataDir string) *Cluster {
	c := &Cluster{Pos: Pos{File: d.file, Line: n.Line, Field: path}, ReplicaTimeout: DefaultReplicaTimeout, LeaseTTL: DefaultLeaseTTL}
	m := d.mapping(n, path)
	if m == nil {
		return c
	}
	name := func(key string, dst *string, required bool) {
		x := m.get(key)
		if x == nil {
			if required {
				m.missing(key, "")
			}
			return
		}
		if s, ok := d.str(x, join(path, key)); ok && d.checkClusterName(x, join(path, key), s) {
			*dst = s
		}
	}
	name("name", &c.Name, true)
	name("node", &c.Node, true)
	c.TLSDir = DefaultTLSDir
	if x := m.get("tls_dir"); x != nil {
		if s, ok := d.str(x, join(path, "tls_dir")); ok && d.checkPath(x, join(path, "tls_dir"), s) {
			c.TLSDir = s
		}
	}
	if !strings.HasPrefix(c.TLSDir, "/") {
		c.TLSDir = dataDir + "/" + c.TLSDir
	}
	if x := m.get("nodes"); x != nil {
		items, _ := d.list(x, join(path, "nodes"))
		for i, it := range items {
			c.Nodes = append(c.Nodes, d.clusterNode(it, index(join(path, "nodes"), i), false))
		}
	} else {
		m.missing("nodes", ", the storage nodes: [{name: a, replication: HOST:PORT, etcd_peer: HOST:PORT, etcd_client: HOST:PORT}, …]")
	}
	if x := m.get("witness"); x != nil && !isNull(x) {
		w := d.clusterNode(x, join(path, "witness"), true)
		c.Witness = &w
	}
	if x := m.get("etcd_endpoints"); x != nil {
		items, _ := d.list(x, join(path, "etcd_endpoints"))
		for i, it := range items {
			if s, ok := d.str(it, index(join(path, "etcd_endpoints"), i)); ok {
				if !strings.HasPrefix(s, "https://") {
					d.errAt(it, index(join(path, "etcd_endpoints"), i), "%q: an etcd client URL https://HOST:PORT (cluster traffic is mutual TLS)", s)
					continue
				}
				c.EtcdEndpoints = append(c.EtcdEndpoints, s)
			}
		}
	}
	c.ReplicaTimeout = d.clusterDuration(m.get("replica_timeout"), join(path, "replica_timeout"), DefaultReplicaTimeout)
	c.LeaseTTL = d.clusterDuration(m.get("lease_ttl"), join(path, "lease_ttl"), DefaultLeaseTTL)
	if x := m.get("fence_hook"); x != nil {
		items, _ := d.list(x, join(path, "fence_hook"))
		for i, it := range items {
			if s, ok := d.str(it, index(join(path, "fence_hook"), i)); ok {
				c.FenceHook = append(c.FenceHook, s)
			}
		}
		if len(c.FenceHook) > 0 && !strings.HasPrefix(c.FenceHook[0], "/") {
			d.errAt(x, join(path, "fence_hook"), "%q: give the command's absolute path", c.FenceHook[0])
		}
	}
	c.FenceTimeout = d.clusterDuration(m.get("fence_timeout"), join(path, "fence_timeout"), 30*time.Second)
	c.ResyncRate = d.resyncRate(m.get("resync_rate"), join(path, "resync_rate"))
	m.done()
	return c
}

// clusterDuration decodes a failure-detection time: 100ms..1m.
func (d *decoder) clusterDuration(n *yaml.Node, path string, def time.Duration) time.Duration {
	return d.durationIn(n, path, def, 100*time.Millisecond, time.Minute, "100ms and 1m, e.g. 2s")
}

// resyncRate decodes cluster.resync_rate: bytes per second, at least
// 1MiB; 0 or absent is unbounded.
func (d *decoder) resyncRate(n *yaml.Node, path string) int64 {
	if n == nil {
		return 0
	}
	s, ok := d.scalar(n, path, "a rate in bytes per second such as 100MiB")
	if !ok {
		return 0
	}
	r, err := ParseSize(s)
	switch {
	case err != nil:
		d.errAt(n, path, "%v", err)
	case r != 0 && r < 1<<20:
		d.errAt(n, path, "%s: at least 1MiB (per second), or 0 for unbounded", s)
	default:
		return r
	}
	return 0
}

// checkClusterName checks a cluster or node name: a lower-case DNS label,
// as the certificates name them.
func (d *decoder) checkClusterName(n *yaml.Node, path, s string) bool {
	ok := len(s) >= 1 && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		d.errAt(n, path, "%q: a cluster or node name is 1..63 lower-case letters, digits and inner dashes", s)
	}
	return ok
}

func (d *decoder) clusterNode(n *yaml.Node, path string, witness bool) ClusterNode {
	cn := ClusterNode{Pos: Pos{File: d.file, Line: n.Line, Field: path}}
	m := d.mapping(n, path)
	if m == nil {
		return cn
	}
	if x := m.get("name"); x != nil {
		if s, ok := d.str(x, join(path, "name")); ok && d.checkClusterName(x, join(path, "name"), s) {
			cn.Name = s
		}
	} else {
		m.missing("name", "")
	}
	addr := func(key string, dst *Portal, required bool) {
		x := m.get(key)
		if x == nil {
			if required {
				m.missing(key, " (HOST:PORT)")
			}
			return
		}
		s, ok := d.str(x, join(path, key))
		if !ok {
			return
		}
		p, err := ParsePortal(s)
		if err != nil {
			d.errAt(x, join(path, key), "%v", err)
			return
		}
		if p.Host == "" {
			d.errAt(x, join(path, key), "%q: give the address other nodes reach this one at, not an empty host", s)
			return
		}
		*dst = p
	}
	if witness {
		m.reject("replication", "a witness holds no volumes: it has no replication address")
		m.reject("portal_groups", "a witness serves no initiators: it has no portal groups")
	} else {
		addr("replication", &cn.Replication, true)
		if x := m.get("portal_groups"); x != nil {
			items, _ := d.list(x, join(path, "portal_groups"))
			for i, it := range items {
				if v, ok := d.integer(it, index(join(path, "portal_groups"), i), 1, 65535); ok {
					cn.PortalGroups = append(cn.PortalGroups, uint16(v))
				}
			}
		} else {
			m.missing("portal_groups", ", the tags of the node's portal groups (its ALUA target port groups), e.g. [1]")
		}
	}
	addr("etcd_peer", &cn.EtcdPeer, false)
	addr("etcd_client", &cn.EtcdClient, false)
	m.done()
	return cn
}

// validateCluster checks the cluster section against itself and the
// volumes: this node is one of the nodes, names and addresses are unique,
// the embedded etcd members have their addresses, and every replicated
// volume names known nodes and has a serial (each node renders the same
// identity).
func (d *decoder) validateCluster(c *Config) {
	cl := c.Cluster
	if cl == nil {
		for i, v := range c.Volumes {
			if v.Replicas != nil {
				d.errField(join(index("volumes", i), "replicas"), "replicas need a cluster: section")
			}
		}
		return
	}
	names := map[string]string{}
	addrs := map[Portal]string{}
	all := slices.Clone(cl.Nodes)
	if cl.Witness != nil {
		all = append(all, *cl.Witness)
	}
	for _, n := range all {
		if n.Name == "" {
			continue
		}
		if prev, dup := names[n.Name]; dup {
			d.errField(join(n.Pos.Field, "name"), "node %s is already defined at %s%s", n.Name, prev, d.lineOf(join(prev, "name")))
		} else {
			names[n.Name] = n.Pos.Field
		}
		for _, a := range []struct {
			key string
			p   Portal
		}{{"replication", n.Replication}, {"etcd_peer", n.EtcdPeer}, {"etcd_client", n.EtcdClient}} {
			if a.p.Port == 0 {
				if a.key != "replication" && len(cl.EtcdEndpoints) == 0 {
					d.errField(n.Pos.Field, "missing %s: every node runs an etcd member unless etcd_endpoints names an external cluster", a.key)
				}
				continue
			}
			if prev, dup := addrs[a.p]; dup {
				d.errField(join(n.Pos.Field, a.key), "%s is already used by %s", a.p, prev)
			} else {
				addrs[a.p] = join(n.Pos.Field, a.key)
			}
		}
	}
	if len(cl.Nodes) == 0 {
		d.errField(join(cl.Pos.Field, "nodes"), "no storage node")
	}
	tags := map[uint16]string{}
	for _, n := range cl.Nodes {
		for _, tag := range n.PortalGroups {
			if prev, dup := tags[tag]; dup && prev != n.Name {
				d.errField(join(n.Pos.Field, "portal_groups"), "portal group %d is node %s's already; target port group IDs are unique in the cluster", tag, prev)
			}
			tags[tag] = n.Name
		}
	}
	if self := cl.Self(); self != nil {
		for _, tag := range self.PortalGroups {
			if c.PortalGroup(tag) == nil {
				d.errField(join(self.Pos.Field, "portal_groups"), "portal group %d is not in this node's portal_groups", tag)
			}
		}
		for _, pg := range c.PortalGroups {
			if !slices.Contains(self.PortalGroups, pg.Tag) {
				d.errField(join(self.Pos.Field, "portal_groups"), "this node's portal group %d is missing; list every portal group of the node", pg.Tag)
			}
		}
	}
	if cl.Node != "" && cl.Self() == nil {
		if cl.Witness != nil && cl.Witness.Name == cl.Node {
			d.errField(join(cl.Pos.Field, "node"), "%s is the witness: run it with halun witness, not halun serve", cl.Node)
		} else {
			d.errField(join(cl.Pos.Field, "node"), "%q is not one of the nodes (%s)", cl.Node, strings.Join(cl.NodeNames(), ", "))
		}
	}
	if len(cl.EtcdEndpoints) == 0 {
		voters := len(cl.Nodes)
		if cl.Witness != nil {
			voters++
		}
		if voters%2 == 0 {
			d.errField(cl.Pos.Field, "%d etcd voters: an even number cannot keep a majority when half of them are lost; add a witness", voters)
		}
	}
	for i := range c.Volumes {
		v := &c.Volumes[i]
		p := index("volumes", i)
		if v.Replicas == nil {
			v.Replicas = cl.NodeNames()
		}
		seen := map[string]bool{}
		for _, r := range v.Replicas {
			if cl.Self() != nil && !slices.Contains(cl.NodeNames(), r) {
				d.errField(join(p, "replicas"), "%q is not a storage node (%s)", r, strings.Join(cl.NodeNames(), ", "))
			}
			if seen[r] {
				d.errField(join(p, "replicas"), "%s is listed twice", r)
			}
			seen[r] = true
		}
		if len(v.Replicas) > 3 {
			d.errField(join(p, "replicas"), "%d replicas: at most 3", len(v.Replicas))
		}
		if v.Serial == "" {
			d.errField(join(p, "name"), "volume %s is replicated: set its serial, so every node gives it the same SCSI identity", v.Name)
		}
	}
}
