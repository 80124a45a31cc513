package config

import (
	"strings"
	"testing"
	"time"
)

const clusterBase = `node: {name: a, data_dir: /d}
portal_groups:
  - {tag: 1, portals: ["10.0.0.1:3260"]}
volumes:
  - {name: v1, backend: memory, size: 1MiB, serial: 633c5643a1}
  - {name: v2, backend: memory, size: 1MiB, serial: 633c5643a2, replicas: [a]}
targets:
  - iqn: iqn.2003-01.org.example:t1
    luns: [{lun: 0, volume: v1}, {lun: 1, volume: v2}]
    access: {all: true}
cluster:
  name: san
  node: a
  nodes:
    - {name: a, portal_groups: [1], replication: "10.0.0.1:7000", etcd_peer: "10.0.0.1:2380", etcd_client: "10.0.0.1:2379"}
    - {name: b, portal_groups: [2], replication: "10.0.0.2:7000", etcd_peer: "10.0.0.2:2380", etcd_client: "10.0.0.2:2379"}
  witness: {name: w, etcd_peer: "10.0.0.3:2380", etcd_client: "10.0.0.3:2379"}
  replica_timeout: 1500ms
`

func TestClusterResyncRate(t *testing.T) {
	c, err := Parse("halun.yaml", []byte(clusterBase+"  resync_rate: 50MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.ResyncRate != 50<<20 {
		t.Fatalf("resync_rate %d, want 50MiB", c.Cluster.ResyncRate)
	}
}

func TestClusterParse(t *testing.T) {
	c, err := Parse("halun.yaml", []byte(clusterBase))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if cl == nil || cl.Name != "san" || cl.Self() == nil || cl.Self().Replication.String() != "10.0.0.1:7000" ||
		cl.Witness == nil || cl.Witness.Name != "w" || cl.TLSDir != "/d/tls" || cl.ReplicaTimeout != 1500*time.Millisecond || cl.LeaseTTL != DefaultLeaseTTL || cl.ResyncRate != 0 {
		t.Fatalf("cluster %+v", cl)
	}
	if r := c.Volumes[0].Replicas; len(r) != 2 || r[0] != "a" || r[1] != "b" {
		t.Errorf("default replicas %v, want every storage node", r)
	}
	if r := c.Volumes[1].Replicas; len(r) != 1 || r[0] != "a" {
		t.Errorf("replicas %v", r)
	}
}

// TestClusterInvalid: a cluster that cannot work is refused at config
// check, with file:line.
func TestClusterInvalid(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"node not listed", "  node: a\n", "  node: c\n", `cluster.node: "c" is not one of the nodes (a, b)`},
		{"the witness as node", "  node: a\n", "  node: w\n", "cluster.node: w is the witness: run it with halun witness"},
		{"even voters", "  witness: {name: w, etcd_peer: \"10.0.0.3:2380\", etcd_client: \"10.0.0.3:2379\"}\n", "",
			"2 etcd voters: an even number cannot keep a majority"},
		{"duplicate address", `etcd_client: "10.0.0.2:2379"}`, `etcd_client: "10.0.0.1:2379"}`, "10.0.0.1:2379 is already used by cluster.nodes[0].etcd_client"},
		{"duplicate name", `- {name: b, portal_groups`, `- {name: a, portal_groups`, "node a is already defined"},
		{"shared port group", "portal_groups: [2]", "portal_groups: [1]", "portal group 1 is node a's already"},
		{"foreign port group", "portal_groups: [1]", "portal_groups: [1, 3]", "portal group 3 is not in this node's portal_groups"},
		{"unknown replica", "replicas: [a]}", "replicas: [a, c]}", `volumes[1].replicas: "c" is not a storage node`},
		{"replica twice", "replicas: [a]}", "replicas: [a, a]}", "volumes[1].replicas: a is listed twice"},
		{"replicated without serial", "size: 1MiB, serial: 633c5643a1}", "size: 1MiB}", "volume v1 is replicated: set its serial"},
		{"bad name", "  name: san\n", "  name: San_1\n", `cluster.name: "San_1": a cluster or node name`},
		{"witness replication", `witness: {name: w, etcd_peer`, `witness: {name: w, replication: "10.0.0.3:7000", etcd_peer`, "a witness holds no volumes"},
		{"no etcd address", `, etcd_client: "10.0.0.2:2379"}`, `}`, "missing etcd_client: every node runs an etcd member"},
		{"empty host", `replication: "10.0.0.2:7000"`, `replication: ":7000"`, "not an empty host"},
		{"timeout", "replica_timeout: 1500ms", "replica_timeout: 10ms", `cluster.replica_timeout: "10ms" is not a duration between 100ms and 1m`},
		{"relative fence hook", "  replica_timeout: 1500ms\n", "  replica_timeout: 1500ms\n  fence_hook: [stonith, -n]\n", `"stonith": give the command's absolute path`},
		{"resync rate too low", "  replica_timeout: 1500ms\n", "  replica_timeout: 1500ms\n  resync_rate: 64KiB\n", `cluster.resync_rate: 64KiB: at least 1MiB`},
		{"resync rate not a size", "  replica_timeout: 1500ms\n", "  replica_timeout: 1500ms\n  resync_rate: fast\n", `cluster.resync_rate: "fast" is not a size`},
		{"http endpoint", "  replica_timeout: 1500ms\n", "  replica_timeout: 1500ms\n  etcd_endpoints: [\"http://10.0.0.9:2379\"]\n", "an etcd client URL https://"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(clusterBase, c.old) != 1 {
				t.Fatalf("base must contain %q once", c.old)
			}
			_, err := Parse("halun.yaml", []byte(strings.Replace(clusterBase, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "halun.yaml:") {
				t.Errorf("error:\n%v\nwant it to contain %q", err, c.want)
			}
		})
	}
	if _, err := Parse("halun.yaml", []byte(strings.Replace(base, "size: 1MiB}", "size: 1MiB, replicas: [a]}", 1))); err == nil ||
		!strings.Contains(err.Error(), "replicas need a cluster: section") {
		t.Errorf("replicas without a cluster: %v", err)
	}
	// An external etcd needs no member addresses and no witness.
	ext := strings.Replace(clusterBase, "  witness: {name: w, etcd_peer: \"10.0.0.3:2380\", etcd_client: \"10.0.0.3:2379\"}\n",
		"  etcd_endpoints: [\"https://10.0.0.9:2379\"]\n", 1)
	ext = strings.NewReplacer(`, etcd_peer: "10.0.0.1:2380", etcd_client: "10.0.0.1:2379"`, "", `, etcd_peer: "10.0.0.2:2380", etcd_client: "10.0.0.2:2379"`, "").Replace(ext)
	if c, err := Parse("halun.yaml", []byte(ext)); err != nil || len(c.Cluster.EtcdEndpoints) != 1 {
		t.Errorf("external etcd: %v", err)
	}
}
