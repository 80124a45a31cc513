// Command release is `make release`: it builds halun's static binaries,
// .debs and SHA256SUMS into dist/out (see package internal/release).
//
//	go run ./scripts/release [-out dist/out] [-version v0.1.0] [-commit REV] [-arch amd64,arm64]
//
// Without -version and -commit both come from git: a v* tag on HEAD, else
// a v0.0.0-git.<commit time>.<commit> development version.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/halun/halun/internal/release"
)

func main() {
	out := flag.String("out", "dist/out", "write the artifacts into `DIR`")
	root := flag.String("root", ".", "the halun repository")
	version := flag.String("version", "", "release `VERSION` (default: from git)")
	commit := flag.String("commit", "", "commit `REV` the binaries report (default: git HEAD)")
	arches := flag.String("arch", "amd64,arm64", "comma-separated GOARCH `LIST`")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a, err := release.Run(ctx, release.Options{
		Root: *root, OutDir: *out, Version: *version, Commit: *commit,
		Arches: strings.Split(*arches, ","), Log: os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("halun %s (commit %s): %s\n", a.Version, a.Commit, a.Sums)
}
