package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// A release build sets both (the release program in scripts/release does):
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.commit=<git revision>"
//
// A plain `go build` from a git checkout leaves them empty, and the module
// version and VCS revision Go stamps into the binary are used instead.
var (
	version string
	commit  string
)

// buildInfo says which build of halun this is.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a work tree with uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// currentBuild describes the running binary.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, bi)
}

// describeBuild prefers the version and commit a release build set with
// -ldflags -X; without them it takes the main module's version and the VCS
// revision from the build info Go records (bi may be nil).
func describeBuild(ldVersion, ldCommit string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: ldVersion, Commit: ldCommit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		if b.Version == "" {
			b.Version = "(devel)"
		}
		return b
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	if b.Version == "" {
		b.Version = bi.Main.Version
		if b.Version == "" {
			b.Version = "(devel)"
		}
	}
	if b.Commit == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// String is the one line `halun version` prints, e.g.
// "halun v0.1.0 commit 0123abcd… go1.26.8 linux/amd64".
func (b buildInfo) String() string {
	s := "halun " + b.Version
	if b.Commit != "" {
		s += " commit " + b.Commit
		if b.Modified {
			s += " (modified)"
		}
	}
	return s + " " + b.Go + " " + b.OS + "/" + b.Arch
}

// versionString is the version the daemon logs and its management API
// reports.
func versionString() string { return currentBuild().short() }

// short is the version followed by the first 12 digits of the commit, and
// "+dirty" for a build from a modified work tree.
func (b buildInfo) short() string {
	v := b.Version
	if b.Commit != "" {
		rev := b.Commit
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev
		if b.Modified {
			v += "+dirty"
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print halun's version, commit and Go version",
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := currentBuild()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(b); err != nil {
					return fmt.Errorf("version: %w", err)
				}
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), b)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the build as a JSON object")
	return cmd
}
