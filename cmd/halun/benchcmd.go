package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/bench"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
)

// benchFlags are halun bench's options as given.
type benchFlags struct {
	portals                []string
	target, initiatorName  string
	lun                    uint64
	blockSize, size        string
	workers, readPercent   int
	rate                   float64
	duration, interval     time.Duration
	attemptTimeout, opTime time.Duration
	chapUser, chapFile     string
	asJSON                 bool
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench --portal HOST:PORT [--portal HOST:PORT]... --target IQN [flags]",
		Short: "Run a verifying I/O load on a LUN through one or more portals (multipath)",
		Long: `Run random reads and writes on a logical unit through halun's own multipath
initiator and check every read. Give one --portal per path: the initiator
sends each command down a path whose ALUA state is active, and when a path
fails (a node killed, a failover) it re-reads the states, reconnects and
retries on another path, so I/O pauses and then continues. A try that gets
no answer within --attempt-timeout counts its path as failed, as Linux's
NOP-Out timeout does.

Each worker owns its own blocks and writes each with a pattern no other
write uses; every read must return the last write acknowledged for that
block (or one that failed, whose outcome is unknown). Anything else, or a
torn block, is a verification error. The load writes over the region it
uses (--size bytes from LBA 0, default the whole LUN): run it only on a
volume whose data does not matter.

Every --interval it prints ops/s, MiB/s, failed operations, verification
errors and any path switch; at the end, totals, the longest pause (the
longest time no operation completed), latency p50/p99 and the path
switches. It exits 1 if any read failed verification or no operation
succeeded. SIGINT or SIGTERM ends the run early, with its summary.

  halun bench --portal 127.0.0.1:3260 --portal 127.0.0.2:3260 \
    --target iqn.2026-12.io.halun.demo:san --duration 60s`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.portals, "portal", nil, "a path to the LUN: a portal's `HOST:PORT` (repeat for more paths)")
	fl.StringVar(&f.target, "target", "", "the target's `IQN`")
	fl.Uint64Var(&f.lun, "lun", 0, "the LUN")
	fl.StringVar(&f.initiatorName, "initiator-name", "iqn.2026-12.io.halun:bench", "the initiator's `IQN` (for ACLs)")
	fl.DurationVar(&f.duration, "duration", 30*time.Second, "how long to run (0: until interrupted)")
	fl.IntVar(&f.workers, "workers", 4, "concurrent workers, one command in flight each")
	fl.StringVar(&f.blockSize, "block-size", "4KiB", "`size` of every read and write")
	fl.StringVar(&f.size, "size", "", "`size` of the region used from LBA 0 (default the whole LUN)")
	fl.IntVar(&f.readPercent, "read-percent", 50, "share of reads, 0-100")
	fl.Float64Var(&f.rate, "rate", 0, "target operations per second for all workers (0: as fast as they go)")
	fl.DurationVar(&f.interval, "interval", time.Second, "progress report period")
	fl.DurationVar(&f.attemptTimeout, "attempt-timeout", 2*time.Second, "time one try on one path may take before the path counts as failed (0: no limit)")
	fl.DurationVar(&f.opTime, "op-timeout", 60*time.Second, "time one operation may take, retries on every path included, before it counts as failed")
	fl.StringVar(&f.chapUser, "chap-user", "", "CHAP user `name` (with --chap-secret-file)")
	fl.StringVar(&f.chapFile, "chap-secret-file", "", "`file` holding the CHAP secret (one line)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON (progress goes to stderr)")
	return cmd
}

// benchConfig checks the flags and turns them into a load and its paths;
// every error is a usage error.
func benchConfig(f *benchFlags) (bench.Config, error) {
	cfg := bench.Config{
		Workers: f.workers, ReadPercent: f.readPercent, Rate: f.rate,
		Duration: f.duration, Interval: f.interval, OpTimeout: f.opTime,
	}
	switch {
	case len(f.portals) == 0:
		return cfg, fmt.Errorf("bench: --portal is required")
	case f.target == "":
		return cfg, fmt.Errorf("bench: --target is required")
	case f.workers <= 0:
		return cfg, fmt.Errorf("bench: --workers must be positive")
	case f.interval <= 0:
		return cfg, fmt.Errorf("bench: --interval must be positive")
	case f.opTime <= 0:
		return cfg, fmt.Errorf("bench: --op-timeout must be positive")
	case f.duration < 0 || f.attemptTimeout < 0:
		return cfg, fmt.Errorf("bench: --duration and --attempt-timeout must not be negative")
	case (f.chapUser == "") != (f.chapFile == ""):
		return cfg, fmt.Errorf("bench: --chap-user and --chap-secret-file go together")
	}
	for _, p := range f.portals {
		if _, port, err := net.SplitHostPort(p); err != nil || port == "" {
			return cfg, fmt.Errorf("bench: --portal %q: want HOST:PORT", p)
		}
	}
	bs, err := config.ParseSize(f.blockSize)
	if err != nil {
		return cfg, fmt.Errorf("bench: --block-size: %w", err)
	}
	if bs <= 0 || bs > 16<<20 {
		return cfg, fmt.Errorf("bench: --block-size %s: want at most 16MiB", f.blockSize)
	}
	cfg.BlockSize = int(bs)
	if f.size != "" {
		if cfg.Size, err = config.ParseSize(f.size); err != nil {
			return cfg, fmt.Errorf("bench: --size: %w", err)
		}
		if cfg.Size == 0 {
			return cfg, fmt.Errorf("bench: --size must be positive")
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("bench: %w", err)
	}
	return cfg, nil
}

func runBench(cmd *cobra.Command, f *benchFlags) error {
	cfg, err := benchConfig(f)
	if err != nil {
		return usageError{err}
	}
	opts := initiator.Options{InitiatorName: f.initiatorName, TargetName: f.target}
	if f.chapFile != "" {
		b, err := os.ReadFile(f.chapFile)
		if err != nil {
			return fmt.Errorf("bench: CHAP secret: %w", err)
		}
		opts.CHAPUsername, opts.CHAPSecret = f.chapUser, strings.TrimRight(string(b), "\r\n")
	}
	// One ISID per path, kept across reconnections, so a reconnected
	// path replaces its old session on the target rather than adding one.
	var isid pdu.ISID
	if _, err := rand.Read(isid[:]); err != nil {
		return fmt.Errorf("bench: ISID: %w", err)
	}
	isid[0] = 0x80 // random qualifier (RFC 7143 §11.12.5)
	var specs []initiator.PathSpec
	for i, p := range f.portals {
		o := opts
		o.ISID = isid
		o.ISID[5] = byte(i)
		specs = append(specs, initiator.PathSpec{Addr: p, Options: o, LUN: f.lun})
	}
	mp := initiator.NewMultipath(specs...)
	mp.AttemptTimeout = f.attemptTimeout
	defer mp.Close()

	out := cmd.OutOrStdout()
	progress := out
	if f.asJSON {
		progress = cmd.ErrOrStderr()
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(progress, "halun bench: %s LUN %d through %s; %d workers, %s blocks, %d%% reads\n",
		f.target, f.lun, strings.Join(f.portals, ", "), cfg.Workers, config.FormatSize(int64(cfg.BlockSize)), cfg.ReadPercent)
	cfg.Progress = func(t bench.Tick) { printTick(progress, t) }
	res, err := bench.Run(ctx, mp, cfg)
	if err != nil {
		return err
	}
	if f.asJSON {
		if err := printJSON(out, res); err != nil {
			return err
		}
	} else {
		printBenchResult(out, res)
	}
	switch {
	case res.VerifyErrors > 0:
		return fmt.Errorf("bench: %d reads failed verification", res.VerifyErrors)
	case res.Ops == 0:
		return fmt.Errorf("bench: no operation succeeded")
	}
	return nil
}

func printTick(w io.Writer, t bench.Tick) {
	fmt.Fprintf(w, "%7.1fs  %8.0f ops/s  %8.1f MiB/s  %d failed  %d verify errors\n",
		t.Elapsed.Seconds(), t.OpsPerSec, t.MiBPerSec, t.Failed, t.VerifyErrors)
	for _, s := range t.Switches {
		fmt.Fprintf(w, "         path switch: %s\n", switchText(s))
	}
}

func printBenchResult(w io.Writer, r *bench.Result) {
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1
	}
	tw := table(w)
	fmt.Fprintln(tw, "\nsummary")
	fmt.Fprintf(tw, "  region\t%d blocks of %s (%s), %d workers\n", r.Blocks, config.FormatSize(int64(r.BlockSize)),
		config.FormatSize(r.Blocks*int64(r.BlockSize)), r.Workers)
	fmt.Fprintf(tw, "  elapsed\t%v\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "  ops\t%d (%d reads, %d writes), %.0f ops/s, %.1f MiB/s\n", r.Ops, r.Reads, r.Writes,
		float64(r.Ops)/secs, float64(r.Bytes)/secs/(1<<20))
	fmt.Fprintf(tw, "  failed ops\t%d\n", r.Failed)
	if r.Cancelled > 0 {
		fmt.Fprintf(tw, "  interrupted ops\t%d\n", r.Cancelled)
	}
	fmt.Fprintf(tw, "  verify errors\t%d\n", r.VerifyErrors)
	fmt.Fprintf(tw, "  longest pause\t%v (from %.1fs)\n", r.LongestPause.Round(time.Millisecond), r.PauseStart.Seconds())
	fmt.Fprintf(tw, "  latency\tp50 %v  p99 %v  max %v\n", roundLatency(r.LatencyP50), roundLatency(r.LatencyP99), roundLatency(r.LatencyMax))
	fmt.Fprintf(tw, "  path switches\t%d\n", len(r.Switches))
	tw.Flush()
	for _, s := range r.Switches {
		fmt.Fprintf(w, "    %s\n", switchText(s))
	}
	for _, d := range r.FailureDetails {
		fmt.Fprintf(w, "  failed: %s\n", d)
	}
	for _, d := range r.VerifyDetails {
		fmt.Fprintf(w, "  VERIFY ERROR: %s\n", d)
	}
}

// switchText is a multipath switch for a person: the first path taken
// has no error that moved I/O off another.
func switchText(s string) string {
	if rest, ok := strings.CutPrefix(s, "path -1 -> "); ok {
		return "first path: " + strings.TrimSuffix(rest, ": <nil>")
	}
	return s
}

// roundLatency keeps three significant digits or so.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
