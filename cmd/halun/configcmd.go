package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with config files",
		Args:  argsUsage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate config files: print OK, or every error with file:line and field",
		Long: `Validate config files as 'halun serve --config' would, without touching
anything: print "FILE: OK" for a valid file, or every problem as
"FILE:LINE: FIELD: message". Exits 1 if any file is invalid.`,
		Args: argsUsage(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				_, err := config.Load(f)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", f)
					continue
				}
				bad++
				printError(cmd.ErrOrStderr(), err)
			}
			if bad > 0 {
				return silentError{exitError}
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "default",
		Short: "Print the embedded default config (what 'halun serve' runs without --config)",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.DefaultYAML())
			return err
		},
	})
	return cmd
}
