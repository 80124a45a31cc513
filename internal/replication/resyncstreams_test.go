package replication

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// meteredDial wraps a replica's dial: it counts the bytes the primary
// writes on each connection it opens, and can make the connection with
// index failAt break after failAfter bytes.
type meteredDial struct {
	ReplicaAddr
	failAt    int // -1: none
	failAfter int64

	mu    sync.Mutex
	conns []*meteredConn
}

type meteredConn struct {
	net.Conn
	limit   int64 // 0: none
	written atomic.Int64
}

var errCut = errors.New("connection cut by the test")

func (c *meteredConn) Write(p []byte) (int, error) {
	if c.limit > 0 && c.written.Load()+int64(len(p)) > c.limit {
		c.Conn.Close()
		return 0, errCut
	}
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

func (m *meteredDial) addr() ReplicaAddr {
	return ReplicaAddr{Name: m.Name, Dial: func(ctx context.Context) (net.Conn, error) {
		c, err := m.Dial(ctx)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		mc := &meteredConn{Conn: c}
		if len(m.conns) == m.failAt {
			mc.limit = m.failAfter
		}
		m.conns = append(m.conns, mc)
		return mc, nil
	}}
}

func (m *meteredDial) written() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int64
	for _, c := range m.conns {
		out = append(out, c.written.Load())
	}
	return out
}

// wipedReplica is a primary whose volume is all fill and its replica b,
// wiped while it was away (a write took it out of sync), with b's bitmap:
// the next resync of b is a full one.
func wipedReplica(t *testing.T, fill byte) (*replicaNode, *Bitmap, *Store) {
	t.Helper()
	b := startReplica(t, "b")
	bm, err := OpenBitmap(filepath.Join(t.TempDir(), "bm"), volSize)
	if err != nil {
		t.Fatal(err)
	}
	s := openPrimary(t, 1, &outLog{}, bitmapDirty("b", bm), b.addr())
	if err := s.WriteAt(ctx, bytes.Repeat([]byte{fill}, volSize), 0, true); err != nil {
		t.Fatal(err)
	}
	b.stop()
	s.WriteAt(ctx, []byte("x"), 0, false) // b goes out of sync
	b.wipe(t)
	b.serve(t)
	return b, bm, s
}

// TestResync_ChunksShareStreams: a full resync's chunks take turns on
// Streams connections to the replica, so every one of them carries a
// share; the copy ends identical. A resync with nothing to copy opens
// no stream beyond the replica's connection.
func TestResync_ChunksShareStreams(t *testing.T) {
	b, bm, s := wipedReplica(t, 0xa5)
	md := &meteredDial{ReplicaAddr: b.addr(), failAt: -1}
	const streams, chunk = 3, 256 << 10
	copied, err := s.Resync(ctx, ResyncOptions{Replica: md.addr(), Bitmap: bm, Chunk: chunk, Streams: streams,
		BackInSync: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if copied != volSize || !bytes.Equal(contents(t, s), contents(t, b.store)) {
		t.Fatalf("copied %d of %d; identical %v", copied, volSize, bytes.Equal(contents(t, s), contents(t, b.store)))
	}
	w := md.written()
	if len(w) != streams {
		t.Fatalf("%d connections opened, want %d", len(w), streams)
	}
	for i, n := range w {
		// Turns: each stream gets a third of the chunks.
		if n < volSize/streams-chunk {
			t.Errorf("stream %d carried %d bytes of a %d-byte resync: %v", i, n, volSize, w)
		}
	}

	// Nothing dirty: the replica's connection alone.
	b.stop()
	s.WriteAt(ctx, []byte("y"), 0, false)
	b.serve(t)
	md2 := &meteredDial{ReplicaAddr: b.addr(), failAt: -1}
	bm.Clear(0, volSize)
	if _, err := s.Resync(ctx, ResyncOptions{Replica: md2.addr(), Bitmap: bm, Streams: streams,
		BackInSync: func(string) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if n := len(md2.written()); n != 1 {
		t.Errorf("a resync with nothing to copy opened %d connections, want 1", n)
	}
}

// TestResync_BrokenStreamEndsResync: when one of a resync's extra
// streams breaks, the resync fails, the replica is out of sync again
// with what was not copied still in its bitmap, and a later resync
// finishes the copy.
func TestResync_BrokenStreamEndsResync(t *testing.T) {
	b, bm, s := wipedReplica(t, 0x3c)
	const chunk = 256 << 10
	md := &meteredDial{ReplicaAddr: b.addr(), failAt: 1, failAfter: 2 * chunk}
	copied, err := s.Resync(ctx, ResyncOptions{Replica: md.addr(), Bitmap: bm, Chunk: chunk, Streams: 2,
		BackInSync: func(string) error { t.Error("back in sync after a broken stream"); return nil }})
	if err == nil {
		t.Fatal("a resync with a broken stream succeeded")
	}
	if copied >= volSize || bm.DirtyBytes() == 0 || bm.DirtyBytes() > volSize-copied {
		t.Fatalf("copied %d, %d left dirty, of %d", copied, bm.DirtyBytes(), volSize)
	}
	if got := s.InSync(); len(got) != 0 {
		t.Fatalf("in sync after a failed resync: %v", got)
	}
	copied2, err := s.Resync(ctx, ResyncOptions{Replica: b.addr(), Bitmap: bm, Chunk: chunk,
		BackInSync: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if copied+copied2 < volSize || !bytes.Equal(contents(t, s), contents(t, b.store)) {
		t.Fatalf("after the second resync: copied %d+%d of %d; identical %v", copied, copied2, volSize, bytes.Equal(contents(t, s), contents(t, b.store)))
	}
}
