package cluster_test

import (
	"bytes"
	"testing"
)

// TestExternalEtcd_Failover: with cluster.etcd_endpoints the nodes embed
// no etcd member and coordinate through a separate three-member etcd
// cluster, the path for sites larger than three machines; a crashed
// primary is replaced as with the embedded members, and every
// acknowledged write reads back through the node that took over.
func TestExternalEtcd_Failover(t *testing.T) {
	nodes, mp, ctx := startCluster(t, setup{external: true})
	acked := map[uint64]byte{}
	for i := uint64(0); i < 16; i++ {
		if err := mp.Write(ctx, i*8, bytes.Repeat([]byte{byte(i + 1)}, 4096), 512); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		acked[i*8] = byte(i + 1)
	}
	primary, other := primaryOf(nodes)
	if primary == nil || other == nil {
		t.Fatal("no single primary")
	}
	primary.cl.Crash()
	primary.srv.Stop()
	for i := uint64(16); i < 24; i++ {
		if err := mp.Write(ctx, i*8, bytes.Repeat([]byte{byte(i + 1)}, 4096), 512); err != nil {
			t.Fatalf("write %d after the crash: %v", i, err)
		}
		acked[i*8] = byte(i + 1)
	}
	if !other.cl.Primary("v") {
		t.Fatalf("%s is not primary after the failover", other.name)
	}
	for lba, fill := range acked {
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{fill}, 4096)) {
			t.Fatalf("acknowledged write at %d lost (%v)", lba, err)
		}
	}
}
