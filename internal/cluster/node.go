package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/cluster/pki"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/replication"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/server"
)

// Node is this storage node's part in the cluster.
type Node struct {
	cfg    *config.Config
	cl     *config.Cluster
	self   string
	log    *slog.Logger
	id     *pki.Identity
	member *coord.Member // nil with an external etcd
	client *coord.Client
	// lease is the node's current lease; a lost one is replaced
	// (runLeases), and nil between the two.
	lease  atomic.Pointer[coord.Lease]
	ln     net.Listener
	rep    *replication.Replica
	epochs *replication.FileEpochs

	vols map[string]*volume
	prs  *prStore

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start joins the cluster cfg describes: it starts the embedded etcd
// member (which waits for a quorum: start the other nodes and the
// witness alongside), connects to etcd, takes this node's lease, serves
// the replica side of its volumes, and starts a controller per volume.
// The returned node's Parts go to server.Build.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Node, error) {
	cl := cfg.Cluster
	if cl == nil || cl.Self() == nil {
		return nil, errors.New("cluster: the config has no cluster section naming this node")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, cl: cl, self: cl.Node, log: log.With("node", cl.Node), vols: map[string]*volume{}}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	var err error
	if n.id, err = pki.Load(cl.TLSDir); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if n.id.Cluster != cl.Name || n.id.Name != cl.Node || n.id.Role != pki.RoleStorage {
		return nil, fmt.Errorf("cluster: the certificate in %s is storage node %q of cluster %q (%s); the config says node %q of cluster %q",
			cl.TLSDir, n.id.Name, n.id.Cluster, n.id.Role, cl.Node, cl.Name)
	}
	endpoints := cl.EtcdEndpoints
	if len(endpoints) == 0 {
		initial := map[string]string{}
		for _, m := range append(slices.Clone(cl.Nodes), witnessOf(cl)...) {
			initial[m.Name] = "https://" + m.EtcdPeer.String()
		}
		self := cl.Self()
		// The node talks to its own member only: it lives exactly as
		// long as this process, and forwards to the leader. A client
		// balancing over every member keeps sending to one that is
		// frozen or cut off (its connection stays open), and stalls
		// the lease of a node that is well.
		endpoints = []string{"https://" + self.EtcdClient.String()}
		n.member, err = coord.StartMember(ctx, coord.MemberConfig{Name: n.self, DataDir: filepath.Join(cfg.Node.DataDir, "etcd"),
			PeerURL: "https://" + self.EtcdPeer.String(), ClientURL: "https://" + self.EtcdClient.String(),
			InitialCluster: initial, TLSDir: cl.TLSDir, Log: n.log})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	if n.client, err = coord.Dial(ctx, endpoints, n.id, coord.WithLogger(n.log)); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	lease, err := n.client.KeepAlive(n.ctx, n.self, cl.LeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.lease.Store(lease)
	if n.epochs, err = replication.OpenFileEpochs(filepath.Join(cfg.Node.DataDir, "replication", "epochs.json")); err != nil {
		return nil, err
	}
	// The volumes this node holds, each on its local store.
	fresh := map[string]bool{}
	for i := range cfg.Volumes {
		v := &cfg.Volumes[i]
		if !slices.Contains(v.Replicas, n.self) {
			continue
		}
		if fresh[v.Name], err = imageFresh(v); err != nil {
			return nil, fmt.Errorf("%s: %w", v.Pos, err)
		}
		local, err := server.OpenLocalStore(v)
		if err != nil {
			return nil, fmt.Errorf("%s: volume %s: %w", v.Pos, v.Name, err)
		}
		n.vols[v.Name] = newVolume(n, v, local)
	}
	localPR, err := scsi.NewFilePRStore(filepath.Join(cfg.Node.DataDir, "reservations"))
	if err != nil {
		return nil, err
	}
	n.prs = &prStore{n: n, local: localPR}
	for _, v := range n.vols {
		st, err := n.client.CreateVolume(ctx, v.cfg.Name, v.cfg.Replicas, definitionOf(&v.cfg))
		if err != nil {
			return nil, fmt.Errorf("cluster: volume %s: %w", v.cfg.Name, err)
		}
		if err := v.openGeneration(ctx, st, fresh[v.cfg.Name]); err != nil {
			return nil, err
		}
	}
	// The replica side answers with each copy's generation: it starts
	// once they are known.
	n.rep = &replication.Replica{Epochs: n.epochs, Log: n.log, Volume: func(name string) (backend.Store, bool) {
		if v := n.vols[name]; v != nil {
			return v.local, true
		}
		return nil, false
	}, Leftover: func(name string) ([]int64, bool) {
		v := n.vols[name]
		if v == nil {
			return nil, false
		}
		a, err := v.activityLog()
		if err != nil {
			n.log.Warn("cluster: the activity log cannot be read; a resync of this copy will be full", "volume", name, "err", err)
			return nil, false
		}
		var offs []int64
		for _, e := range a.Leftover() {
			offs = append(offs, e[0])
		}
		return offs, true
	}, PeerActivity: func(name string) *replication.PeerActivity {
		if v := n.vols[name]; v != nil {
			return v.peerActivity
		}
		return nil
	}, Gens: func(name string) *replication.GenFile {
		if v := n.vols[name]; v != nil {
			return v.gen
		}
		return nil
	}, Resized: func(name string, size int64) {
		if v := n.vols[name]; v != nil {
			v.grown(size)
		}
	}}
	self := cl.Self()
	if n.ln, err = replication.Listen(self.Replication.String(), n.id.ServerTLS(pki.RequireRole(pki.RoleStorage))); err != nil {
		return nil, fmt.Errorf("cluster: replication listener: %w", err)
	}
	n.wg.Add(1)
	go n.serveReplicas()
	n.wg.Add(1)
	go n.runLeases()
	if n.member != nil {
		n.wg.Add(1)
		go n.keepLeader("https://" + cl.Self().EtcdClient.String())
	}
	ok = true
	return n, nil
}

func witnessOf(cl *config.Cluster) []config.ClusterNode {
	if cl.Witness == nil {
		return nil
	}
	return []config.ClusterNode{*cl.Witness}
}

// serveReplicas accepts primaries' connections until the node closes;
// then it closes the ones still open (a primary elsewhere may keep its
// connection for as long as it runs).
func (n *Node) serveReplicas() {
	defer n.wg.Done()
	var conns sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	defer func() {
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	}()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		open[c] = true
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer func() {
				mu.Lock()
				delete(open, c)
				mu.Unlock()
				conns.Done()
			}()
			if err := n.rep.ServeConn(c); err != nil {
				n.log.Debug("cluster: replication connection ended", "err", err)
			}
		}()
	}
}

// dialer returns how to reach storage node name's replication listener.
func (n *Node) dialer(name string) replication.ReplicaAddr {
	var addr string
	for _, m := range n.cl.Nodes {
		if m.Name == name {
			addr = m.Replication.String()
		}
	}
	cfg := n.id.ClientTLS(name, pki.RequireRole(pki.RoleStorage))
	return replication.ReplicaAddr{Name: name, Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return replication.ClientTLS(ctx, raw, cfg)
	}}
}

// Parts are the server parts of this node: replicated volumes' stores and
// ALUA states; every other part is the single node's.
func (n *Node) Parts() server.Parts {
	return server.Parts{
		OpenStore: func(v *config.Volume) (backend.Store, error) {
			if cv := n.vols[v.Name]; cv != nil {
				return cv.store, nil
			}
			if slices.Contains(v.Replicas, n.self) {
				// A volume added by a reload: its replica side and
				// controller start with the node.
				return nil, fmt.Errorf("volume %s is replicated: restart halun to add it to the cluster", v.Name)
			}
			if v.Replicas != nil {
				return nil, fmt.Errorf("volume %s is replicated on %v, not on this node", v.Name, v.Replicas)
			}
			return server.OpenLocalStore(v)
		},
		VolumeALUA: func(v *config.Volume) *scsi.ALUAGroups {
			if cv := n.vols[v.Name]; cv != nil {
				return cv.alua
			}
			return nil
		},
		PRStore: n.prs,
		OnLU: func(v *config.Volume, lu *scsi.LU) {
			if cv := n.vols[v.Name]; cv != nil {
				cv.setLU(lu)
			}
		},
	}
}

// Close stops the controllers (every primary stops serving), the replica
// side, the lease, the etcd client and member, and closes the local
// stores.
func (n *Node) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.ln != nil {
		n.ln.Close()
	}
	n.wg.Wait()
	var errs []error
	for _, v := range n.vols {
		v.stop()
		errs = append(errs, v.local.Close())
	}
	if l := n.lease.Load(); l != nil {
		l.Close()
	}
	if n.client != nil {
		n.client.Close()
	}
	if n.member != nil {
		n.member.Close()
	}
	return errors.Join(errs...)
}

// Crash stops the node as a crash would, for tests: no lease revoke, no
// clean demotion; the other nodes see it vanish and its lease expire.
func (n *Node) Crash() {
	n.cancel()
	n.ln.Close()
	for _, v := range n.vols {
		v.store.set(nil)
		v.mu.Lock()
		if v.primary != nil {
			v.primary.Close()
			v.primary = nil
		}
		v.mu.Unlock()
	}
	if n.member != nil {
		n.member.Close()
	}
	n.wg.Wait()
}

// runLeases runs the volumes' controllers under the node's lease. When the
// lease is lost (etcd unreachable past its deadline, the process frozen
// longer than the TTL), every controller demotes its volume and ends;
// the node then takes a new lease — retrying until etcd answers — and
// starts them again, so a node that was cut off or frozen rejoins as a
// replica that can be promoted later, not a bystander for good.
func (n *Node) runLeases() {
	defer n.wg.Done()
	for {
		lease := n.lease.Load()
		var vols sync.WaitGroup
		for _, v := range n.vols {
			vols.Add(1)
			go func() {
				defer vols.Done()
				v.run(lease)
			}()
		}
		select {
		case <-n.ctx.Done():
			vols.Wait()
			return
		case <-lease.Lost():
		}
		vols.Wait()
		n.lease.Store(nil)
		lease.Close()
		n.log.Warn("cluster: lease lost; every volume demoted here, taking a new lease")
		for {
			next, err := n.client.KeepAlive(n.ctx, n.self, n.cl.LeaseTTL)
			if err == nil {
				n.lease.Store(next)
				n.log.Info("cluster: new lease taken", "ttl", next.TTL())
				break
			}
			n.log.Debug("cluster: taking a new lease", "err", err)
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// leaderEvery is how often a node whose member leads etcd looks where
// the leadership should be.
const leaderEvery = 2 * time.Second

// keepLeader keeps etcd's leader where losing a node costs least: on the
// witness; without one (three storage nodes), off the nodes that are a
// volume's primary, on the live storage node that is primary of the
// fewest volumes. Whenever this node's member leads and should not, it
// moves the leadership (coord.Client.LeaderTo). A primary that dies then
// does not take the leader with it, and its lease expires one TTL after
// its last renewal instead of after an election too (a new leader
// restarts every lease's TTL): the failover pause stays one TTL.
func (n *Node) keepLeader(endpoint string) {
	defer n.wg.Done()
	t := time.NewTicker(leaderEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if !n.member.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(n.ctx, time.Second)
		to, err := n.leaderTarget(ctx)
		moved := false
		if err == nil && to != "" {
			moved, err = n.client.LeaderTo(ctx, endpoint, to)
		}
		cancel()
		switch {
		case err != nil:
			n.log.Debug("cluster: moving the etcd leadership", "to", to, "err", err)
		case moved:
			n.log.Info("cluster: etcd leadership moved", "to", to)
		}
	}
}

// leaderTarget is the member the leadership should move to from this
// node's, "" to keep it here (see keepLeader).
func (n *Node) leaderTarget(ctx context.Context) (string, error) {
	if w := n.cl.Witness; w != nil {
		return w.Name, nil
	}
	vols, err := n.client.Volumes(ctx)
	if err != nil {
		return "", err
	}
	primaryOf := map[string]int{}
	for _, st := range vols {
		if st.Primary != "" {
			primaryOf[st.Primary]++
		}
	}
	if primaryOf[n.self] == 0 {
		return "", nil
	}
	alive, err := n.client.AliveNodes(ctx)
	if err != nil {
		return "", err
	}
	return leaderPlace(n.self, n.cl.NodeNames(), alive, primaryOf), nil
}

// leaderPlace is where the leadership moves from storage node self's
// member without a witness: the live storage node (of nodes) that is
// primary of the fewest volumes (primaryOf), if it is primary of fewer
// than self; "" keeps it.
func leaderPlace(self string, nodes, alive []string, primaryOf map[string]int) string {
	best := ""
	for _, m := range nodes {
		if m != self && slices.Contains(alive, m) && (best == "" || primaryOf[m] < primaryOf[best]) {
			best = m
		}
	}
	if best == "" || primaryOf[best] >= primaryOf[self] {
		return ""
	}
	return best
}

// leaseDeadline is the current lease's deadline by this node's clock;
// the zero time (long past) while the node holds none.
func (n *Node) leaseDeadline() time.Time {
	if l := n.lease.Load(); l != nil {
		return l.Deadline()
	}
	return time.Time{}
}

// state waits at most d for the volume's record.
func (n *Node) volumeState(name string, d time.Duration) (coord.VolumeState, error) {
	ctx, cancel := context.WithTimeout(n.ctx, d)
	defer cancel()
	st, _, err := n.client.Volume(ctx, name)
	return st, err
}

// Primary reports whether this node is the volume's primary now.
func (n *Node) Primary(volume string) bool {
	v := n.vols[volume]
	if v == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.primary != nil
}

// fence runs the fence hook, if any, before this node replaces the lost
// primary prev of volume.
func (n *Node) fence(volume, prev string) error {
	if len(n.cl.FenceHook) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cl.FenceTimeout)
	defer cancel()
	args := append(append([]string(nil), n.cl.FenceHook[1:]...), volume, prev)
	out, err := exec.CommandContext(ctx, n.cl.FenceHook[0], args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", n.cl.FenceHook[0], args, err, out)
	}
	n.log.Info("cluster: fenced the lost primary", "volume", volume, "lost_primary", prev, "hook", n.cl.FenceHook[0])
	return nil
}
