package ha

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// trialResult is one trial's row.
type trialResult struct {
	fault   string
	primary bool
	verdict
	resyncWait time.Duration
	identical  bool
	err        string
	// copied is what the resyncs of the trial copied (from the nodes'
	// logs); written what the load wrote from the fault until it
	// healed (4 KiB per write, acknowledged or not).
	copied, written int64
	// commit is the checkout the trial ran on.
	commit string
}

// writeReport writes the campaign's table to path, if set: per fault the
// trials, the pause percentiles, acknowledged writes lost,
// linearizability violations and replicas that differed.
func writeReport(t *testing.T, path string, copies int, results []trialResult, perFault int) {
	if path == "" {
		return
	}
	nodes := "two storage nodes and a witness"
	if copies == 3 {
		nodes = "three storage nodes (no witness), a copy of the volume on each"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# halun fault campaign\n\n")
	fmt.Fprintf(&b, "Run %s by `test/ha` (%d trials of each fault asked, %d run), %s, each its own process in its own network namespace, a multipath initiator in another: 4 workers reading and writing 32 blocks of 4 KiB at random, each op checked.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), perFault, len(results), nodes)
	if cs := commits(results); cs != "" {
		fmt.Fprintf(&b, "Trials recorded over more than one run (a state file: the soak resumes where it stopped); they ran on %s.\n\n", cs)
	}
	fmt.Fprintf(&b, "Pause: the longest time after the fault with no I/O completing at the initiator. Write stall: the same for writes alone.\n\n")
	fmt.Fprintf(&b, "Resynced: what the resyncs copied, against what the load wrote from the fault until it healed (a full resync copies the volume, %d MiB).\n\n", volumeSize>>20)
	fmt.Fprintf(&b, "| fault | trials | pause p50 | pause p99 | pause max | write stall max | resync wait max | resynced / written | ops | acked writes lost | linearizability violations | torn | replicas differed |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var order []string
	by := map[string][]trialResult{}
	for _, r := range results {
		if _, ok := by[r.fault]; !ok {
			order = append(order, r.fault)
		}
		by[r.fault] = append(by[r.fault], r)
	}
	var failover []time.Duration
	for _, f := range order {
		rs := by[f]
		var pauses []time.Duration
		var stall, wait time.Duration
		ops, lost, viol, torn, differ := 0, 0, 0, 0, 0
		var copied, written int64
		for _, r := range rs {
			copied += r.copied
			written += r.written
			pauses = append(pauses, r.Pause)
			if r.primary {
				failover = append(failover, r.Pause)
			}
			stall, wait = max(stall, r.WriteStall), max(wait, r.resyncWait)
			ops += r.Ops
			lost += r.LostAcked
			torn += r.Torn
			if r.Linearizable != porcupine.Ok {
				viol++
			}
			if !r.identical {
				differ++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s / %s | %d | %d | %d | %d | %d |\n", f, len(rs),
			pct(pauses, 50), pct(pauses, 99), pct(pauses, 100), secs(stall), secs(wait), mib(copied), mib(written), ops, lost, viol, torn, differ)
	}
	if len(failover) > 0 {
		fmt.Fprintf(&b, "\nPrimary lost (every fault above that takes the primary away, %d trials): pause p50 %s, p99 %s, max %s.\n",
			len(failover), pct(failover, 50), pct(failover, 99), pct(failover, 100))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("writing the report: %v", err)
	}
}

// commits lists the commits results ran on with their trial counts, in
// the order first seen, when they ran on more than one; otherwise "".
func commits(results []trialResult) string {
	var order []string
	n := map[string]int{}
	for _, r := range results {
		if _, ok := n[r.commit]; !ok {
			order = append(order, r.commit)
		}
		n[r.commit]++
	}
	if len(order) < 2 {
		return ""
	}
	parts := make([]string, len(order))
	for i, c := range order {
		parts[i] = fmt.Sprintf("%s (%d trials)", c, n[c])
	}
	return strings.Join(parts, ", ")
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return secs(s[max(i-1, 0)])
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
