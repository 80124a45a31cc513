package coord

import (
	"testing"
	"time"
)

// crash stops member n as a crash would: its raft node stops without
// handing the leadership to a peer first (Member.Close, a clean stop,
// hands it over), so the others notice only when its heartbeats stop.
func (c *cluster) crash(n string) {
	c.mu.Lock()
	m := c.members[n]
	delete(c.members, n)
	c.mu.Unlock()
	m.etcd.Server.HardStop()
	start := time.Now()
	m.Close()
	c.t.Logf("member %s crashed (closed in %v)", n, time.Since(start).Round(time.Millisecond))
}

// TestLease_OutlivesAnElection: etcd's leader is lost (crashed, no
// hand-over) while a node keeps its lease alive through another member.
// The keep-alives fail until a new leader is elected; the node's lease
// must not be lost meanwhile — its deadline outlasts an election — and
// its key stays. Three times, the leader back each time.
func TestLease_OutlivesAnElection(t *testing.T) {
	c := newCluster(t, "a", "b", "w")
	ctx := ctxFor(t, 2*time.Minute)
	cl := c.dial("a", "a")
	lease := keepAlive(t, cl, "a")
	clients := map[string]*Client{"a": cl, "b": c.dial("b", "b"), "w": c.dial("w", "w")}
	for round := range 3 {
		// w leads (moved there by its leader), then crashes.
		for deadline := time.Now().Add(20 * time.Second); ; {
			lead := ""
			for n, x := range clients {
				if m := c.members[n]; m != nil && m.IsLeader() {
					lead = n
					if _, err := x.LeaderTo(ctx, c.cfgs[n].ClientURL, "w"); err != nil {
						t.Logf("moving the leadership from %s to w: %v", n, err)
					}
				}
			}
			if lead == "w" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: w does not lead (leader %q)", round, lead)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.crash("w")
		crashed := time.Now()
		// An election (at most two election timeouts, then a vote)
		// and a TTL: the lease is kept all along.
		select {
		case <-lease.Lost():
			t.Fatalf("round %d: lease lost %v after the leader crashed", round, time.Since(crashed).Round(time.Millisecond))
		case <-time.After(2*DefaultElectionTimeout + testTTL):
		}
		if ok, err := clients["b"].Alive(ctx, "a"); err != nil || !ok {
			t.Fatalf("round %d: a's key through b: alive %v, %v", round, ok, err)
		}
		if d := time.Until(lease.Deadline()); d < testTTL/2 {
			t.Fatalf("round %d: the lease's deadline is only %v ahead: not renewed since the election", round, d)
		}
		c.start("w")
		clients["w"] = c.dial("w", "w")
	}
}
