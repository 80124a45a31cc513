package ha

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// A campaign given a state file (HALUN_HA_STATE for two copies,
// HALUN_HA_STATE_THREE for three) records each finished trial in it, one
// JSON line, and on start runs only what the file lacks of the trials
// asked: a soak longer than one sitting (100 trials of 9 faults take
// about 2.5 hours per layout) goes on where the last run stopped, and
// its table counts every trial recorded. Each record names the commit
// it ran on, and the table says which commits the trials ran on.

// trialRecord is a finished trial as a state file keeps it.
type trialRecord struct {
	Fault        string `json:"fault"`
	PrimaryLoss  bool   `json:"primary_loss"`
	Commit       string `json:"commit"`
	At           string `json:"at"`
	Ops          int    `json:"ops"`
	Failed       int    `json:"failed"`
	Linearizable string `json:"linearizable"`
	Stale        string `json:"stale,omitempty"`
	LostAcked    int    `json:"lost_acked"`
	Torn         int    `json:"torn"`
	PauseNs      int64  `json:"pause_ns"`
	WriteStallNs int64  `json:"write_stall_ns"`
	ResyncWaitNs int64  `json:"resync_wait_ns"`
	Identical    bool   `json:"identical"`
	Err          string `json:"err,omitempty"`
	Copied       int64  `json:"copied"`
	Written      int64  `json:"written"`
}

func recordOf(r trialResult, commit string, at time.Time) trialRecord {
	return trialRecord{Fault: r.fault, PrimaryLoss: r.primary, Commit: commit, At: at.UTC().Format(time.RFC3339),
		Ops: r.Ops, Failed: r.Failed, Linearizable: checkResultName(r.Linearizable), Stale: r.Stale,
		LostAcked: r.LostAcked, Torn: r.Torn, PauseNs: int64(r.Pause), WriteStallNs: int64(r.WriteStall),
		ResyncWaitNs: int64(r.resyncWait), Identical: r.identical, Err: r.err, Copied: r.copied, Written: r.written}
}

func (rec trialRecord) result() trialResult {
	r := trialResult{fault: rec.Fault, primary: rec.PrimaryLoss, resyncWait: time.Duration(rec.ResyncWaitNs),
		identical: rec.Identical, err: rec.Err, copied: rec.Copied, written: rec.Written, commit: rec.Commit}
	r.Ops, r.Failed, r.Stale, r.LostAcked, r.Torn = rec.Ops, rec.Failed, rec.Stale, rec.LostAcked, rec.Torn
	r.Linearizable = checkResultOf(rec.Linearizable)
	r.Pause, r.WriteStall = time.Duration(rec.PauseNs), time.Duration(rec.WriteStallNs)
	return r
}

func checkResultName(c porcupine.CheckResult) string {
	switch c {
	case porcupine.Ok:
		return "ok"
	case porcupine.Illegal:
		return "illegal"
	}
	return "unknown"
}

func checkResultOf(s string) porcupine.CheckResult {
	switch s {
	case "ok":
		return porcupine.Ok
	case "illegal":
		return porcupine.Illegal
	}
	return porcupine.Unknown
}

// loadState reads a state file's trials; a file that does not exist
// holds none. A line that does not parse is an error naming it.
func loadState(path string) ([]trialResult, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the campaign's state: %w", err)
	}
	defer f.Close()
	var out []trialResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec trialRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if rec.Fault == "" {
			return nil, fmt.Errorf("%s:%d: a trial with no fault", path, line)
		}
		out = append(out, rec.result())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// appendState adds one finished trial to the state file, if there is one.
func appendState(path string, r trialResult, commit string) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(recordOf(r, commit, time.Now()))
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("recording a trial: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("recording a trial: %w", err)
	}
	return f.Close()
}

// trialsDone counts the recorded trials of each fault.
func trialsDone(rs []trialResult) map[string]int {
	n := map[string]int{}
	for _, r := range rs {
		n[r.fault]++
	}
	return n
}

// sourceCommit names the checkout the campaign runs from: the commit,
// with "-dirty" when files outside docs/ differ from it (the campaign
// writes its tables and state there), or "unknown".
func sourceCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet", "HEAD", "--", ":/", ":(top,exclude)docs").Run() != nil {
		commit += "-dirty"
	}
	return commit
}
