package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGendocsCmd is the hidden `halun gendocs`, which writes the man pages
// and shell completions the .deb ships. They are made from the binary's own
// command tree: cmd/halun is package main, so the release program
// (scripts/release) cannot import the tree; it runs the binary it has just
// built instead. This keeps the pages true to the release they ship with,
// and costs the binary only cobra/doc's roff renderer (go-md2man, about
// 0.8 MB of 40); the packaging code (nfpm) stays out of it. Hidden
// commands, this one included, get no man page.
func newGendocsCmd() *cobra.Command {
	var manDir, complDir string
	cmd := &cobra.Command{
		Use:    "gendocs",
		Short:  "Write man pages and shell completions (used by the release build)",
		Hidden: true,
		Args:   argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if manDir == "" && complDir == "" {
				return usageError{fmt.Errorf("gendocs: give --man DIR, --completions DIR or both")}
			}
			root := cmd.Root()
			if manDir != "" {
				if err := os.MkdirAll(manDir, 0o755); err != nil {
					return fmt.Errorf("gendocs: %w", err)
				}
				// The page date comes from SOURCE_DATE_EPOCH when set, so a
				// release's pages do not change with the day it was built.
				header := &doc.GenManHeader{Title: "HALUN", Section: "1", Source: "halun " + currentBuild().Version, Manual: "halun manual"}
				if err := doc.GenManTree(root, header, manDir); err != nil {
					return fmt.Errorf("gendocs: man pages: %w", err)
				}
			}
			if complDir != "" {
				if err := writeCompletions(root, complDir); err != nil {
					return fmt.Errorf("gendocs: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "write a man page per command (section 1) into `DIR`")
	cmd.Flags().StringVar(&complDir, "completions", "", "write halun.bash, _halun (zsh) and halun.fish into `DIR`")
	return cmd
}

// writeCompletions writes the bash, zsh and fish completion scripts for
// root into dir.
func writeCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, gen := range map[string]func(string) error{
		"halun.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
		"_halun":     root.GenZshCompletionFile,
		"halun.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
	} {
		if err := gen(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
	}
	return nil
}
