package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/admin"
)

func newTargetCmd() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List targets with their portal groups, LUNs, access and sessions",
		Args:  argsUsage(cobra.NoArgs),
	}
	asJSON := jsonFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		ts, err := client(cmd).Targets(ctxOf(cmd))
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(cmd.OutOrStdout(), ts)
		}
		w := cmd.OutOrStdout()
		for i, t := range ts {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Target: %s", t.IQN)
			if t.Alias != "" {
				fmt.Fprintf(w, " (%s)", t.Alias)
			}
			fmt.Fprintf(w, "\n  Portal groups: %s\n  Sessions: %d\n", joinTags(t.PortalGroups), t.Sessions)
			if t.CHAP {
				fmt.Fprintln(w, "  CHAP: required")
			}
			fmt.Fprintln(w, "  LUNs:")
			printLUNs(w, "    ", t.LUNs)
			if t.AllInitiators {
				fmt.Fprintln(w, "  Access: every initiator")
				continue
			}
			fmt.Fprintln(w, "  Access:")
			for _, a := range t.ACLs {
				fmt.Fprintf(w, "    %s", a.Initiator)
				if a.CHAP {
					fmt.Fprint(w, " (CHAP)")
				}
				if len(a.LUNs) == 0 {
					fmt.Fprintln(w, ": the target's LUNs")
					continue
				}
				fmt.Fprintln(w, ": own LUN map")
				printLUNs(w, "      ", a.LUNs)
			}
		}
		return nil
	}

	var ta admin.TargetAdd
	var lunSpecs []string
	var groups []uint
	add := changeCmd("add IQN (--all-initiators | --initiator IQN...)", "Add a target", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			ta.IQN = args[0]
			luns, err := parseLUNMaps(lunSpecs)
			if err != nil {
				return nil, err
			}
			ta.LUNs = luns
			ta.PortalGroups = nil
			for _, g := range groups {
				if g == 0 || g > 65535 {
					return nil, usageError{fmt.Errorf("--portal-group %d: a tag is 1..65535", g)}
				}
				ta.PortalGroups = append(ta.PortalGroups, uint16(g))
			}
			if ta.AllInitiators == (len(ta.Initiators) > 0) {
				return nil, usageError{fmt.Errorf("target add: give --all-initiators or --initiator, not both")}
			}
			return c.AddTarget(ctxOf(cmd), ta)
		})
	f := add.Flags()
	f.StringVar(&ta.Alias, "alias", "", "TargetAlias")
	f.UintSliceVar(&groups, "portal-group", nil, "portal group `tag` (repeatable; default every group)")
	f.StringArrayVar(&lunSpecs, "lun", nil, "`LUN=VOLUME` mapping (repeatable)")
	f.BoolVar(&ta.AllInitiators, "all-initiators", false, "let every initiator log in")
	f.StringArrayVar(&ta.Initiators, "initiator", nil, "initiator `IQN` allowed to log in (repeatable)")

	remove := changeCmd("remove IQN", "Remove a target; its sessions end", cobra.ExactArgs(1),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			return c.RemoveTarget(ctxOf(cmd), args[0])
		})
	return adminGroup("target", "List, add and remove targets of the running daemon", list, add, remove)
}

func joinTags(tags []uint16) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = strconv.Itoa(int(t))
	}
	return strings.Join(s, ", ")
}

func printLUNs(w interface{ Write([]byte) (int, error) }, indent string, luns []admin.LUN) {
	if len(luns) == 0 {
		fmt.Fprintf(w, "%snone\n", indent)
	}
	for _, l := range luns {
		fmt.Fprintf(w, "%sLUN %d: %s\n", indent, l.LUN, l.Volume)
	}
}

func newLUNCmd() *cobra.Command {
	var mapIni, unmapIni string
	mapCmd := changeCmd("map TARGET LUN VOLUME", "Map a volume as a LUN; sessions get REPORTED LUNS DATA HAS CHANGED",
		cobra.ExactArgs(3), func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			lun, err := parseLUN(args[1])
			if err != nil {
				return nil, err
			}
			return c.MapLUN(ctxOf(cmd), args[0], lun, args[2], mapIni)
		})
	mapCmd.Flags().StringVar(&mapIni, "initiator", "", "map in this initiator's own LUN map (`IQN`)")
	unmap := changeCmd("unmap TARGET LUN", "Remove a LUN mapping", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			lun, err := parseLUN(args[1])
			if err != nil {
				return nil, err
			}
			return c.UnmapLUN(ctxOf(cmd), args[0], lun, unmapIni)
		})
	unmap.Flags().StringVar(&unmapIni, "initiator", "", "unmap from this initiator's own LUN map (`IQN`)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List every LUN mapping",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := client(cmd).Targets(ctxOf(cmd))
			if err != nil {
				return err
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "TARGET\tINITIATOR\tLUN\tVOLUME")
			for _, t := range ts {
				for _, l := range t.LUNs {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.IQN, "*", l.LUN, l.Volume)
				}
				for _, a := range t.ACLs {
					for _, l := range a.LUNs {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.IQN, a.Initiator, l.LUN, l.Volume)
					}
				}
			}
			return tw.Flush()
		},
	}
	return adminGroup("lun", "Map volumes to LUNs of targets", list, mapCmd, unmap)
}

func newACLCmd() *cobra.Command {
	var lunSpecs []string
	add := changeCmd("add TARGET INITIATOR [--lun N=VOLUME]...", "Let an initiator log in to a target", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			luns, err := parseLUNMaps(lunSpecs)
			if err != nil {
				return nil, err
			}
			return c.AddACL(ctxOf(cmd), args[0], args[1], luns)
		})
	add.Long = `Let an initiator, by name, log in to a target. With --lun it gets its own
LUN map (numbered as it sees them); without, it sees the target's LUNs.
CHAP credentials are set in the config file.`
	add.Flags().StringArrayVar(&lunSpecs, "lun", nil, "the initiator's own `LUN=VOLUME` mapping (repeatable)")
	remove := changeCmd("remove TARGET INITIATOR", "Remove an initiator's access; its sessions with the target end", cobra.ExactArgs(2),
		func(cmd *cobra.Command, c *admin.Client, args []string) (*admin.Result, error) {
			return c.RemoveACL(ctxOf(cmd), args[0], args[1])
		})
	list := &cobra.Command{
		Use:   "list",
		Short: "List every target's access entries",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := client(cmd).Targets(ctxOf(cmd))
			if err != nil {
				return err
			}
			tw := table(cmd.OutOrStdout())
			fmt.Fprintln(tw, "TARGET\tINITIATOR\tCHAP\tLUNS")
			for _, t := range ts {
				if t.AllInitiators {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.IQN, "(every initiator)", yesNo(t.CHAP), "target's")
				}
				for _, a := range t.ACLs {
					luns := "target's"
					if len(a.LUNs) > 0 {
						var s []string
						for _, l := range a.LUNs {
							s = append(s, fmt.Sprintf("%d=%s", l.LUN, l.Volume))
						}
						luns = strings.Join(s, " ")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.IQN, a.Initiator, yesNo(a.CHAP || t.CHAP), luns)
				}
			}
			return tw.Flush()
		},
	}
	return adminGroup("acl", "Per-initiator access to targets", list, add, remove)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
