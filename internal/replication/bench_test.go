package replication

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/cluster/pki"
)

// BenchmarkWriteAt shows what replication adds to a write: the same
// writes to a plain memory store, and to a primary whose local store is
// a memory store with one in-process replica over loopback TCP, plain and
// with the cluster's mutual TLS. "qd1" writes one at a time (the latency
// of a write); "parallel" has GOMAXPROCS×4 writers at disjoint offsets
// (the pipeline under a queue depth). Both ends run in this process, on
// the same cores, as the two nodes of scripts/bench-ha.sh do.
//
//	go test -run '^$' -bench WriteAt ./internal/replication
func BenchmarkWriteAt(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}} {
		for _, link := range []string{"local", "tcp", "tls"} {
			b.Run(size.name+"/"+link+"/qd1", func(b *testing.B) {
				s := benchStore(b, link)
				p := make([]byte, size.n)
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					off := int64(i*size.n) % volSize
					if err := s.WriteAt(ctx, p, off, false); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, par := range []struct {
				name string
				n    int
			}{{"parallel", 8}, {"qd32", 32}} {
				benchParallel(b, size.name+"/"+link+"/"+par.name, link, size.n, par.n)
			}
		}
	}
}

// benchParallel runs writes of n bytes from writers goroutines at once
// (at least; SetParallelism multiplies by GOMAXPROCS).
func benchParallel(b *testing.B, name, link string, n, writers int) {
	b.Run(name, func(b *testing.B) {
		s := benchStore(b, link)
		var next atomic.Int64
		b.SetBytes(int64(n))
		b.ReportAllocs()
		b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			p := make([]byte, n)
			for pb.Next() {
				// Disjoint offsets while fewer writes are in flight
				// than the volume holds: the range lock never waits.
				off := (next.Add(1) * int64(n)) % volSize
				if err := s.WriteAt(ctx, p, off, false); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// benchStore is a plain memory store ("local"), or a primary with one
// replica over loopback TCP ("tcp") or mutual TLS ("tls").
func benchStore(b *testing.B, link string) backend.Store {
	b.Helper()
	switch link {
	case "local":
		return backend.NewMemory(volSize)
	case "tcp":
		return openPrimary(b, 1, &outLog{}, nil, startReplica(b, "b").addr())
	}
	return openPrimary(b, 1, &outLog{}, nil, tlsReplica(b, backend.NewMemory(volSize)))
}

// tlsReplica serves store as volume "vol1" of replica "b" over mutual
// TLS on loopback, with certificates of a new cluster, and returns how a
// primary reaches it.
func tlsReplica(b *testing.B, store backend.Store) ReplicaAddr {
	b.Helper()
	ida, idb := twoStorageNodes(b)
	addr, _ := serveTLSReplica(b, idb, store)
	cfg := ida.ClientTLS("b", pki.RequireRole(pki.RoleStorage))
	return ReplicaAddr{Name: "b", Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return ClientTLS(ctx, raw, cfg)
	}}
}

// BenchmarkResync is a full resync of a 64 MiB volume over mutual TLS on
// loopback: with one chunk in flight on one connection (depth1, how
// resync copied before it pipelined), with the default depth on one
// connection (stream1, before it used a second), and with the defaults.
// Each iteration takes the replica out of sync, marks the whole bitmap
// and resyncs it; a resync's dials and TLS handshakes are part of it.
//
//	go test -run '^$' -bench Resync ./internal/replication
func BenchmarkResync(b *testing.B) {
	const size = 64 << 20
	for _, c := range []struct {
		name           string
		depth, streams int
	}{{"depth1", 1, 1}, {"stream1", 0, 1}, {"default", 0, 0}} {
		b.Run(c.name, func(b *testing.B) {
			replica := tlsReplica(b, backend.NewMemory(size))
			s, err := Open(ctx, Options{Volume: "vol1", Epoch: 1, Local: backend.NewMemory(size), Replicas: []ReplicaAddr{replica},
				OutOfSync: (&outLog{}).outOfSync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if err := s.WriteAt(ctx, make([]byte, size), 0, false); err != nil { // allocate the memory stores
				b.Fatal(err)
			}
			bm, err := OpenBitmap(filepath.Join(b.TempDir(), "bm"), size)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ResetTimer()
			for b.Loop() {
				if err := s.outOfSync("b", errors.New("benchmark")); err != nil {
					b.Fatal(err)
				}
				if err := bm.SetAll(); err != nil {
					b.Fatal(err)
				}
				copied, err := s.Resync(ctx, ResyncOptions{Replica: replica, Bitmap: bm, Depth: c.depth, Streams: c.streams, BackInSync: func(string) error { return nil }})
				if err != nil || copied != size {
					b.Fatalf("resync copied %d of %d: %v", copied, size, err)
				}
			}
		})
	}
}
