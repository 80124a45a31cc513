package replication

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
)

var ctx = context.Background()

const volSize = 4 << 20

// replicaNode is a replica serving on loopback, its store and epochs.
type replicaNode struct {
	name   string
	store  *countingStore
	epochs *FileEpochs
	gen    *GenFile // its copy's generation record
	dir    string   // where its epochs and generation record are
	ln     net.Listener
	r      *Replica
	// closeConns closes the connections the current listener accepted.
	closeConns func()
	// leftover is what the node reports of its activity log (nil: it
	// cannot read one).
	leftover []int64
	// peer is its record of the primary's activity log.
	peer *PeerActivity
	// size is its copy's size (0: volSize).
	size int64
}

// countingStore counts what a replica was asked to make durable.
type countingStore struct {
	backend.Store
	durableWrites, syncs atomic.Int64
}

func (c *countingStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	if durable {
		c.durableWrites.Add(1)
	}
	return c.Store.WriteAt(ctx, p, off, durable)
}

func (c *countingStore) Sync(ctx context.Context) error { c.syncs.Add(1); return c.Store.Sync(ctx) }

// Resize grows the store underneath (a memory store), as a primary's
// resize asks.
func (c *countingStore) Resize(size int64) error { return c.Store.(backend.Resizer).Resize(size) }

func startReplica(t testing.TB, name string) *replicaNode {
	return startReplicaSized(t, name, volSize)
}

func startReplicaSized(t testing.TB, name string, size int64) *replicaNode {
	t.Helper()
	dir := t.TempDir()
	ep, err := OpenFileEpochs(filepath.Join(dir, "epochs.json"))
	if err != nil {
		t.Fatal(err)
	}
	pa, err := OpenPeerActivity(filepath.Join(dir, "vol1.peer-activity.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := &replicaNode{name: name, epochs: ep, dir: dir, peer: pa, size: size}
	n.wipe(t)
	n.serve(t)
	return n
}

// wipe gives the node a new, empty copy of the volume (in memory) and
// the generation record of one, as a node does at start when its image
// is new.
func (n *replicaNode) wipe(t testing.TB) {
	t.Helper()
	n.store = &countingStore{Store: backend.NewMemory(cmp.Or(n.size, volSize))}
	g, _, err := OpenGenFile(filepath.Join(n.dir, "vol1.gen.json"), testVolumeID, Image{}, true)
	if err != nil {
		t.Fatal(err)
	}
	n.gen = g
}

// testVolumeID is vol1's identifier in the tests' lineage.
const testVolumeID = "vol1-id"

func (n *replicaNode) serve(t testing.TB) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.ln = ln
	store, gen, leftover := n.store, n.gen, n.leftover
	n.r = &Replica{Epochs: n.epochs, Volume: func(v string) (backend.Store, bool) {
		return store, v == "vol1"
	}, Leftover: func(string) ([]int64, bool) { return leftover, leftover != nil }, PeerActivity: func(string) *PeerActivity {
		return n.peer
	}, Gens: func(v string) *GenFile {
		if v != "vol1" {
			return nil
		}
		return gen
	}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); n.r.ServeConn(c) }()
		}
	}()
	n.closeConns = func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		n.closeConns()
		wg.Wait()
	})
}

func (n *replicaNode) addr() ReplicaAddr {
	a := n.ln.Addr().String()
	return ReplicaAddr{Name: n.name, Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}}
}

// outLog records OutOfSync calls and can fail them.
type outLog struct {
	mu    sync.Mutex
	names []string
	fail  error
}

func (o *outLog) outOfSync(name string, cause error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.names = append(o.names, name)
	return o.fail
}

func (o *outLog) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.names...)
}

func openPrimary(t testing.TB, epoch uint64, out *outLog, dirty func(replica string, off, n int64) error, replicas ...ReplicaAddr) *Store {
	t.Helper()
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: epoch, Local: backend.NewMemory(volSize), Replicas: replicas,
		OutOfSync: out.outOfSync, Dirty: dirty, Timeout: time.Second,
		Lineage: Lineage{VolumeID: testVolumeID, Epoch: epoch, PrimarySince: epoch}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func contents(t *testing.T, s backend.Store) []byte {
	t.Helper()
	b := make([]byte, s.Size())
	if err := s.ReadAt(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProtocolC_ReplicasIdentical: concurrent writes, overlapping ones
// included, and unmaps leave the primary and every replica byte-identical,
// and an unmapped range reads as zeros everywhere.
func TestProtocolC_ReplicasIdentical(t *testing.T) {
	a, b := startReplica(t, "a"), startReplica(t, "b")
	out := &outLog{}
	s := openPrimary(t, 1, out, nil, a.addr(), b.addr())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			buf := make([]byte, 64<<10)
			for range 200 {
				// A small address space, so writes overlap often.
				off := int64(rng.IntN(64)) * 4096
				n := int64(1+rng.IntN(16)) * 512
				if rng.IntN(10) == 0 {
					if err := s.Unmap(ctx, off, n); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				for i := range buf[:n] {
					buf[i] = byte(rng.Uint32())
				}
				if err := s.WriteAt(ctx, buf[:n], off, rng.IntN(2) == 0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Unmap(ctx, 4096, 8192); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p := contents(t, s)
	if !bytes.Equal(p, contents(t, a.store)) || !bytes.Equal(p, contents(t, b.store)) {
		t.Fatal("replicas differ from the primary")
	}
	if !bytes.Equal(p[4096:4096+8192], make([]byte, 8192)) {
		t.Error("unmapped range does not read as zeros")
	}
	if len(out.got()) != 0 {
		t.Errorf("replicas taken out of sync: %v", out.got())
	}
	if a.store.durableWrites.Load() == 0 || a.store.syncs.Load() == 0 {
		t.Errorf("durability not carried to the replica: %d durable writes, %d syncs", a.store.durableWrites.Load(), a.store.syncs.Load())
	}
}

// TestEpoch_DeposedPrimaryCannotWrite: once a replica has accepted a
// higher epoch (a successor primary), the old primary's writes are
// refused, reach no replica, and the old primary is fenced — also after
// the replica restarts (the epoch is persisted).
func TestEpoch_DeposedPrimaryCannotWrite(t *testing.T) {
	a := startReplica(t, "a")
	old := openPrimary(t, 4, &outLog{}, nil, a.addr())
	if err := old.WriteAt(ctx, []byte("old!"), 0, true); err != nil {
		t.Fatal(err)
	}
	successor := openPrimary(t, 5, &outLog{}, nil, a.addr())
	if err := successor.WriteAt(ctx, []byte("new!"), 512, true); err != nil {
		t.Fatal(err)
	}
	err := old.WriteAt(ctx, []byte("lost"), 0, true)
	if !errors.Is(err, backend.ErrFenced) {
		t.Fatalf("deposed primary's write: %v, want ErrFenced", err)
	}
	if got := contents(t, a.store); string(got[:4]) != "old!" || string(got[512:516]) != "new!" {
		t.Errorf("replica holds %q / %q", got[:4], got[512:516])
	}
	if err := old.WriteAt(ctx, []byte("more"), 4096, false); !errors.Is(err, backend.ErrFenced) {
		t.Errorf("fenced primary wrote again: %v", err)
	}
	if err := old.ReadAt(ctx, make([]byte, 4), 0); !errors.Is(err, backend.ErrFenced) {
		t.Errorf("fenced primary served a read: %v", err)
	}
	// The replica restarts: a primary of the old epoch is still refused.
	a.ln.Close()
	ep, err := OpenFileEpochs(a.epochs.path)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ep.Epoch("vol1"); e != 5 {
		t.Fatalf("persisted epoch %d, want 5", e)
	}
	a.epochs = ep
	a.serve(t)
	_, err = Open(ctx, Options{Volume: "vol1", Epoch: 4, Local: backend.NewMemory(volSize), Replicas: []ReplicaAddr{a.addr()},
		OutOfSync: (&outLog{}).outOfSync})
	if !errors.Is(err, backend.ErrFenced) {
		t.Errorf("old epoch after the replica's restart: %v, want ErrFenced", err)
	}
}

// silentReplica accepts a primary's hello, then never answers.
func silentReplica(t *testing.T) ReplicaAddr { return silentReplicaOf(t, volSize) }

// silentReplicaOf is silentReplica with a copy of size bytes; it reads
// nothing after the hello, through a small receive buffer, so a large
// request fills the socket (a frozen replica).
func silentReplicaOf(t *testing.T, size int64) ReplicaAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); close(done) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4096)
			}
			go func() {
				defer c.Close()
				var f frame
				if _, err := readFrame(c, &f, nil); err != nil {
					return
				}
				c.Write(appendFrame(nil, &frame{typ: msgReply, seq: f.seq, payload: appendHelloReply(nil, size, Generation{Epoch: 1})}))
				<-done
			}()
		}
	}()
	a := ln.Addr().String()
	return ReplicaAddr{Name: "silent", Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a)
	}}
}

// TestTimeout_OutOfSyncBeforeAck: a replica that stops answering is taken
// out of the in-sync set before the write is acknowledged, the write is
// recorded dirty, and later writes go to the others only.
func TestTimeout_OutOfSyncBeforeAck(t *testing.T) {
	a := startReplica(t, "a")
	out := &outLog{}
	var dirtyMu sync.Mutex
	var dirty [][2]int64
	s := openPrimary(t, 1, out, func(_ string, off, n int64) error {
		dirtyMu.Lock()
		dirty = append(dirty, [2]int64{off, n})
		dirtyMu.Unlock()
		return nil
	}, a.addr(), silentReplica(t))
	if err := s.WriteAt(ctx, []byte("data"), 8192, true); err != nil {
		t.Fatal(err)
	}
	if got := out.got(); len(got) != 1 || got[0] != "silent" {
		t.Fatalf("out of sync when the write returned: %v", got)
	}
	dirtyMu.Lock()
	if len(dirty) != 1 || dirty[0] != [2]int64{8192, 4} {
		t.Errorf("dirty ranges %v", dirty)
	}
	dirtyMu.Unlock()
	if in := s.InSync(); len(in) != 1 || in[0] != "a" {
		t.Errorf("in sync %v", in)
	}
	if err := s.WriteAt(ctx, []byte("more"), 0, false); err != nil {
		t.Fatal(err)
	}
	if got := contents(t, a.store); string(got[8192:8196]) != "data" || string(got[:4]) != "more" {
		t.Error("the healthy replica missed writes")
	}
}

// TestTimeout_ReplicaThatStopsReading: a replica that stops reading (a
// frozen process, a hung disk) fills the socket, and a request blocked
// writing to it has no reply timer running yet; the write to the socket
// is bounded by the replica timeout too, so the replica leaves the
// in-sync set and the write is acknowledged instead of held forever.
func TestTimeout_ReplicaThatStopsReading(t *testing.T) {
	const size = 16 << 20
	out := &outLog{}
	s, err := Open(ctx, Options{Volume: "vol1", Epoch: 1, Local: backend.NewMemory(size), Replicas: []ReplicaAddr{silentReplicaOf(t, size)},
		OutOfSync: out.outOfSync, Timeout: time.Second, Lineage: Lineage{VolumeID: testVolumeID, Epoch: 1, PrimarySince: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if in := s.InSync(); len(in) != 1 {
		t.Fatalf("in sync at start: %v", in)
	}
	done := make(chan error, 1)
	go func() { done <- s.WriteAt(ctx, make([]byte, 8<<20), 0, false) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("an 8 MiB write to a replica that stopped reading is still blocked after 30 s")
	}
	if got := out.got(); len(got) != 1 || got[0] != "silent" || len(s.InSync()) != 0 {
		t.Fatalf("out of sync %v, in sync %v: want the silent replica out", got, s.InSync())
	}
}

// TestTimeout_FenceWhenOutOfSyncFails: if the failed replica cannot be
// taken out of the in-sync set (etcd unreachable), the write is not
// acknowledged and the primary fences itself.
func TestTimeout_FenceWhenOutOfSyncFails(t *testing.T) {
	out := &outLog{fail: errors.New("etcd: no quorum")}
	s := openPrimary(t, 1, out, nil, startReplica(t, "a").addr(), silentReplica(t))
	if err := s.WriteAt(ctx, []byte("data"), 0, true); !errors.Is(err, backend.ErrFenced) {
		t.Fatalf("write: %v, want ErrFenced", err)
	}
	if err := s.WriteAt(ctx, []byte("data"), 4096, true); !errors.Is(err, backend.ErrFenced) {
		t.Errorf("a fenced primary wrote: %v", err)
	}
}

// TestOpen_UnreachableReplicaGoesOutOfSync: a replica that cannot be
// reached at open is out of sync before the primary serves.
func TestOpen_UnreachableReplicaGoesOutOfSync(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := ln.Addr().String()
	ln.Close()
	out := &outLog{}
	s := openPrimary(t, 1, out, nil, ReplicaAddr{Name: "gone", Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", gone)
	}})
	if got := out.got(); len(got) != 1 || got[0] != "gone" || len(s.InSync()) != 0 {
		t.Errorf("out of sync %v, in sync %v", got, s.InSync())
	}
}

// TestReplica_RefusesUnknownVolume: a hello for a volume the replica does
// not hold is refused.
func TestReplica_RefusesUnknownVolume(t *testing.T) {
	a := startReplica(t, "a")
	_, _, err := dialPeer(ctx, "a", a.addr().Dial, "other", 1, time.Second)
	if !errors.Is(err, errNoVolume) {
		t.Errorf("hello for another volume: %v", err)
	}
}
