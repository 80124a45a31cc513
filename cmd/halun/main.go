// Command halun is the halun iSCSI target: `halun serve` runs a node,
// `halun config check` validates a config, `halun import` converts IET, SCST
// and LIO configs, `halun cluster` creates a cluster's certificates, the
// management commands (target, volume, lun, acl, session, portal, alua,
// reload) talk to a running node over its admin socket, `halun bench` runs
// a verifying I/O load through one or more portals, and `halun version`
// says which build this is.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed (bad config, serve error)
	exitUsage = 2 // unknown command or flag, wrong arguments
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors in how halun was invoked.
type usageError struct{ error }

// run executes the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ue usageError
	var se silentError
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "halun: %v\nRun 'halun --help' for usage.\n", ue.error)
		return exitUsage
	}
	printError(stderr, err)
	return exitError
}

// silentError ends halun with code after the command printed its own
// messages.
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// printError prints err for a person: a config's problems one per line,
// each naming file:line: field, anything else prefixed "halun: ".
func printError(w io.Writer, err error) {
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintf(w, "halun: %v\n", err)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "halun",
		Short: "halun is an iSCSI target: files, block devices and memory as SCSI disks on the network",
		Long: `halun is an iSCSI target (RFC 7143) in one static binary.

  halun serve                      serve the embedded default: a 1 GiB disk on 127.0.0.1:3260
  halun serve --config FILE        serve a YAML config
  halun config check FILE          validate a config
  halun cluster init|add-node      create a cluster's CA and node certificates
  halun bench --portal HOST:PORT --target IQN
                                   a verifying I/O load through one or more portals (multipath)

Managing a running daemon (over its admin socket, --socket):
  halun target|volume|lun|acl|portal list, halun session list -v
  halun volume add|remove|resize, halun target add|remove
  halun lun map|unmap, halun acl add|remove, halun portal add|remove
  halun alua set --group N --state STATE, halun reload`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a subcommand, print help rather than succeed silently.
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(), newConfigCmd(), newVersionCmd(), newImportCmd(), newClusterCmd(), newWitnessCmd(), newBenchCmd(),
		newGendocsCmd())
	// Management of a running daemon over its admin socket.
	root.AddCommand(newTargetCmd(), newVolumeCmd(), newLUNCmd(), newACLCmd(), newSessionCmd(),
		newPortalCmd(), newALUACmd(), newReloadCmd(), newStatusCmd())
	return root
}

// argsUsage makes an argument check report a usage error.
func argsUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			if !strings.Contains(err.Error(), cmd.CommandPath()) {
				err = fmt.Errorf("%s: %w", cmd.CommandPath(), err)
			}
			return usageError{err}
		}
		return nil
	}
}
