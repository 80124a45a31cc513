package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
)

// ---- halun status [--watch] [--json] ----

// statusView is what `halun status` shows: the daemon, its portals,
// targets and sessions, and per volume the rates over the last interval.
type statusView struct {
	Daemon   admin.Status   `json:"daemon"`
	Interval float64        `json:"interval_seconds"`
	Portals  []admin.Portal `json:"portals"`
	Targets  []statusTarget `json:"targets"`
	Sessions int            `json:"sessions"`
	Volumes  []volumeRates  `json:"volumes"`
	// BufferedBytes is the data-out held for commands now.
	BufferedBytes int64 `json:"buffered_bytes"`
}

type statusTarget struct {
	IQN      string `json:"iqn"`
	LUNs     int    `json:"luns"`
	Sessions int    `json:"sessions"`
}

// volumeRates are a volume's rates between two samples of its counters.
type volumeRates struct {
	Name      string  `json:"name"`
	Size      int64   `json:"size"`
	Allocated int64   `json:"allocated"`
	ReadIOPS  float64 `json:"read_iops"`
	WriteIOPS float64 `json:"write_iops"`
	OtherIOPS float64 `json:"other_iops"`
	ReadMiBs  float64 `json:"read_mib_per_sec"`
	WriteMiBs float64 `json:"write_mib_per_sec"`
	// ReadLatency and WriteLatency are the mean over the interval, in
	// seconds; 0 without commands.
	ReadLatency  float64 `json:"read_latency_seconds"`
	WriteLatency float64 `json:"write_latency_seconds"`
	// Errors are the commands that ended in CHECK CONDITION in the
	// interval.
	Errors   uint64   `json:"errors"`
	Sanitize *float64 `json:"sanitize,omitempty"`
}

// rates turns two samples of the counters into per-volume rates.
func rates(a, b admin.Stats) []volumeRates {
	dt := b.Time.Sub(a.Time).Seconds()
	if dt <= 0 {
		dt = 1
	}
	prev := map[string]admin.VolumeStats{}
	for _, v := range a.Volumes {
		prev[v.Name] = v
	}
	out := make([]volumeRates, 0, len(b.Volumes))
	for _, v := range b.Volumes {
		p, ok := prev[v.Name]
		if !ok {
			// A volume added between the samples counts from zero.
			p = admin.VolumeStats{Commands: map[string]uint64{}, Seconds: map[string]float64{}}
		}
		d := func(class string) float64 { return float64(v.Commands[class] - p.Commands[class]) }
		lat := func(class string) float64 {
			if n := d(class); n > 0 {
				return (v.Seconds[class] - p.Seconds[class]) / n
			}
			return 0
		}
		r := volumeRates{Name: v.Name, Size: v.Size, Allocated: v.Allocated,
			ReadIOPS: d("read") / dt, WriteIOPS: d("write") / dt,
			OtherIOPS:   (d("other") + d("sync") + d("unmap") + d("write_same")) / dt,
			ReadMiBs:    float64(v.ReadBytes-p.ReadBytes) / dt / (1 << 20),
			WriteMiBs:   float64(v.WrittenBytes-p.WrittenBytes) / dt / (1 << 20),
			ReadLatency: lat("read"), WriteLatency: lat("write"),
			Errors: v.CheckConditions - p.CheckConditions, Sanitize: v.Sanitize}
		out = append(out, r)
	}
	return out
}

// sampleStatus gathers one view, sampling the counters interval apart.
func sampleStatus(ctx context.Context, c *admin.Client, interval time.Duration, prev *admin.Stats) (statusView, admin.Stats, error) {
	var v statusView
	var err error
	first := prev
	if first == nil {
		s, err := c.Stats(ctx)
		if err != nil {
			return v, admin.Stats{}, err
		}
		first = &s
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return v, admin.Stats{}, ctx.Err()
		}
	}
	if v.Daemon, err = c.Status(ctx); err != nil {
		return v, admin.Stats{}, err
	}
	second, err := c.Stats(ctx)
	if err != nil {
		return v, admin.Stats{}, err
	}
	if v.Portals, err = c.Portals(ctx); err != nil {
		return v, admin.Stats{}, err
	}
	targets, err := c.Targets(ctx)
	if err != nil {
		return v, admin.Stats{}, err
	}
	for _, t := range targets {
		v.Targets = append(v.Targets, statusTarget{IQN: t.IQN, LUNs: len(t.LUNs), Sessions: t.Sessions})
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return v, admin.Stats{}, err
	}
	v.Sessions = len(sessions)
	v.Interval = second.Time.Sub(first.Time).Seconds()
	v.Volumes = rates(*first, second)
	v.BufferedBytes = second.BufferedBytes
	return v, second, nil
}

// printStatus writes the view as one screen.
func printStatus(w io.Writer, v statusView) {
	fmt.Fprintf(w, "halun %s   config %s   data %s   %d sessions   rates over %.1fs\n\n",
		v.Daemon.Version, v.Daemon.Config, v.Daemon.DataDir, v.Sessions, v.Interval)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORTAL\tGROUP\tALUA")
	for _, p := range v.Portals {
		addr := p.Addr
		if p.Bound != "" && p.Bound != p.Addr {
			addr += " (" + p.Bound + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", addr, p.Group, p.ALUA)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tLUNS\tSESSIONS")
	for _, t := range v.Targets {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t.IQN, t.LUNs, t.Sessions)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "VOLUME\tSIZE\tALLOC\tR IOPS\tW IOPS\tR MiB/s\tW MiB/s\tR LAT\tW LAT\tERRORS\t")
	for _, r := range v.Volumes {
		alloc := "-"
		if r.Allocated >= 0 && r.Size > 0 {
			alloc = fmt.Sprintf("%.0f%%", 100*float64(r.Allocated)/float64(r.Size))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.0f\t%.1f\t%.1f\t%s\t%s\t%d\t\n", r.Name, config.FormatSize(r.Size), alloc,
			r.ReadIOPS, r.WriteIOPS, r.ReadMiBs, r.WriteMiBs, latency(r.ReadLatency), latency(r.WriteLatency), r.Errors)
	}
	tw.Flush()
	for _, r := range v.Volumes {
		if r.Sanitize != nil {
			fmt.Fprintf(w, "\n%s: SANITIZE %.0f%% done", r.Name, 100**r.Sanitize)
		}
	}
	if v.BufferedBytes > 0 {
		fmt.Fprintf(w, "\nbuffered data-out: %s", config.FormatSize(v.BufferedBytes))
	}
	fmt.Fprintln(w)
}

func latency(s float64) string {
	switch {
	case s == 0:
		return "-"
	case s < 1e-3:
		return fmt.Sprintf("%.0fµs", s*1e6)
	}
	return fmt.Sprintf("%.1fms", s*1e3)
}

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--watch] [--json] [--interval 1s]",
		Short: "Show the running daemon at a glance: portals, targets, sessions, per-volume rates",
		Long: `Show the running daemon on one screen: its portals with their ALUA
states, targets with their sessions, and per volume its size and
allocation, read and write IOPS, MiB/s and mean latency, and the commands
that failed (CHECK CONDITION), over the last --interval; a running
SANITIZE shows its progress. --watch redraws every --interval until
interrupted, as top does; --json prints the view for scripts. A cluster's
replication and resync progress are in 'halun cluster status'.`,
		Args: argsUsage(cobra.NoArgs),
	}
	cmd.Flags().String("socket", defaultSocket(), "the daemon's admin socket `path` ($HALUN_SOCKET)")
	asJSON := jsonFlag(cmd)
	watch := cmd.Flags().Bool("watch", false, "redraw every --interval until interrupted")
	interval := cmd.Flags().Duration("interval", time.Second, "the `time` rates are measured over")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *interval <= 0 {
			return usageError{fmt.Errorf("--interval: %v is not positive", *interval)}
		}
		ctx := ctxOf(cmd)
		c := client(cmd)
		out := cmd.OutOrStdout()
		var prev *admin.Stats
		for {
			v, last, err := sampleStatus(ctx, c, *interval, prev)
			if err != nil {
				if *watch && ctx.Err() != nil {
					return nil
				}
				return err
			}
			switch {
			case *asJSON:
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(v); err != nil {
					return err
				}
			case *watch:
				var b strings.Builder
				printStatus(&b, v)
				// Home the cursor and clear the screen, then draw.
				fmt.Fprint(out, "\x1b[H\x1b[2J"+b.String())
			default:
				printStatus(out, v)
			}
			if !*watch {
				return nil
			}
			prev = &last
			select {
			case <-time.After(*interval):
			case <-ctx.Done():
				return nil
			}
		}
	}
	return cmd
}
