package coord

import (
	"context"
	"crypto/tls"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/halun/halun/internal/cluster/pki"
)

func wantState(t *testing.T, what string, got VolumeState, primary string, epoch uint64, inSync []string) {
	t.Helper()
	if got.Primary != primary || got.Epoch != epoch || !slices.Equal(got.InSync, inSync) {
		t.Fatalf("%s: state %+v, want primary %q epoch %d in_sync %v", what, got, primary, epoch, inSync)
	}
}

func TestClusterThreeMembersServeClientsThroughAnyEndpoint(t *testing.T) {
	c := newCluster(t, "a", "b", "w")
	ctx := ctxFor(t, 20*time.Second)
	if _, err := c.dial("a", "a").CreateVolume(ctx, "v1", []string{"a", "b"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"a", "b", "w"} {
		cl := c.dial(via, via)
		s, rev, err := cl.Volume(ctx, "v1")
		if err != nil {
			t.Fatalf("read through %s: %v", via, err)
		}
		wantState(t, "read through "+via, s, "", 0, []string{"a", "b"})
		if rev == 0 {
			t.Fatalf("read through %s: mod revision 0", via)
		}
		// Writes through every member, too.
		if _, err := cl.CreateVolume(ctx, "by-"+via, []string{"a"}, nil); err != nil {
			t.Fatalf("write through %s: %v", via, err)
		}
	}
	all := c.dial("a", "a", "b", "w")
	for _, v := range []string{"by-a", "by-b", "by-w"} {
		if _, _, err := all.Volume(ctx, v); err != nil {
			t.Fatalf("read %s written through another member: %v", v, err)
		}
	}

	// Closing the members logs no shutdown noise (etcd's "mux: server
	// closed" errors) and nothing else at error level.
	for _, n := range []string{"a", "b", "w"} {
		c.stop(n)
	}
	for _, r := range c.logs.all() {
		if strings.Contains(r, "server closed") || strings.Contains(r, " ERROR ") {
			t.Errorf("log after closing the members: %s", r)
		}
	}
}

func TestClusterRefusesClientsWithoutAClusterCertificate(t *testing.T) {
	c := newCluster(t, "a")
	addr := strings.TrimPrefix(c.cfgs["a"].ClientURL, "https://")
	ours := c.identity("a")

	// Another cluster, whose node a has the same host.
	otherDir := filepath.Join(t.TempDir(), "other")
	if err := pki.Init(otherDir, "other", []pki.Node{{Name: "a", Role: pki.RoleStorage, Hosts: []string{"127.0.0.1"}}}); err != nil {
		t.Fatal(err)
	}
	theirs, err := pki.Load(filepath.Join(otherDir, "a"))
	if err != nil {
		t.Fatal(err)
	}

	// The handshake itself: the server refuses a client without a
	// certificate and one with another cluster's.
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		want  string
	}{
		{"no certificate", nil, "certificate required"},
		{"another cluster's certificate", []tls.Certificate{theirs.Cert}, "unknown certificate authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Present the certificate even though the server's list of
			// acceptable CAs does not name its issuer.
			cfg := &tls.Config{RootCAs: ours.CA, ServerName: "127.0.0.1", NextProtos: []string{"h2"},
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if len(tc.certs) == 0 {
						return &tls.Certificate{}, nil
					}
					return &tc.certs[0], nil
				}}
			conn, err := tls.Dial("tcp", addr, cfg)
			if err == nil {
				// TLS 1.3: the server judges the client's certificate
				// after the client's side of the handshake is done.
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				conn.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %v, want %q", err, tc.want)
			}

			// And through an etcd client: neither reads nor writes.
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: time.Second,
				TLS:    cfg,
				Logger: zapToSlog(nil, "test")})
			if err != nil {
				return // refused at once: fine
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, "/halun/v1/volumes/x", "{}"); err == nil {
				t.Fatal("a client without a cluster certificate wrote")
			}
			if _, err := cli.Get(ctx, "/halun/v1/volumes/x"); err == nil {
				t.Fatal("a client without a cluster certificate read")
			}
		})
	}

	// Dial with another cluster's identity fails: the client refuses the
	// server's certificate and the server the client's.
	ctx := ctxFor(t, 2*time.Second)
	if cl, err := Dial(ctx, c.endpoints("a"), theirs); err == nil {
		cl.Close()
		t.Fatal("Dial with another cluster's identity succeeded")
	}
	// While our own identity works.
	if _, _, err := c.dial("a", "a").Volume(ctxFor(t, 5*time.Second), "x"); !errors.Is(err, ErrNoVolume) {
		t.Fatalf("read with our identity: %v, want ErrNoVolume", err)
	}
}

func TestClusterPromoteNeedsInSyncAndADeadPrimary(t *testing.T) {
	c := newCluster(t, "a")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 20*time.Second)

	s, err := cl.CreateVolume(ctx, "v1", []string{"a", "b"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "created", s, "", 0, []string{"a", "b"})
	s, err = cl.CreateVolume(ctx, "v1", []string{"b", "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "created again", s, "", 0, []string{"a", "b"})
	if _, err = cl.CreateVolume(ctx, "v1", []string{"c"}, nil); !errors.Is(err, ErrDefinition) {
		t.Fatalf("created again on other replicas: %v, want ErrDefinition", err)
	}

	leaseA := keepAlive(t, cl, "a")
	s, err = cl.Promote(ctx, "v1", "a")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "a promoted", s, "a", 1, []string{"a", "b"})

	// An out-of-sync replica cannot promote.
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Promote(ctx, "v1", "b"); !errors.Is(err, ErrNotInSync) {
		t.Fatalf("promote out-of-sync b: %v, want ErrNotInSync", err)
	}
	if _, err := cl.Promote(ctx, "v1", "w"); !errors.Is(err, ErrNotInSync) {
		t.Fatalf("promote non-replica w: %v, want ErrNotInSync", err)
	}

	// Back in sync, b still cannot promote while a's lease is alive.
	if err := cl.BackInSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Promote(ctx, "v1", "b"); !errors.Is(err, ErrPrimaryAlive) {
		t.Fatalf("promote b while a is alive: %v, want ErrPrimaryAlive", err)
	}
	s, _, err = cl.Volume(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "after refused promotions", s, "a", 1, []string{"a", "b"})

	// Once a's lease is revoked, b promotes and the epoch goes up; a,
	// which may hold writes it never acknowledged, leaves the in-sync
	// set in the same transaction.
	if err := leaseA.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leaseA.Lost():
	default:
		t.Fatal("Lost not closed after Close")
	}
	s, err = cl.Promote(ctx, "v1", "b")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "b promoted", s, "b", 2, []string{"b"})

	// The primary promoting itself again takes a new epoch.
	keepAlive(t, cl, "b")
	s, err = cl.Promote(ctx, "v1", "b")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "b promoted again", s, "b", 3, []string{"b"})

	// Disaster recovery: a, out of sync, is forced; only a is in sync.
	if err := cl.OutOfSync(ctx, "v1", "b", 3, "a"); err != nil {
		t.Fatal(err)
	}
	s, err = cl.ForcePromote(ctx, "v1", "a")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "a forced", s, "a", 4, []string{"a"})
	if _, err := cl.ForcePromote(ctx, "v1", "w"); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("force non-replica w: %v, want ErrNotReplica", err)
	}
	if _, err := cl.Promote(ctx, "nope", "a"); !errors.Is(err, ErrNoVolume) {
		t.Fatalf("promote on a missing volume: %v, want ErrNoVolume", err)
	}
}

func TestClusterConcurrentPromotionsExactlyOneWins(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxFor(t, 30*time.Second)
	clients := map[string]*Client{"a": c.dial("a", "a"), "b": c.dial("b", "a")}
	keepAlive(t, clients["a"], "a")
	keepAlive(t, clients["b"], "b")
	for i := range 10 {
		v := "v" + string(rune('0'+i))
		if _, err := clients["a"].CreateVolume(ctx, v, []string{"a", "b"}, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := map[string]error{}
		var mu sync.Mutex
		for _, n := range []string{"a", "b"} {
			wg.Go(func() {
				<-start
				_, err := clients[n].Promote(ctx, v, n)
				mu.Lock()
				errs[n] = err
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		var winner string
		for n, err := range errs {
			switch {
			case err == nil:
				if winner != "" {
					t.Fatalf("%s: both a and b were promoted", v)
				}
				winner = n
			case !errors.Is(err, ErrConflict) && !errors.Is(err, ErrPrimaryAlive):
				t.Fatalf("%s: promote %s: %v, want ErrConflict or ErrPrimaryAlive", v, n, err)
			}
		}
		if winner == "" {
			t.Fatalf("%s: neither a nor b was promoted: %v", v, errs)
		}
		s, _, err := clients["a"].Volume(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		wantState(t, v, s, winner, 1, []string{"a", "b"})
	}
}

func TestClusterOutOfSyncIsGuardedByPrimaryAndEpoch(t *testing.T) {
	c := newCluster(t, "a")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 20*time.Second)
	// Watched before it exists, the volume is seen from its creation.
	watch := cl.WatchVolume(ctx, "v1")
	next := func(what string) VolumeState {
		t.Helper()
		select {
		case s := <-watch:
			return s
		case <-time.After(5 * time.Second):
			t.Fatalf("watch: no %s within 5 s", what)
			return VolumeState{}
		}
	}
	if _, err := cl.CreateVolume(ctx, "v1", []string{"a", "b", "c"}, nil); err != nil {
		t.Fatal(err)
	}
	keepAlive(t, cl, "a")
	if _, err := cl.Promote(ctx, "v1", "a"); err != nil {
		t.Fatal(err)
	}
	wantState(t, "watch: created", next("creation"), "", 0, []string{"a", "b", "c"})
	wantState(t, "watch: promoted", next("promotion"), "a", 1, []string{"a", "b", "c"})

	if err := cl.OutOfSync(ctx, "v1", "a", 0, "b"); !errors.Is(err, ErrFenced) {
		t.Fatalf("out of sync with a stale epoch: %v, want ErrFenced", err)
	}
	if err := cl.OutOfSync(ctx, "v1", "c", 1, "b"); !errors.Is(err, ErrFenced) {
		t.Fatalf("out of sync by a wrong primary: %v, want ErrFenced", err)
	}
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	wantState(t, "watch: b out", next("b out of sync"), "a", 1, []string{"a", "c"})
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatalf("out of sync twice: %v", err)
	}
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "a"); err == nil {
		t.Fatal("the primary marked itself out of sync")
	}
	if err := cl.BackInSync(ctx, "v1", "a", 2, "b"); !errors.Is(err, ErrFenced) {
		t.Fatalf("back in sync with a wrong epoch: %v, want ErrFenced", err)
	}
	if err := cl.BackInSync(ctx, "v1", "a", 1, "x"); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("back in sync of a non-replica: %v, want ErrNotReplica", err)
	}
	if err := cl.BackInSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	wantState(t, "watch: b back", next("b back in sync"), "a", 1, []string{"a", "b", "c"})
	s, _, err := cl.Volume(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "after resync", s, "a", 1, []string{"a", "b", "c"})

	// Concurrent removals by the same primary both land (one retries).
	var wg sync.WaitGroup
	for _, r := range []string{"b", "c"} {
		wg.Go(func() {
			if err := cl.OutOfSync(ctx, "v1", "a", 1, r); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	s, _, err = cl.Volume(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "after concurrent removals", s, "a", 1, []string{"a"})

	// The replication callback: the right primary and epoch remove a
	// replica; a stale epoch is fenced.
	if err := cl.BackInSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}
	if err := cl.OutOfSyncFunc("v1", "a", 0, time.Second)("b", errors.New("replica timed out")); !errors.Is(err, ErrFenced) {
		t.Fatalf("callback with a stale epoch: %v, want ErrFenced", err)
	}
	if err := cl.OutOfSyncFunc("v1", "a", 1, 0)("b", errors.New("replica timed out")); err != nil {
		t.Fatal(err)
	}
	s, _, err = cl.Volume(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "after the callback", s, "a", 1, []string{"a"})
}

func TestClusterRestartedMemberRejoins(t *testing.T) {
	c := newCluster(t, "a", "b", "w")
	ctx := ctxFor(t, 30*time.Second)
	cl := c.dial("a", "a")
	if _, err := cl.CreateVolume(ctx, "v1", []string{"a", "b"}, nil); err != nil {
		t.Fatal(err)
	}
	c.stop("b")
	// a and w are a quorum: the cluster goes on while b is away.
	keepAlive(t, cl, "a")
	if _, err := cl.Promote(ctx, "v1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := cl.OutOfSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatal(err)
	}

	c.start("b")
	viaB := c.dial("b", "b")
	s, _, err := viaB.Volume(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, "read through the restarted b", s, "a", 1, []string{"a"})
	if err := viaB.BackInSync(ctx, "v1", "a", 1, "b"); err != nil {
		t.Fatalf("write through the restarted b: %v", err)
	}
}

func TestClusterWithoutQuorumFailsInBoundedTime(t *testing.T) {
	c := newCluster(t, "a", "b", "w")
	cl := c.dial("a", "a")
	ctx := ctxFor(t, 20*time.Second)
	if _, err := cl.CreateVolume(ctx, "v1", []string{"a", "b"}, nil); err != nil {
		t.Fatal(err)
	}
	lease := keepAlive(t, cl, "a")
	if _, err := cl.Promote(ctx, "v1", "a"); err != nil {
		t.Fatal(err)
	}

	c.stop("b")
	c.stop("w")
	stopped := time.Now()
	lostAt := make(chan time.Time, 1)
	go func() {
		<-lease.Lost()
		lostAt <- time.Now()
	}()

	// The primary's OutOfSync fails at its context's deadline, not
	// later, and is not mistaken for fencing.
	const bound = 2 * time.Second
	start := time.Now()
	err := cl.OutOfSync(ctxFor(t, bound), "v1", "a", 1, "b")
	took := time.Since(start)
	if err == nil || errors.Is(err, ErrFenced) {
		t.Fatalf("out of sync without quorum: %v, want a timeout", err)
	}
	if took > bound+time.Second {
		t.Fatalf("out of sync without quorum took %v, bound %v", took, bound)
	}

	// Without a deadline, DefaultRequestTimeout bounds it.
	start = time.Now()
	if err := cl.BackInSync(context.Background(), "v1", "a", 1, "b"); err == nil {
		t.Fatal("back in sync without quorum succeeded")
	}
	if took := time.Since(start); took > DefaultRequestTimeout+time.Second {
		t.Fatalf("back in sync without a deadline took %v", took)
	}

	// The lease is lost at the node's own deadline: not before (etcd,
	// without quorum, cannot have said it expired), and at most 7/8 TTL
	// after the last keep-alive. That one may follow the quorum's loss
	// by up to an election timeout: a leader renews leases by itself,
	// until it finds it has heard from no quorum for that long and steps
	// down (the majority's new leader extends every lease as it takes
	// over, so etcd expires none earlier).
	select {
	case at := <-lostAt:
		if at.Before(lease.Deadline()) {
			t.Fatalf("lease lost %v before its deadline", lease.Deadline().Sub(at))
		}
		if late := at.Sub(stopped); late > testTTL*7/8+DefaultElectionTimeout+500*time.Millisecond {
			t.Fatalf("lease lost %v after the quorum went away, TTL %v", late, testTTL)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("lease not lost %v after the quorum went away", time.Since(stopped))
	}
}
