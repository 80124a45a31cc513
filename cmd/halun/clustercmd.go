package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/cluster"
	"github.com/halun/halun/internal/cluster/pki"
	"github.com/halun/halun/internal/config"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create the certificates of a halun cluster (its CA and one per node)",
		Long: `Every link of a halun cluster — etcd peer and client traffic, replication
between storage nodes — is mutual TLS with certificates of the cluster's own
CA, so a process without a node certificate can neither write a replica nor
change cluster state. Create them once, on an admin machine:

  halun cluster init --name prod --dir ./prod-pki a=10.0.0.1 b=10.0.0.2 --witness w=10.0.0.3
  halun cluster add-node --name prod --dir ./prod-pki c=10.0.0.4,c.example.net

then copy DIR/<node> to each node as <data_dir>/tls. DIR/ca.key signs node
certificates: keep it off the nodes, and keep it, add-node needs it.

Names are DNS labels (lower-case letters, digits, '-'). HOSTs are the IP
addresses and DNS names a node is reached at; they go into its certificate
exactly as given (no 127.0.0.1 is added). Nodes are storage nodes unless
given with --witness.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		clusterPKICmd("init --name CLUSTER --dir DIR NODE=HOST[,HOST...]... [--witness NAME=HOST[,HOST...]]...",
			"Create a cluster CA and a certificate for each node",
			`Create DIR (0700) with the cluster CA (ca.crt, ca.key) and, for each node,
DIR/<node>/ with node.crt, node.key and a copy of ca.crt. Refuses a DIR that
already holds a CA: add nodes to it with 'halun cluster add-node'.`,
			true, pki.Init),
		clusterPKICmd("add-node --name CLUSTER --dir DIR NODE=HOST[,HOST...]... [--witness NAME=HOST[,HOST...]]...",
			"Sign certificates for new nodes with the existing cluster CA in DIR",
			`Sign certificates for nodes joining the cluster with the CA in DIR (written
by 'halun cluster init'), writing DIR/<node>/ for each. Refuses a node that
already has a directory with a key or certificate.`,
			false, pki.AddNodes),
		newClusterStatusCmd(),
		newClusterPromoteCmd(),
		newClusterDrainCmd(),
		newClusterDiscardCmd(),
	)
	return cmd
}

func newClusterStatusCmd() *cobra.Command {
	var cfgPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --config FILE [--json]",
		Short: "Show the cluster's nodes and every replicated volume's primary, epoch and in-sync replicas",
		Long: `Read the cluster's state from etcd with the certificates of the node whose
config FILE is (any node of the cluster answers): which nodes hold a live
lease, and for every replicated volume its primary, epoch, in-sync replicas,
the replicas out of sync (being resynced, or away), the progress of each
resync as its primary records it every half second: percent copied, rate
and time left (e.g. "b: resync 42% 85 MiB/s ETA 3s"); DIVERGED are those
whose copies the primary refused to resync because they may hold
acknowledged writes it lacks (see 'halun cluster discard').`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageError{fmt.Errorf("cluster status: --config is required")}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := cluster.ReadStatus(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintf(tw, "CLUSTER %s\n\nNODE\tROLE\tLEASE\tETCD\n", st.Cluster)
			for _, n := range st.Nodes {
				alive := "alive"
				if !n.Alive {
					alive = "lost"
				}
				etcd := "-"
				if n.EtcdLeader {
					etcd = "leader"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.Role, alive, etcd)
			}
			fmt.Fprintln(tw, "\nVOLUME\tPRIMARY\tEPOCH\tIN SYNC\tOUT OF SYNC\tDIVERGED\tRESYNC")
			for _, v := range st.Volumes {
				resyncs := make([]string, len(v.Resyncs))
				for i, r := range v.Resyncs {
					resyncs[i] = r.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Name, orDash(v.Primary), v.Epoch, orDash(strings.Join(v.InSync, ",")),
					orDash(strings.Join(v.OutOfSync, ",")), orDash(strings.Join(v.Diverged, ",")), orDash(strings.Join(resyncs, "; ")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "a cluster node's config `file`")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// clusterPKICmd is init or add-node: they take the same arguments and
// differ in what they do with them.
func clusterPKICmd(use, short, long string, newCA bool, do func(dir, cluster string, nodes []pki.Node) error) *cobra.Command {
	var name, dir string
	var witnesses []string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  argsUsage(cobra.ArbitraryArgs),
	}
	sub := strings.Fields(use)[0]
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		nodes, err := clusterNodes(args, witnesses)
		if err != nil {
			return usageError{fmt.Errorf("cluster %s: %w", sub, err)}
		}
		switch {
		case name == "":
			return usageError{fmt.Errorf("cluster %s: --name is required", sub)}
		case dir == "":
			return usageError{fmt.Errorf("cluster %s: --dir is required", sub)}
		case newCA && len(args) == 0:
			return usageError{fmt.Errorf("cluster %s: give at least one storage node as NODE=HOST[,HOST...]", sub)}
		}
		if err := pki.CheckNodes(name, nodes); err != nil {
			return usageError{fmt.Errorf("cluster %s: %w", sub, err)}
		}
		if err := do(dir, name, nodes); err != nil {
			return err
		}
		printWritten(cmd.OutOrStdout(), dir, name, nodes, newCA)
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "cluster `name` (a DNS label, in every certificate)")
	f.StringVar(&dir, "dir", "", "`directory` of the cluster CA and the node directories")
	f.StringArrayVar(&witnesses, "witness", nil, "a witness node (etcd member without volumes), `NAME=HOST[,HOST...]`; repeatable")
	return cmd
}

// clusterNodes parses storage nodes from args and witnesses, each
// NAME=HOST[,HOST...].
func clusterNodes(args, witnesses []string) ([]pki.Node, error) {
	var nodes []pki.Node
	for _, group := range []struct {
		role pki.Role
		args []string
	}{{pki.RoleStorage, args}, {pki.RoleWitness, witnesses}} {
		for _, a := range group.args {
			name, hosts, ok := strings.Cut(a, "=")
			if !ok || name == "" || hosts == "" {
				return nil, fmt.Errorf("%q: want NAME=HOST[,HOST...]", a)
			}
			n := pki.Node{Name: name, Role: group.role}
			for _, h := range strings.Split(hosts, ",") {
				if h == "" {
					return nil, fmt.Errorf("%q: empty host", a)
				}
				n.Hosts = append(n.Hosts, h)
			}
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

// printWritten says what was written and what to do next.
func printWritten(w io.Writer, dir, cluster string, nodes []pki.Node, newCA bool) {
	if newCA {
		fmt.Fprintf(w, "wrote %s: cluster %s CA certificate\n", filepath.Join(dir, pki.CACertFile), cluster)
		fmt.Fprintf(w, "wrote %s: cluster CA key (0600): keep it off the nodes; add-node needs it\n",
			filepath.Join(dir, pki.CAKeyFile))
	}
	for _, n := range nodes {
		fmt.Fprintf(w, "wrote %s/{%s,%s,%s}: %s node %s, %s, hosts %s\n", filepath.Join(dir, n.Name),
			pki.NodeCertFile, pki.NodeKeyFile, pki.CACertFile, n.Role, n.Name,
			pki.NodeURI(cluster, n.Role, n.Name), strings.Join(n.Hosts, ", "))
	}
	each := make([]string, len(nodes))
	for i, n := range nodes {
		each[i] = filepath.Join(dir, n.Name) + " to " + n.Name
	}
	fmt.Fprintf(w, "Next: copy %s to each node as <data_dir>/tls (%s).\n",
		filepath.Join(dir, "<node>"), strings.Join(each, ", "))
}

func newClusterPromoteCmd() *cobra.Command {
	var cfgPath string
	var force bool
	cmd := &cobra.Command{
		Use:   "promote --config FILE VOLUME NODE [--force]",
		Short: "Move a volume's primary to NODE (planned switchover), or force it (disaster recovery)",
		Long: `Move VOLUME's primary to NODE, which must be in sync: the current primary
stops taking commands, syncs, and hands the volume over; a multipath
initiator retries its commands on NODE's path without seeing an error.

With --force, NODE becomes primary at once even if it is out of sync — for
disaster recovery when no in-sync node is left. Every write NODE missed is
lost, and the other replicas are resynced from it.`,
		Args: argsUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgPath == "" {
				return usageError{fmt.Errorf("cluster promote: --config is required")}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := cluster.Promote(ctx, cfg, args[0], args[1], force); err != nil {
				return err
			}
			if force {
				fmt.Fprintf(cmd.ErrOrStderr(), "cluster promote: %s is primary of %s (forced: writes it missed are lost)\n", args[1], args[0])
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "cluster promote: switchover of %s to %s requested; see halun cluster status\n", args[0], args[1])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "a cluster node's config `file`")
	cmd.Flags().BoolVar(&force, "force", false, "make NODE primary even if out of sync (loses the writes it missed)")
	return cmd
}

func newClusterDrainCmd() *cobra.Command {
	var cfgPath string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain --config FILE NODE [--timeout 30s]",
		Short: "Move every volume whose primary is NODE to another in-sync node (planned switchovers)",
		Long: `Move every volume whose primary is NODE to another in-sync replica holding a
live lease — the one that is primary of the fewest volumes — by planned
switchovers (see 'halun cluster promote'; a multipath initiator sees no
error), and wait until every volume's record names its new primary.

A volume with no other in-sync replica alive is not moved; drain then exits
non-zero, as it does when a switchover is not done within --timeout (the
request stays: the primary hands the volume over when it can). Nothing moves
the volumes back: NODE stays a replica, and becomes primary again only by
'halun cluster promote' or if a volume's new primary fails.`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgPath == "" {
				return usageError{fmt.Errorf("cluster drain: --config is required")}
			}
			if timeout <= 0 {
				return usageError{fmt.Errorf("cluster drain: --timeout must be positive")}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			results, err := cluster.Drain(ctx, cfg, args[0])
			w := cmd.OutOrStdout()
			if err == nil && len(results) == 0 {
				fmt.Fprintf(w, "%s is primary of no volume\n", args[0])
			}
			for _, r := range results {
				if r.Moved {
					fmt.Fprintf(w, "%s: %s -> %s\n", r.Volume, args[0], r.Primary)
				} else {
					fmt.Fprintf(w, "%s: not moved: %s\n", r.Volume, r.Problem)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "a cluster node's config `file`")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the switchovers")
	return cmd
}

func newClusterDiscardCmd() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "discard --config FILE VOLUME NODE",
		Short: "Let VOLUME's primary overwrite NODE's diverged copy with a full resync",
		Long: `Tell VOLUME's primary to overwrite NODE's copy with a full resync, whatever it
holds. A primary refuses to resync a copy that may hold acknowledged writes
it lacks — one last written before a forced promotion, or another volume's
copy — and halun cluster status lists it as DIVERGED; nothing is written to
it until an operator decides. Save what only that copy holds first, if it
matters: discarding loses it.`,
		Args: argsUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgPath == "" {
				return usageError{fmt.Errorf("cluster discard: --config is required")}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := cluster.Discard(ctx, cfg, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "cluster discard: the primary of %s overwrites %s's copy with a full resync; see halun cluster status\n", args[0], args[1])
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "a cluster node's config `file`")
	return cmd
}
