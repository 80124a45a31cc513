package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/halun/halun/internal/cluster/pki"
)

// Default raft timing of a member, suitable for a LAN: half of etcd's
// own defaults, so that an election after the leader is lost ends within
// a second — before a primary's lease deadline, which is counted from
// its last keep-alive and cannot be renewed without a leader (see
// Lease). Over a slower network raise both, keeping the election timeout
// at least 5 heartbeats (etcd suggests 10), and the lease TTL with them.
const (
	DefaultHeartbeatInterval = 50 * time.Millisecond
	DefaultElectionTimeout   = 500 * time.Millisecond
)

// MemberConfig describes one embedded etcd member (a voter).
type MemberConfig struct {
	// Name is the member's name, the node's name.
	Name string
	// DataDir holds the member's log and database. A member started
	// again on the same DataDir rejoins the cluster it was part of.
	DataDir string
	// PeerURL and ClientURL are https://host:port: the member listens
	// on them and advertises them. Their hosts must be in the node
	// certificate's SANs (pki Hosts).
	PeerURL, ClientURL string
	// InitialCluster maps every voter's name to its peer URL, this
	// member included. It is used only the first time a member starts
	// on an empty DataDir.
	InitialCluster map[string]string
	// TLSDir is the node's pki directory (ca.crt, node.crt, node.key).
	TLSDir string
	// HeartbeatInterval and ElectionTimeout tune raft; 0 means
	// DefaultHeartbeatInterval and DefaultElectionTimeout (a LAN).
	// Both are whole milliseconds; the election timeout must be at
	// least 5 heartbeats. etcd's minimum lease TTL is 1.5 election
	// timeouts, rounded up to whole seconds.
	HeartbeatInterval, ElectionTimeout time.Duration
	// Log receives the member's records; nil discards them. etcd's own
	// logs arrive only at error level unless DebugEnv is set.
	Log *slog.Logger
}

// Member is a running embedded etcd member.
type Member struct {
	name      string
	clientURL string
	etcd      *embed.Etcd
	log       *slog.Logger
	closeOnce sync.Once
}

// StartMember starts an etcd member and waits until it has joined its
// cluster and serves clients — which needs a quorum of the voters, so
// the members of a new cluster must be started concurrently — or until
// ctx ends, in which case the member is stopped again.
func StartMember(ctx context.Context, cfg MemberConfig) (*Member, error) {
	ec, err := embedConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %s: %w", cfg.Name, err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("member", cfg.Name)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start etcd member %s: %w", cfg.Name, err)
	}
	m := &Member{name: cfg.Name, clientURL: cfg.ClientURL, etcd: e, log: log}
	select {
	case <-e.Server.ReadyNotify():
		log.Info("etcd member ready", "peer_url", cfg.PeerURL, "client_url", cfg.ClientURL,
			"id", fmt.Sprintf("%x", uint64(e.Server.MemberID())))
		return m, nil
	case err := <-e.Err():
		m.Close()
		return nil, fmt.Errorf("start etcd member %s: %w", cfg.Name, err)
	case <-e.Server.StopNotify():
		m.Close()
		return nil, fmt.Errorf("start etcd member %s: the server stopped before it was ready", cfg.Name)
	case <-ctx.Done():
		m.Close()
		return nil, fmt.Errorf("start etcd member %s: not ready (no quorum yet?): %w", cfg.Name, ctx.Err())
	}
}

// embedConfig translates cfg into etcd's configuration, checking it.
func embedConfig(cfg MemberConfig) (*embed.Config, error) {
	if cfg.Name == "" || cfg.DataDir == "" || cfg.TLSDir == "" {
		return nil, errors.New("name, data dir and TLS dir are required")
	}
	id, err := pki.Load(cfg.TLSDir)
	if err != nil {
		return nil, err
	}
	peer, err := parseHTTPS("peer URL", cfg.PeerURL)
	if err != nil {
		return nil, err
	}
	client, err := parseHTTPS("client URL", cfg.ClientURL)
	if err != nil {
		return nil, err
	}
	if got, ok := cfg.InitialCluster[cfg.Name]; !ok || got != cfg.PeerURL {
		return nil, fmt.Errorf("initial cluster must map %s to its peer URL %s", cfg.Name, cfg.PeerURL)
	}
	names := make([]string, 0, len(cfg.InitialCluster))
	for n := range cfg.InitialCluster {
		names = append(names, n)
	}
	slices.Sort(names)
	var initial []string
	for _, n := range names {
		if _, err := parseHTTPS("peer URL of "+n, cfg.InitialCluster[n]); err != nil {
			return nil, err
		}
		initial = append(initial, n+"="+cfg.InitialCluster[n])
	}
	hb, el := cfg.HeartbeatInterval, cfg.ElectionTimeout
	if hb == 0 {
		hb = DefaultHeartbeatInterval
	}
	if el == 0 {
		el = DefaultElectionTimeout
	}
	if hb < time.Millisecond || hb%time.Millisecond != 0 || el%time.Millisecond != 0 {
		return nil, fmt.Errorf("heartbeat %v and election timeout %v must be whole milliseconds", hb, el)
	}
	if el < 5*hb {
		return nil, fmt.Errorf("election timeout %v must be at least 5 heartbeats (%v)", el, hb)
	}

	ec := embed.NewConfig()
	ec.Name = cfg.Name
	ec.Dir = cfg.DataDir
	ec.ListenPeerUrls = []url.URL{*peer}
	ec.AdvertisePeerUrls = []url.URL{*peer}
	ec.ListenClientUrls = []url.URL{*client}
	ec.AdvertiseClientUrls = []url.URL{*client}
	ec.InitialCluster = strings.Join(initial, ",")
	ec.ClusterState = embed.ClusterStateFlagNew
	// The token keeps members of different clusters from joining each
	// other by mistake; the CA does too.
	ec.InitialClusterToken = "halun-" + id.Cluster
	ec.TickMs = uint(hb / time.Millisecond)
	ec.ElectionMs = uint(el / time.Millisecond)
	// Volume records change rarely; keep an hour of history for watches.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"

	certFile := filepath.Join(cfg.TLSDir, pki.NodeCertFile)
	keyFile := filepath.Join(cfg.TLSDir, pki.NodeKeyFile)
	caFile := filepath.Join(cfg.TLSDir, pki.CACertFile)
	ec.ClientTLSInfo.CertFile = certFile
	ec.ClientTLSInfo.KeyFile = keyFile
	ec.ClientTLSInfo.TrustedCAFile = caFile
	ec.ClientTLSInfo.ClientCertAuth = true
	ec.PeerTLSInfo.CertFile = certFile
	ec.PeerTLSInfo.KeyFile = keyFile
	ec.PeerTLSInfo.TrustedCAFile = caFile
	ec.PeerTLSInfo.ClientCertAuth = true
	// A peer is known by its certificate from the cluster CA, not by the
	// address it connects from: on one machine every loopback
	// connection comes from 127.0.0.1, and a node with several addresses
	// may dial from any of them. etcd would otherwise refuse a peer whose
	// source address is not in its certificate.
	ec.PeerTLSInfo.SkipClientSANVerify = true
	// pki's links are TLS 1.3 only; etcd's are too.
	ec.TlsMinVersion = "TLS1.3"

	ec.Logger = "zap"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zapToSlog(cfg.Log, "etcd"))
	return ec, nil
}

func parseHTTPS(what, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, s, err)
	}
	if u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%s %q is not https://host:port", what, s)
	}
	return u, nil
}

// Name is the member's name.
func (m *Member) Name() string { return m.name }

// ClientURL is the URL clients reach the member at.
func (m *Member) ClientURL() string { return m.clientURL }

// IsLeader reports whether the member leads the etcd cluster now, by its
// own view (no request).
func (m *Member) IsLeader() bool {
	srv := m.etcd.Server
	return srv.Leader() != 0 && srv.Leader() == srv.MemberID()
}

// Err reports an error that stopped the member while it ran; it is
// closed once the member has stopped.
func (m *Member) Err() <-chan error { return m.etcd.Err() }

// Close stops the member and waits until it has. It may be called more
// than once.
func (m *Member) Close() {
	m.closeOnce.Do(func() {
		m.etcd.Close()
		m.log.Info("etcd member stopped")
	})
}
