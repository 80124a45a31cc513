package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/cluster/pki"
	"github.com/halun/halun/internal/config"
)

// Status is what `halun cluster status` shows: the cluster's nodes and
// whether each holds a live lease, and every replicated volume's record.
type Status struct {
	Cluster string         `json:"cluster"`
	Nodes   []NodeStatus   `json:"nodes"`
	Volumes []VolumeStatus `json:"volumes"`
}

// NodeStatus is one node of the cluster.
type NodeStatus struct {
	Name  string `json:"name"`
	Role  string `json:"role"` // storage or witness
	Alive bool   `json:"alive"`
	// EtcdLeader: the node's embedded etcd member leads the etcd
	// cluster (never with an external etcd).
	EtcdLeader bool `json:"etcd_leader,omitempty"`
}

// VolumeStatus is one volume's record: its primary, epoch, in-sync set
// and the replicas out of it; of those, the ones whose copies the
// primary refused as diverged (they wait for halun cluster discard) and
// the ones an operator discarded (being overwritten); and the resyncs
// its primary runs.
type VolumeStatus struct {
	Name      string          `json:"name"`
	Primary   string          `json:"primary"`
	Epoch     uint64          `json:"epoch"`
	InSync    []string        `json:"in_sync"`
	OutOfSync []string        `json:"out_of_sync"`
	Diverged  []string        `json:"diverged"`
	Discarded []string        `json:"discarded"`
	Resyncs   []ReplicaResync `json:"resyncs"`
}

// ReplicaResync is the progress of a replica's resync as its primary
// last recorded it (at most half a second old while the primary runs).
type ReplicaResync struct {
	Replica     string  `json:"replica"`
	Percent     int     `json:"percent"`
	CopiedBytes int64   `json:"copied_bytes"`
	TotalBytes  int64   `json:"total_bytes"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// ETASeconds is -1 while no rate is known.
	ETASeconds float64   `json:"eta_seconds"`
	Started    time.Time `json:"started"`
	Updated    time.Time `json:"updated"`
}

func replicaResync(replica string, p coord.ResyncProgress) ReplicaResync {
	return ReplicaResync{Replica: replica, Percent: percentOf(p), CopiedBytes: p.CopiedBytes, TotalBytes: p.TotalBytes,
		BytesPerSec: p.BytesPerSec, ETASeconds: p.ETASeconds, Started: p.Started, Updated: p.Updated}
}

// String is the resync as `halun cluster status` shows it, e.g.
// "b: resync 42% 85 MiB/s ETA 3s".
func (r ReplicaResync) String() string {
	return fmt.Sprintf("%s: resync %d%% %s MiB/s ETA %s", r.Replica, r.Percent, mibPerSec(r.BytesPerSec),
		etaOf(coord.ResyncProgress{ETASeconds: r.ETASeconds}))
}

// ReadStatus reads the cluster's state from etcd with the certificates of
// the node cfg describes (any node of the cluster can answer).
func ReadStatus(ctx context.Context, cfg *config.Config) (*Status, error) {
	cl := cfg.Cluster
	c, err := dialFromConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	alive, err := c.AliveNodes(ctx)
	if err != nil {
		return nil, err
	}
	vols, err := c.Volumes(ctx)
	if err != nil {
		return nil, err
	}
	resyncs, err := c.Resyncs(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Cluster: cl.Name}
	for _, m := range cl.Nodes {
		st.Nodes = append(st.Nodes, NodeStatus{Name: m.Name, Role: "storage", Alive: slices.Contains(alive, m.Name)})
	}
	if w := cl.Witness; w != nil {
		// The witness holds no lease: it is alive when its etcd member
		// answers.
		alive := len(cl.EtcdEndpoints) == 0 && c.Healthy(ctx, "https://"+w.EtcdClient.String())
		st.Nodes = append(st.Nodes, NodeStatus{Name: w.Name, Role: "witness", Alive: alive})
	}
	if len(cl.EtcdEndpoints) == 0 {
		if leader, err := c.LeaderName(ctx, memberEndpoints(cl)); err == nil {
			for i := range st.Nodes {
				st.Nodes[i].EtcdLeader = st.Nodes[i].Name == leader
			}
		}
	}
	for name, v := range vols {
		vs := VolumeStatus{Name: name, Primary: v.Primary, Epoch: v.Epoch, InSync: v.InSync, Diverged: v.Diverged, Discarded: v.Discard}
		for _, r := range v.Replicas {
			if !v.IsInSync(r) {
				vs.OutOfSync = append(vs.OutOfSync, r)
			}
			if p, ok := resyncs[name][r]; ok {
				vs.Resyncs = append(vs.Resyncs, replicaResync(r, p))
			}
		}
		st.Volumes = append(st.Volumes, vs)
	}
	sort.Slice(st.Volumes, func(i, j int) bool { return st.Volumes[i].Name < st.Volumes[j].Name })
	return st, nil
}

// dialFromConfig connects to the cluster's etcd with the certificates of
// the node cfg describes.
func dialFromConfig(ctx context.Context, cfg *config.Config) (*coord.Client, error) {
	cl := cfg.Cluster
	if cl == nil {
		return nil, fmt.Errorf("cluster: %s has no cluster section", cfg.Source)
	}
	id, err := pki.Load(cl.TLSDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	endpoints := cl.EtcdEndpoints
	if len(endpoints) == 0 {
		endpoints = memberEndpoints(cl)
	}
	c, err := coord.Dial(ctx, endpoints, id)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return c, nil
}

// memberEndpoints are the client URLs of the cluster's embedded etcd
// members: every storage node's and the witness's.
func memberEndpoints(cl *config.Cluster) []string {
	var out []string
	for _, m := range append(slices.Clone(cl.Nodes), witnessOf(cl)...) {
		out = append(out, "https://"+m.EtcdClient.String())
	}
	return out
}

// Promote moves volume's primary to node. Planned (force false): node
// must be in sync; the current primary hands the volume over once it has
// synced, without an error for a multipath initiator. Forced: node
// becomes primary at once even if it is out of sync — disaster recovery
// when no in-sync node is left, which loses every write node missed.
func Promote(ctx context.Context, cfg *config.Config, volume, node string, force bool) error {
	c, err := dialFromConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if force {
		_, err := c.ForcePromote(ctx, volume, node)
		return err
	}
	return c.RequestSwitchover(ctx, volume, node)
}

// Discard tells volume's primary to overwrite node's copy with a full
// resync, whatever it holds: an operator's answer to a copy refused as
// diverged (see halun cluster status), which loses the writes only that
// copy has.
func Discard(ctx context.Context, cfg *config.Config, volume, node string) error {
	c, err := dialFromConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Discard(ctx, volume, node)
	return err
}
