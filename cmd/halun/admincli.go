package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
)

// The management commands talk to a running daemon over its admin socket.

// defaultSocket is $HALUN_SOCKET, or the socket in the default data
// directory.
func defaultSocket() string {
	if s := os.Getenv("HALUN_SOCKET"); s != "" {
		return s
	}
	return filepath.Join(config.DefaultDataDir, admin.SocketName)
}

// adminGroup is a command group whose subcommands reach the daemon; it
// owns the --socket flag.
func adminGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  argsUsage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().String("socket", defaultSocket(), "the daemon's admin socket `path` ($HALUN_SOCKET)")
	cmd.AddCommand(subs...)
	return cmd
}

func client(cmd *cobra.Command) *admin.Client {
	s, _ := cmd.Flags().GetString("socket")
	return admin.NewClient(s)
}

func ctxOf(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}

// jsonFlag adds --json to a listing command.
func jsonFlag(cmd *cobra.Command) *bool {
	return cmd.Flags().Bool("json", false, "print the API's JSON")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// printResult reports what a change did.
func printResult(w io.Writer, res *admin.Result) {
	if len(res.Changes) == 0 {
		fmt.Fprintln(w, "nothing changed")
	}
	for _, c := range res.Changes {
		fmt.Fprintln(w, c)
	}
	if res.SessionsEnded > 0 {
		fmt.Fprintf(w, "%d session(s) ended\n", res.SessionsEnded)
	}
	if res.ConnectionsClosed > 0 {
		fmt.Fprintf(w, "%d connection(s) through removed or moved portals closed\n", res.ConnectionsClosed)
	}
	if !res.Persisted && res.Config != "" && len(res.Changes) > 0 && res.Config == config.DefaultName {
		fmt.Fprintln(w, "note: halun serves the embedded default; the change lasts until it stops (serve --config FILE to keep changes)")
	}
}

// changeCmd wraps a change call: run it and print its result.
func changeCmd(use, short string, args cobra.PositionalArgs, call func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  argsUsage(args),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := call(cmd, client(cmd), args)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res)
			return nil
		},
	}
}

// parseLUNMaps parses N=VOLUME arguments.
func parseLUNMaps(specs []string) ([]admin.LUN, error) {
	var out []admin.LUN
	for _, s := range specs {
		n, vol, ok := strings.Cut(s, "=")
		l, err := strconv.ParseUint(n, 10, 16)
		if !ok || err != nil || l > config.MaxLUN || vol == "" {
			return nil, usageError{fmt.Errorf("--lun %q: want LUN=VOLUME, e.g. 0=vol1", s)}
		}
		out = append(out, admin.LUN{LUN: uint16(l), Volume: vol})
	}
	return out, nil
}

func parseLUN(s string) (uint16, error) {
	l, err := strconv.ParseUint(s, 10, 16)
	if err != nil || l > config.MaxLUN {
		return 0, usageError{fmt.Errorf("LUN %q is not a number 0..%d", s, config.MaxLUN)}
	}
	return uint16(l), nil
}

// ---- halun reload ----

func newReloadCmd() *cobra.Command {
	cmd := changeCmd("reload", "Make the daemon reread its config file and apply the difference",
		cobra.NoArgs, func(cmd *cobra.Command, c *admin.Client, _ []string) (*admin.Result, error) {
			return c.Reload(ctxOf(cmd))
		})
	cmd.Long = `Make the running daemon reread its config file and apply the difference
live, as SIGHUP does. Only what changed is touched: sessions keep running,
new LUNs appear (initiators get REPORTED LUNS DATA HAS CHANGED), grown
volumes report CAPACITY DATA HAS CHANGED, and only the sessions of a
removed target or of an initiator whose access was removed are ended.
Changed operational parameters apply to new sessions. An invalid file
changes nothing; its problems are printed as file:line: field: message.`
	cmd.Flags().String("socket", defaultSocket(), "the daemon's admin socket `path` ($HALUN_SOCKET)")
	return cmd
}

// ---- halun portal list|add|remove ----

func newPortalCmd() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List the portals with their portal group and ALUA state",
		Args:  argsUsage(cobra.NoArgs),
	}
	asJSON := jsonFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		ps, err := client(cmd).Portals(ctxOf(cmd))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), ps)
		}
		tw := table(cmd.OutOrStdout())
		fmt.Fprintln(tw, "GROUP\tPORTAL\tLISTENING\tALUA")
		for _, p := range ps {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Group, p.Addr, orDash(p.Bound), p.ALUA)
		}
		return tw.Flush()
	}

	var group uint16
	add := changeCmd("add ADDR [--group N]", "Listen on an address in a portal group", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			if group == 0 {
				return nil, usageError{fmt.Errorf("portal add: --group %d: a tag is 1..65535", group)}
			}
			return c.AddPortal(ctxOf(cmd), group, args[0])
		})
	add.Long = `Make the running daemon listen on ADDR (host:port; IPv6 in brackets,
e.g. [fd00::1]:3260; :3260 for every address) in portal group N, at once:
SendTargets lists it and initiators can log in through it. A group that
does not exist yet is created, and serves every target that does not list
its portal groups. An address already in another group is refused; one
another program holds refuses the change. The portal is written to the
config (portal_groups[].portals), so a restart keeps it. A daemon started
with --listen takes its portals from the command line and refuses this.`
	add.Flags().Uint16Var(&group, "group", 1, "portal group `tag` (created if new)")

	remove := changeCmd("remove ADDR", "Stop listening on an address; only its connections close", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			return c.RemovePortal(ctxOf(cmd), args[0])
		})
	remove.Long = `Stop listening on ADDR and remove it from the config. Only the connections
that came through it are closed (their initiators log in again through
another portal); every other session goes on. A group left without
portals is removed too, unless a target lists it in its portal_groups:
change that target first. The config's last portal cannot be removed.`
	return adminGroup("portal", "List, add and remove portals of the running daemon", list, add, remove)
}

// ---- halun alua set ----

func newALUACmd() *cobra.Command {
	var group uint16
	var state string
	set := &cobra.Command{
		Use:   "set --group N --state STATE",
		Short: "Set the ALUA state of a target port group",
		Long: `Set the asymmetric access state of a target port group (the portal group
with that tag) on every target reachable through it. STATE is one of
active-optimized, active-nonoptimized, standby, unavailable, transitioning.
Initiators see it in REPORT TARGET PORT GROUPS; in standby and unavailable
media access is refused with NOT READY, while INQUIRY, REPORT LUNS and
REPORT TARGET PORT GROUPS still work. The state is written to the config
(portal_groups[].alua.state), so a restart keeps it.`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("group") || state == "" {
				return usageError{fmt.Errorf("alua set: --group and --state are required")}
			}
			res, err := client(cmd).SetALUA(ctxOf(cmd), group, state)
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res)
			return nil
		},
	}
	set.Flags().Uint16Var(&group, "group", 0, "portal group `tag`")
	set.Flags().StringVar(&state, "state", "", "ALUA `state`: "+strings.Join(admin.ALUAStates, ", "))

	list := &cobra.Command{
		Use:   "list",
		Short: "List the target port groups with their ALUA state and portals",
		Long: `List every target port group (portal group) of the running daemon: its
tag, its ALUA state and its portals, one group a line, in tag order. The
Pacemaker resource agent (ocf/halun) reads its group's state here.`,
		Args: argsUsage(cobra.NoArgs),
	}
	asJSON := jsonFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		ps, err := client(cmd).Portals(ctxOf(cmd))
		if err != nil {
			return err
		}
		groups := aluaGroups(ps)
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), groups)
		}
		tw := table(cmd.OutOrStdout())
		fmt.Fprintln(tw, "GROUP\tSTATE\tPORTALS")
		for _, g := range groups {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", g.Group, g.State, strings.Join(g.Portals, ","))
		}
		return tw.Flush()
	}
	return adminGroup("alua", "ALUA target port group states", list, set)
}

// aluaGroup is one target port group as halun alua list shows it.
type aluaGroup struct {
	Group   uint16   `json:"group"`
	State   string   `json:"state"`
	Portals []string `json:"portals"`
}

// aluaGroups gathers the portals' listing by group, in tag order.
func aluaGroups(ps []admin.Portal) []aluaGroup {
	var out []aluaGroup
	at := map[uint16]int{}
	for _, p := range ps {
		i, ok := at[p.Group]
		if !ok {
			i = len(out)
			at[p.Group] = i
			out = append(out, aluaGroup{Group: p.Group, State: p.ALUA})
		}
		out[i].Portals = append(out[i].Portals, p.Addr)
	}
	slices.SortFunc(out, func(a, b aluaGroup) int { return cmp.Compare(a.Group, b.Group) })
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
