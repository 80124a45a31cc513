package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/admin"
)

func newSessionCmd() *cobra.Command {
	var verbose bool
	list := &cobra.Command{
		Use:   "list [-v]",
		Short: "List sessions; -v shows connections, negotiated keys and counters like iscsiadm -m session -P 3",
		Args:  argsUsage(cobra.NoArgs),
	}
	asJSON := jsonFlag(list)
	list.Flags().BoolVarP(&verbose, "verbose", "v", false, "connections, negotiated keys and counters")
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		ss, err := client(cmd).Sessions(ctxOf(cmd))
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		switch {
		case *asJSON:
			return printJSON(w, ss)
		case verbose:
			printSessionsVerbose(w, ss)
			return nil
		}
		tw := table(w)
		fmt.Fprintln(tw, "TSIH\tTARGET\tTPGT\tINITIATOR\tISID\tADDRESS\tCMDS")
		for _, s := range ss {
			addr := "-"
			if len(s.Conns) > 0 {
				addr = s.Conns[0].Remote
			}
			target := s.Target
			if s.Discovery {
				target = "(discovery)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%d\n", s.TSIH, target, s.TPGT, s.Initiator, s.ISID, addr, s.Commands)
		}
		return tw.Flush()
	}
	return adminGroup("session", "Sessions and connections of the running daemon", list)
}

// printSessionsVerbose prints sessions in the layout of iscsiadm -m
// session -P 3, from the target's side.
func printSessionsVerbose(w io.Writer, ss []admin.Session) {
	byTarget := map[string][]admin.Session{}
	var order []string
	for _, s := range ss {
		t := s.Target
		if s.Discovery {
			t = "(discovery)"
		}
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], s)
	}
	for _, t := range order {
		fmt.Fprintf(w, "Target: %s\n", t)
		for _, s := range byTarget[t] {
			for _, c := range s.Conns {
				fmt.Fprintf(w, "\tCurrent Portal: %s,%d\n", c.Local, s.TPGT)
			}
			fmt.Fprintf(w, "\t**********\n\tInterface:\n\t**********\n")
			fmt.Fprintf(w, "\tInitiator Name: %s\n", s.Initiator)
			for _, c := range s.Conns {
				fmt.Fprintf(w, "\tInitiator Address: %s\n\tCID: %d\n", c.Remote, c.CID)
			}
			fmt.Fprintf(w, "\tISID: %s\n\tTSIH: %d\n", s.ISID, s.TSIH)
			fmt.Fprintf(w, "\tiSCSI Connection State: LOGGED IN\n\tiSCSI Session State: LOGGED_IN\n")
			fmt.Fprintf(w, "\t************************\n\tNegotiated iSCSI params:\n\t************************\n")
			for _, kv := range s.Params {
				fmt.Fprintf(w, "\t%s: %s\n", kv.Key, kv.Value)
			}
			fmt.Fprintf(w, "\t************************\n\tCounters:\n\t************************\n")
			fmt.Fprintf(w, "\tSCSI commands: %d\n\tRead bytes: %d\n\tWritten bytes: %d\n", s.Commands, s.ReadBytes, s.WriteBytes)
		}
	}
}
