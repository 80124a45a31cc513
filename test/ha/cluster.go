package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/test/harness"
)

// Hosts and their addresses' last octet.
var hostOctets = map[string]int{"a": 1, "b": 2, "w": 3, "c": 4, "i": 10}

const (
	volumeName = "v"
	volumeSize = 64 << 20
	targetIQN  = "iqn.2026-12.io.halun.test:ha"
	portalPort = 3260
)

// proc is one halun process in a host's namespace.
type proc struct {
	host string
	args []string
	log  *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// haCluster is two storage nodes and a witness (or three storage
// nodes), each a process in its own namespace.
type haCluster struct {
	t       testing.TB
	tp      *topology
	bin     string
	dir     string
	storage []string         // a, b (and c)
	witness string           // w, or "" with three storage nodes
	procs   map[string]*proc // every node's
}

// startHACluster builds the topology, the certificates and configs, and
// starts the witness and the storage nodes: a and b and witness w, or a,
// b and c (copies 3), every one holding a copy of the volume. extra is
// added to every node's cluster section.
func startHACluster(t testing.TB, extra string, copies int) *haCluster {
	t.Helper()
	c := &haCluster{t: t, bin: harness.Binary(t), dir: t.TempDir(), procs: map[string]*proc{}, storage: []string{"a", "b"}, witness: "w"}
	if copies == 3 {
		c.storage, c.witness = []string{"a", "b", "c"}, ""
	}
	hosts := map[string]int{"i": hostOctets["i"]}
	for _, h := range c.nodes() {
		hosts[h] = hostOctets[h]
	}
	c.tp = newTopology(t, hosts)
	t.Cleanup(c.killAll)
	ip := c.tp.ips
	pkiDir := filepath.Join(c.dir, "pki")
	initArgs := []string{"cluster", "init", "--name", "ha", "--dir", pkiDir}
	var members, nodeLines string
	for _, n := range c.storage {
		initArgs = append(initArgs, n+"="+ip[n])
		nodeLines += fmt.Sprintf("    - {name: %[1]s, portal_groups: [%[2]d], replication: \"%[3]s:7000\", etcd_peer: \"%[3]s:2380\", etcd_client: \"%[3]s:2379\"}\n",
			n, hostOctets[n], ip[n])
	}
	if c.witness != "" {
		initArgs = append(initArgs, "--witness", c.witness+"="+ip[c.witness])
		members = fmt.Sprintf("  witness: {name: %[1]s, etcd_peer: \"%[2]s:2380\", etcd_client: \"%[2]s:2379\"}\n", c.witness, ip[c.witness])
	}
	if out, err := exec.Command(c.bin, initArgs...).CombinedOutput(); err != nil {
		t.Fatalf("halun cluster init: %v\n%s", err, out)
	}
	for _, n := range c.storage {
		cfg := fmt.Sprintf(`node: {name: %[1]s, data_dir: %[2]s}
portal_groups:
  - {tag: %[3]d, portals: ["%[4]s:%[5]d"]}
volumes:
  - {name: %[6]s, backend: file, path: %[6]s.img, size: %[7]d, serial: ha00000000000001}
targets:
  - iqn: %[8]s
    luns: [{lun: 0, volume: %[6]s}]
    access: {all: true}
cluster:
  name: ha
  node: %[1]s
  tls_dir: %[9]s
  nodes:
%[10]s%[11]s%[12]s`, n, filepath.Join(c.dir, n), hostOctets[n], ip[n], portalPort, volumeName, volumeSize, targetIQN,
			filepath.Join(pkiDir, n), nodeLines, members, indent(extra))
		path := filepath.Join(c.dir, n+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		c.procs[n] = &proc{host: n, args: []string{"serve", "--config", path, "--log-level", "debug"}}
	}
	if w := c.witness; w != "" {
		peer := func(n string) string { return "https://" + ip[n] + ":2380" }
		args := []string{"witness", "--name", w, "--data-dir", filepath.Join(c.dir, w),
			"--tls-dir", filepath.Join(pkiDir, w), "--peer-url", peer(w), "--client-url", "https://" + ip[w] + ":2379"}
		for _, m := range c.nodes() {
			args = append(args, "--member", m+"="+peer(m))
		}
		c.procs[w] = &proc{host: w, args: args}
	}
	for _, n := range c.nodes() {
		c.start(n)
	}
	return c
}

// nodes are every node's name: the witness first, if any, then the
// storage nodes.
func (c *haCluster) nodes() []string {
	if c.witness == "" {
		return c.storage
	}
	return append([]string{c.witness}, c.storage...)
}

// others are the storage nodes but host.
func (c *haCluster) others(host string) []string {
	return slices.DeleteFunc(slices.Clone(c.storage), func(n string) bool { return n == host })
}

// portals are the storage nodes' iSCSI portals.
func (c *haCluster) portals() []string {
	var out []string
	for _, n := range c.storage {
		out = append(out, fmt.Sprintf("%s:%d", c.tp.ips[n], portalPort))
	}
	return out
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

// start runs host's process (again, after a kill).
func (c *haCluster) start(host string) {
	c.t.Helper()
	p := c.procs[host]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log == nil {
		f, err := os.Create(filepath.Join(c.dir, host+".log"))
		if err != nil {
			c.t.Fatal(err)
		}
		p.log = f
	}
	fmt.Fprintf(p.log, "---- test: start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := c.tp.command(host, c.bin, p.args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", host, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
}

// kill ends host's process with SIGKILL (a crash) and waits for it.
func (c *haCluster) kill(host string) {
	p := c.procs[host]
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT) // a frozen process dies too
	cmd.Process.Kill()
	<-done
	fmt.Fprintf(p.log, "---- test: killed %s\n", time.Now().Format(time.RFC3339Nano))
}

// killFor kills host (kill -9) and starts it again after d.
func (c *haCluster) killFor(host string, d time.Duration) {
	c.kill(host)
	time.Sleep(d)
	c.start(host)
}

// signal sends sig to host's process.
func (c *haCluster) signal(host string, sig syscall.Signal) error {
	p := c.procs[host]
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.log, "---- test: %v %s\n", sig, time.Now().Format(time.RFC3339Nano))
	return p.cmd.Process.Signal(sig)
}

func (c *haCluster) killAll() {
	for _, h := range c.nodes() {
		if c.procs[h] != nil {
			c.kill(h)
		}
	}
}

// logTails is the end of every storage node's log, for failure
// messages.
func (c *haCluster) logTails(n int) string {
	var b strings.Builder
	for _, h := range c.storage {
		fmt.Fprintf(&b, "%s:\n%s\n", h, c.logTail(h, n))
	}
	return b.String()
}

// logTail is the end of host's log, for failure messages.
func (c *haCluster) logTail(host string, n int) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, host+".log"))
	return harness.Tail(string(b), n)
}

// status reads `halun cluster status --json` from a live storage node's
// namespace.
func (c *haCluster) status(ctx context.Context) (*cluster.Status, error) {
	var last error
	for _, n := range c.storage {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		cmd := c.tp.command(n, c.bin, "cluster", "status", "--json", "--config", filepath.Join(c.dir, n+".yaml"))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Start()
		if err == nil {
			stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
			err = cmd.Wait()
			stop()
		}
		cancel()
		if err != nil {
			last = fmt.Errorf("cluster status from %s: %v: %s", n, err, errb.String())
			continue
		}
		var st cluster.Status
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			return nil, fmt.Errorf("cluster status: %w: %s", err, out.String())
		}
		return &st, nil
	}
	return nil, last
}

// etcdLeader waits until etcd's leader is a node other than primary and
// returns it.
func (c *haCluster) etcdLeader(primary string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := "none"
	for {
		if st, err := c.status(ctx); err == nil {
			last = "none"
			for _, n := range st.Nodes {
				if n.EtcdLeader {
					last = n.Name
				}
			}
			if last != "none" && last != primary {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("etcd's leader is %s, not another node than the primary %s, after %v", last, primary, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// volume returns the test volume's status.
func volumeOf(st *cluster.Status) (cluster.VolumeStatus, bool) {
	for _, v := range st.Volumes {
		if v.Name == volumeName {
			return v, true
		}
	}
	return cluster.VolumeStatus{}, false
}

// waitPrimary waits until the volume has a primary and returns it.
func (c *haCluster) waitPrimary(ctx context.Context, timeout time.Duration) (string, error) {
	v, err := c.waitFor(ctx, timeout, func(v cluster.VolumeStatus) bool { return v.Primary != "" })
	return v.Primary, err
}

// waitInSync waits until the volume has a primary and every replica is
// in sync (every resync done).
func (c *haCluster) waitInSync(ctx context.Context, timeout time.Duration) (cluster.VolumeStatus, error) {
	return c.waitInSyncAfter(ctx, timeout, 0)
}

// waitInSyncAfter is waitInSync at an epoch above epoch: after a fault
// that takes the primary away, the record still says every replica is
// in sync at the old epoch until a node is promoted and finds its
// replica gone (and, after a crash of all, resyncs what its activity
// log held in flight; with three copies, resyncs the lost primary's
// extents to the other survivor).
func (c *haCluster) waitInSyncAfter(ctx context.Context, timeout time.Duration, epoch uint64) (cluster.VolumeStatus, error) {
	return c.waitFor(ctx, timeout, func(v cluster.VolumeStatus) bool {
		for _, n := range c.storage {
			if !slices.Contains(v.InSync, n) {
				return false
			}
		}
		return v.Epoch > epoch && v.Primary != ""
	})
}

func (c *haCluster) waitFor(ctx context.Context, timeout time.Duration, ok func(cluster.VolumeStatus) bool) (cluster.VolumeStatus, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		st, err := c.status(ctx)
		if err == nil {
			if v, found := volumeOf(st); found {
				if ok(v) {
					return v, nil
				}
				last = fmt.Sprintf("%+v", v)
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return cluster.VolumeStatus{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return cluster.VolumeStatus{}, fmt.Errorf("not reached within %v; last status: %s", timeout, last)
}

// imagePath is host's copy of the volume.
func (c *haCluster) imagePath(host string) string {
	return filepath.Join(c.dir, host, volumeName+".img")
}

// compareImages reports the first difference between the replicas'
// images (each against the first storage node's).
func (c *haCluster) compareImages() error {
	first := c.storage[0]
	a, err := os.ReadFile(c.imagePath(first))
	if err != nil {
		return err
	}
	for _, other := range c.storage[1:] {
		b, err := os.ReadFile(c.imagePath(other))
		if err != nil {
			return err
		}
		if err := sameBytes(first, a, other, b); err != nil {
			return err
		}
	}
	return nil
}

// sameBytes reports how images a and b, of the nodes named, differ.
func sameBytes(na string, a []byte, nb string, b []byte) error {
	if len(a) != len(b) {
		return fmt.Errorf("image sizes differ: %s %d, %s %d bytes", na, len(a), nb, len(b))
	}
	if bytes.Equal(a, b) {
		return nil
	}
	var n, first int64 = 0, -1
	for off := 0; off < len(a); off += 512 {
		if !bytes.Equal(a[off:off+512], b[off:off+512]) {
			if first < 0 {
				first = int64(off)
			}
			n++
		}
	}
	return fmt.Errorf("replicas %s and %s differ in %d sectors, the first at byte %d", na, nb, n, first)
}

// promote asks for a planned switchover of the volume to node and waits
// until the record names it.
func (c *haCluster) promote(node string) error {
	cmd := c.tp.command(node, c.bin, "cluster", "promote", "--config", filepath.Join(c.dir, node+".yaml"), volumeName, node)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("halun cluster promote: %v: %s", err, out)
	}
	_, err := c.waitFor(context.Background(), 30*time.Second, func(v cluster.VolumeStatus) bool { return v.Primary == node })
	return err
}

// logSize is the length of host's log now.
func (c *haCluster) logSize(host string) int64 {
	fi, err := os.Stat(filepath.Join(c.dir, host+".log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// resyncDone matches a primary's log line for a finished resync.
var resyncDone = regexp.MustCompile(`msg="cluster: resync done".* copied=(\d+)`)

// resyncCopied sums what the resyncs host logged after offset copied.
func (c *haCluster) resyncCopied(host string, offset int64) int64 {
	b, err := os.ReadFile(filepath.Join(c.dir, host+".log"))
	if err != nil || offset > int64(len(b)) {
		return 0
	}
	var n int64
	for _, m := range resyncDone.FindAllSubmatch(b[offset:], -1) {
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		n += v
	}
	return n
}
