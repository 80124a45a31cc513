package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/cluster/coord"
)

func newWitnessCmd() *cobra.Command {
	var name, dataDir, tlsDir, peer, client, logLevel, logFormat string
	var members []string
	cmd := &cobra.Command{
		Use:   "witness --name W --data-dir DIR --tls-dir DIR --peer-url URL --client-url URL --member NAME=PEER_URL...",
		Short: "Run a cluster's witness: an etcd voter that holds no volumes",
		Long: `Run the witness of a halun cluster: an etcd member and nothing else, so that
two storage nodes and the witness make three voters and the cluster keeps a
majority when one machine is lost. It uses the witness certificate that
'halun cluster init --witness' made (its directory as --tls-dir).

  halun witness --name w --data-dir /var/lib/halun-witness --tls-dir /var/lib/halun-witness/tls \
      --peer-url https://10.0.0.3:2380 --client-url https://10.0.0.3:2379 \
      --member a=https://10.0.0.1:2380 --member b=https://10.0.0.2:2380 --member w=https://10.0.0.3:2380

The members are every voter's etcd peer URL, the witness included: the
storage nodes' cluster.nodes[].etcd_peer. Runs until SIGINT or SIGTERM.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(os.Stderr, logLevel, logFormat)
			if err != nil {
				return err
			}
			initial := map[string]string{}
			for _, m := range members {
				k, v, ok := strings.Cut(m, "=")
				if !ok || k == "" || !strings.HasPrefix(v, "https://") {
					return usageError{fmt.Errorf("--member %q: want NAME=https://HOST:PORT", m)}
				}
				initial[k] = v
			}
			if name == "" || dataDir == "" || tlsDir == "" || peer == "" || client == "" {
				return usageError{fmt.Errorf("witness: --name, --data-dir, --tls-dir, --peer-url and --client-url are required")}
			}
			if initial[name] == "" {
				return usageError{fmt.Errorf("witness: --member %s=%s is missing: list every voter, the witness too", name, peer)}
			}
			ctx, stop := shutdownOnSignal(context.Background(), log)
			defer stop()
			log.Info("witness starting: waiting for a quorum", "name", name, "peer_url", peer, "client_url", client)
			m, err := coord.StartMember(ctx, coord.MemberConfig{Name: name, DataDir: dataDir, PeerURL: peer, ClientURL: client,
				InitialCluster: initial, TLSDir: tlsDir, Log: log})
			if err != nil {
				return err
			}
			log.Info("witness serving")
			select {
			case <-ctx.Done():
			case err := <-m.Err():
				log.Error("etcd member failed", "err", err)
			}
			m.Close()
			log.Info("stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the witness's `name` (its certificate's)")
	f.StringVar(&dataDir, "data-dir", "", "`directory` for the etcd member's data")
	f.StringVar(&tlsDir, "tls-dir", "", "the witness's certificate `directory` (ca.crt, node.crt, node.key)")
	f.StringVar(&peer, "peer-url", "", "etcd peer `URL` to listen on, https://HOST:PORT")
	f.StringVar(&client, "client-url", "", "etcd client `URL` to listen on, https://HOST:PORT")
	f.StringArrayVar(&members, "member", nil, "a voter, `NAME=PEER_URL` (repeat for every voter)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", logFormatText, "log `format`: text or json")
	return cmd
}
