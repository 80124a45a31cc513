package ha

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// A campaign's state file gives back each recorded trial as it was, so
// a soak resumed later counts what ran before; the table names the
// commits when the trials ran on more than one.
func TestState_ResumesWhatWasRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.jsonl")
	if rs, err := loadState(path); err != nil || len(rs) != 0 {
		t.Fatalf("a state file not yet written: %d trials, %v", len(rs), err)
	}
	a := trialResult{fault: "kill -9 the primary", primary: true, resyncWait: 1500 * time.Millisecond,
		identical: true, copied: 64 << 20, written: 12 << 20}
	a.Ops, a.Linearizable, a.Pause, a.WriteStall = 12000, porcupine.Ok, 2300*time.Millisecond, 2310*time.Millisecond
	b := trialResult{fault: "planned switchover (halun cluster promote)", err: "after the fault: timeout"}
	b.Linearizable, b.LostAcked, b.Torn, b.Stale = porcupine.Illegal, 2, 1, "block 3"
	for i, r := range []trialResult{a, b, a} {
		commit := "abc1234"
		if i == 2 {
			commit = "def5678"
		}
		if err := appendState(path, r, commit); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d trials back, want 3", len(rs))
	}
	got, want := rs[0], a
	want.commit = "abc1234"
	if got.fault != want.fault || got.primary != want.primary || got.resyncWait != want.resyncWait || got.identical != want.identical ||
		got.copied != want.copied || got.written != want.written || got.Ops != want.Ops || got.Linearizable != want.Linearizable ||
		got.Pause != want.Pause || got.WriteStall != want.WriteStall || got.commit != want.commit {
		t.Errorf("trial 1 back as %+v, want %+v", got, want)
	}
	if g := rs[1]; g.err != b.err || g.Linearizable != porcupine.Illegal || g.LostAcked != 2 || g.Torn != 1 || g.Stale != "block 3" || g.identical {
		t.Errorf("trial 2 back as %+v, want %+v", g, b)
	}
	if n := trialsDone(rs); n[a.fault] != 2 || n[b.fault] != 1 {
		t.Errorf("trials done: %v", n)
	}
	if c := commits(rs); c != "abc1234 (2 trials), def5678 (1 trials)" {
		t.Errorf("commits: %q", c)
	}
	if c := commits(rs[:2]); c != "" {
		t.Errorf("one commit named: %q", c)
	}

	if err := os.WriteFile(path, []byte("{\"fault\":\"x\"}\n{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("a bad line: %v, want an error naming %s:2", err, path)
	}
}
