package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestMain runs the load instead of the tests when the fault campaign
// starts this binary as its load process.
func TestMain(m *testing.M) {
	if spec := os.Getenv(loadEnv); spec != "" {
		os.Exit(runLoad(spec))
	}
	os.Exit(m.Run())
}

// loadProc is a running load process.
type loadProc struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

func startLoad(t *testing.T, c *haCluster, trial int) *loadProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(c.dir, fmt.Sprintf("trial-%03d.ops", trial))
	spec, _ := json.Marshal(loadSpec{
		Portals: c.portals(),
		Target:  targetIQN, Workers: 4, Blocks: 32, Stride: volumeSize / sectorSize / 32, Out: out,
		AttemptTimeout: 2 * time.Second, OpTimeout: 60 * time.Second, Trial: uint64(trial),
		Prefill: trial == 1, VolumeBytes: volumeSize,
	})
	cmd := c.tp.command("i", self, "-test.run=^$")
	cmd.Env = append(os.Environ(), loadEnv+"="+string(spec))
	logf, err := os.Create(out + ".log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lp := &loadProc{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { lp.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return lp
}

// stop ends the load (it then reads every block once more) and returns
// its history.
func (lp *loadProc) stop(timeout time.Duration) ([]op, error) {
	lp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-lp.done:
		if err != nil {
			b, _ := os.ReadFile(lp.out + ".log")
			return nil, fmt.Errorf("load: %v: %s", err, b)
		}
	case <-time.After(timeout):
		lp.cmd.Process.Kill()
		return nil, fmt.Errorf("load did not end within %v of SIGTERM", timeout)
	}
	return readHistory(lp.out)
}

// trialsPerFault is the environment's count (HALUN_HA_TRIALS for two
// copies, HALUN_HA_TRIALS_THREE for three), or def.
func trialsPerFault(env string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestFaultCampaign runs trials of every fault on one cluster of two
// storage nodes and a witness, each under a verifying load: no
// acknowledged write lost, every history linearizable, the replicas
// identical after resync. The table goes to HALUN_HA_REPORT; with
// HALUN_HA_STATE the campaign resumes from, and records to, that file
// (state.go).
func TestFaultCampaign(t *testing.T) {
	campaign(t, 2, trialsPerFault("HALUN_HA_TRIALS", 2), os.Getenv("HALUN_HA_REPORT"), os.Getenv("HALUN_HA_STATE"))
}

// TestFaultCampaignThreeCopies is the campaign on three storage nodes (no
// witness), a copy on each: after the primary is lost, the survivor
// promoted must resync the lost primary's writes in flight to the other
// before the three copies are compared. The table goes to
// HALUN_HA_REPORT_THREE, the state to HALUN_HA_STATE_THREE.
func TestFaultCampaignThreeCopies(t *testing.T) {
	campaign(t, 3, trialsPerFault("HALUN_HA_TRIALS_THREE", 1), os.Getenv("HALUN_HA_REPORT_THREE"), os.Getenv("HALUN_HA_STATE_THREE"))
}

func campaign(t *testing.T, copies, n int, report, state string) {
	if os.Geteuid() != 0 {
		t.Fatal("test/ha needs root for network namespaces (make test runs as root in CI)")
	}
	results, err := loadState(state)
	if err != nil {
		t.Fatal(err)
	}
	done := trialsDone(results)
	only := os.Getenv("HALUN_HA_FAULTS")
	left := 0
	for _, f := range faults {
		if only == "" || strings.Contains(f.title(copies), only) {
			left += max(n-done[f.title(copies)], 0)
		}
	}
	if len(results) > 0 {
		t.Logf("%s: %d trials recorded, %d left of %d of each fault", state, len(results), left, n)
	}
	if left == 0 {
		writeReport(t, report, copies, results, n)
		return
	}
	commit := sourceCommit()
	c := startHACluster(t, "", copies)
	// Bounded by the test binary's -timeout: a soak of 100 trials of
	// each fault runs for hours.
	dl, ok := t.Deadline()
	if !ok {
		dl = time.Now().Add(24 * time.Hour)
	}
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	if _, err := c.waitInSync(ctx, 90*time.Second); err != nil {
		t.Fatalf("the cluster did not come up: %v\n%s", err, c.logTails(3000))
	}
	initial := map[int]uint64{}
	trial := 0
	for round := range n {
		for _, f := range faults {
			if only != "" && !strings.Contains(f.title(copies), only) || done[f.title(copies)] > round {
				continue
			}
			trial++
			res, final := runTrial(t, ctx, c, trial, f, initial)
			res.commit = commit
			results = append(results, res)
			if err := appendState(state, res, commit); err != nil {
				t.Error(err)
			}
			t.Logf("trial %d (round %d) %s: %d ops (%d failed), linearizable %v, lost %d, torn %d, pause %v, write stall %v, in sync after %v, identical %v %s",
				trial, round+1, res.fault, res.Ops, res.Failed, res.Linearizable, res.LostAcked, res.Torn, res.Pause.Round(time.Millisecond),
				res.WriteStall.Round(time.Millisecond), res.resyncWait.Round(time.Millisecond), res.identical, res.err)
			if res.err != "" || res.Linearizable != porcupine.Ok || res.LostAcked > 0 || res.Torn > 0 || !res.identical || res.Stale != "" {
				t.Errorf("trial %d, %s: %s; stale: %s\n%s", trial, res.fault, res.err, res.Stale, c.logTails(6000))
				writeReport(t, report, copies, results, n)
				return
			}
			initial = final
		}
		// The table so far, after every round: a soak cut short still
		// leaves the rounds it finished.
		writeReport(t, report, copies, results, n)
	}
}

// runTrial runs the load, injects f, heals, waits for the replicas to be
// in sync, stops the load and checks everything.
func runTrial(t *testing.T, ctx context.Context, c *haCluster, trial int, f fault, initial map[int]uint64) (trialResult, map[int]uint64) {
	res := trialResult{fault: f.title(len(c.storage)), primary: f.primaryLoss}
	before, err := c.waitInSync(ctx, 120*time.Second)
	if err != nil {
		res.err = "before the fault: " + err.Error()
		return res, initial
	}
	primary := before.Primary
	// The replica a fault names: with three copies, each in turn.
	others := c.others(primary)
	replica := others[trial%len(others)]
	logAt := map[string]int64{}
	for _, h := range c.storage {
		logAt[h] = c.logSize(h)
	}
	lp := startLoad(t, c, trial)
	if trial == 1 {
		// The prefill: the volume holds data everywhere before the
		// first fault (the load's first operations follow it).
		if err := waitForOps(lp.out, 2*time.Minute); err != nil {
			res.err = err.Error()
			lp.stop(90 * time.Second)
			return res, initial
		}
	}
	time.Sleep(2 * time.Second)
	faultAt := time.Now().UnixNano()
	if err := f.inject(c, primary, replica); err != nil {
		res.err = "inject: " + err.Error()
		lp.stop(90 * time.Second)
		return res, initial
	}
	healed := time.Now()
	var newEpoch uint64 // a fault that takes the primary away ends in a promotion
	if f.primaryLoss {
		newEpoch = before.Epoch
	}
	_, err = c.waitInSyncAfter(ctx, 120*time.Second, newEpoch)
	res.resyncWait = time.Since(healed)
	if err != nil {
		res.err = "after the fault: " + err.Error()
	}
	time.Sleep(time.Second) // some I/O with both in sync again
	ops, lerr := lp.stop(90 * time.Second)
	if lerr != nil {
		res.err = strings.TrimSpace(res.err + " " + lerr.Error())
		return res, initial
	}
	// Once more with the load stopped: the images are compared only when
	// the record says both are in sync with nothing writing.
	after, err := c.waitInSync(ctx, 120*time.Second)
	if err != nil {
		res.err = strings.TrimSpace(res.err + " after the load: " + err.Error())
	} else if f.keepsPrimary && (after.Primary != primary || after.Epoch != before.Epoch) {
		res.err = strings.TrimSpace(fmt.Sprintf("%s the primary did not stay: %s at epoch %d before the fault, %s at epoch %d after (a lease given up?)",
			res.err, primary, before.Epoch, after.Primary, after.Epoch))
	}
	res.verdict = analyze(ops, initial, faultAt, 60*time.Second)
	for _, h := range c.storage {
		res.copied += c.resyncCopied(h, logAt[h])
	}
	for _, o := range ops {
		if o.Write && o.Call >= faultAt && o.Call <= healed.UnixNano() {
			res.written += blockBytes
		}
	}
	// The load has ended: nothing writes, both replicas are in sync.
	if err := c.compareImages(); err != nil {
		res.err = strings.TrimSpace(res.err + " " + err.Error())
	} else {
		res.identical = true
	}
	return res, res.Final
}

// waitForOps waits until the load has logged an operation (or flushed
// any): its prefill is done.
func waitForOps(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the load's prefill did not end within %v", timeout)
}
