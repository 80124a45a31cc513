package coord

import (
	"net"
	"testing"
	"time"
)

// TestLeaderTo_MovesTheLeadershipToTheWitness: only the leader's own
// client moves it; afterwards the witness leads, and asking again moves
// nothing.
func TestLeaderTo_MovesTheLeadershipToTheWitness(t *testing.T) {
	c := newCluster(t, "a", "b", "w")
	ctx := ctxFor(t, 30*time.Second)
	clients := map[string]*Client{}
	for _, n := range []string{"a", "b", "w"} {
		clients[n] = c.dial(n, n)
	}
	leader := func() string {
		t.Helper()
		for n, cl := range clients {
			st, err := cl.etcd.Status(ctx, c.cfgs[n].ClientURL)
			if err != nil {
				t.Fatal(err)
			}
			if st.Leader == st.Header.MemberId {
				return n
			}
		}
		return ""
	}
	var lead string
	for deadline := time.Now().Add(10 * time.Second); lead == "" && time.Now().Before(deadline); {
		lead = leader()
		time.Sleep(50 * time.Millisecond)
	}
	if lead == "" {
		t.Fatal("no leader")
	}
	if lead == "w" {
		// Make a storage member lead first, to move it back.
		if _, err := clients["w"].LeaderTo(ctx, c.cfgs["w"].ClientURL, "a"); err != nil {
			t.Fatal(err)
		}
		lead = "a"
	}
	for n := range clients {
		if n == lead {
			continue
		}
		if moved, err := clients[n].LeaderTo(ctx, c.cfgs[n].ClientURL, "w"); err != nil || moved {
			t.Fatalf("LeaderTo from non-leader %s: moved %v, err %v; want nothing", n, moved, err)
		}
	}
	moved, err := clients[lead].LeaderTo(ctx, c.cfgs[lead].ClientURL, "w")
	if err != nil || !moved {
		t.Fatalf("LeaderTo from the leader %s: moved %v, err %v", lead, moved, err)
	}
	if got := leader(); got != "w" {
		t.Fatalf("leader after the move: %s, want w", got)
	}
	// LeaderName names it, also when the first endpoint asked is a
	// member that does not answer (a dead node's): halun cluster status
	// must not wait for it.
	dead := "https://127.0.0.1:1"
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil { // accepts, never answers
		defer ln.Close()
		dead = "https://" + ln.Addr().String()
	}
	// (Asked in turn, the silent one would have held the others back
	// until ctx ran out, and no name would come.)
	name, err := clients["a"].LeaderName(ctx, []string{dead, c.cfgs["b"].ClientURL})
	if err != nil || name != "w" {
		t.Fatalf("LeaderName: %q, %v; want w", name, err)
	}
	if moved, err := clients["w"].LeaderTo(ctx, c.cfgs["w"].ClientURL, "w"); err != nil || moved {
		t.Fatalf("LeaderTo the leader itself: moved %v, err %v", moved, err)
	}
}

// TestHealthy_SilentMemberIsNotHealthy: a member that accepts
// connections but does not answer (one starting up) is reported not
// healthy after memberProbeTimeout, not after the caller's deadline —
// halun cluster status asks the witness this way and must not hang on
// it; a member that serves is healthy.
func TestHealthy_SilentMemberIsNotHealthy(t *testing.T) {
	c := newCluster(t, "a")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 60*time.Second)
	if !cl.Healthy(ctx, c.cfgs["a"].ClientURL) {
		t.Fatal("a serving member reported not healthy")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := make(chan bool, 1)
	go func() { answer <- cl.Healthy(ctx, "https://"+ln.Addr().String()) }()
	select {
	case ok := <-answer:
		if ok {
			t.Fatal("a silent member reported healthy")
		}
	case <-time.After(20 * memberProbeTimeout):
		t.Fatal("asking a silent member held the caller far beyond the member probe's bound")
	}
}
