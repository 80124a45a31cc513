package scsi

import (
	"maps"
	"sync"
	"testing"
	"time"
)

var nexusC = Nexus{InitiatorName: "iqn.2026-11.org.halun:c", ISID: [6]byte{0x80, 0, 0, 0, 0, 3}, TargetName: "iqn.2026-11.org.halun:other", TPGT: 1}

// taskLog records what a task set's aborts did to the commands of a test,
// as a transport would see it.
type taskLog struct {
	mu sync.Mutex
	// ended maps a command's name to "no status" or "TASK ABORTED".
	ended map[string]string
}

func newTaskLog() *taskLog { return &taskLog{ended: map[string]string{}} }

// enter adds a command named name from n with tag to set. Its abort, like
// a transport's, ends it once and leaves the task set; leaving calls
// leave first (nil: nothing), standing for the command finishing its work.
func (l *taskLog) enter(set *TaskSet, name string, n Nexus, tag uint64, leave func()) {
	e := new(TaskEntry)
	var once sync.Once
	set.Add(e, n, tag, AbortFunc(func(status bool) bool {
		aborted := false
		once.Do(func() {
			if leave != nil {
				leave()
			}
			l.mu.Lock()
			l.ended[name] = map[bool]string{false: "no status", true: "TASK ABORTED"}[status]
			l.mu.Unlock()
			e.Remove()
			aborted = true
		})
		return aborted
	}))
}

func (l *taskLog) check(t *testing.T, want map[string]string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !maps.Equal(l.ended, want) {
		t.Errorf("aborted %v, want %v", l.ended, want)
	}
}

// TestSAM5_7_TaskManagementFunctions: ABORT TASK and ABORT TASK SET reach
// only the requesting nexus' commands, without status; CLEAR TASK SET
// reaches every nexus' commands, and those of other nexuses end with TASK
// ABORTED status (TAS set, SAM-5 5.6).
func TestSAM5_7_TaskManagementFunctions(t *testing.T) {
	cases := []struct {
		name  string
		tmf   func(s *TaskSet) int
		count int
		want  map[string]string
	}{
		{"7.2 ABORT TASK", func(s *TaskSet) int { return b2i(s.AbortTask(nexusA, 1)) }, 1,
			map[string]string{"A1": "no status"}},
		{"7.2 ABORT TASK of a tag no command of the nexus has", func(s *TaskSet) int { return b2i(s.AbortTask(nexusA, 3)) }, 0,
			map[string]string{}},
		{"7.3 ABORT TASK SET", func(s *TaskSet) int { return s.AbortNexus(nexusA) }, 2,
			map[string]string{"A1": "no status", "A2": "no status"}},
		{"7.4 CLEAR TASK SET", func(s *TaskSet) int { return s.Clear(nexusB) }, 4,
			map[string]string{"A1": "TASK ABORTED", "A2": "TASK ABORTED", "B1": "no status", "B3": "no status"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s TaskSet
			l := newTaskLog()
			l.enter(&s, "A1", nexusA, 1, nil)
			l.enter(&s, "A2", nexusA, 2, nil)
			l.enter(&s, "B1", nexusB, 1, nil)
			l.enter(&s, "B3", nexusB, 3, nil)
			if n := c.tmf(&s); n != c.count {
				t.Errorf("aborted %d commands, want %d", n, c.count)
			}
			l.check(t, c.want)
			if n := c.tmf(&s); n != 0 {
				t.Errorf("the same function again aborted %d commands", n)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSAM5_LogicalUnitReset_AbortsEveryNexus: a LOGICAL UNIT RESET aborts
// the task set of the logical unit the LUN addresses in the requester's
// view: the commands of every nexus on that logical unit, under whatever
// LUN number and target they came, and none on another logical unit that
// another initiator calls by the same number. TARGET RESET does the same
// for each logical unit of the requester's view.
func TestSAM5_LogicalUnitReset_AbortsEveryNexus(t *testing.T) {
	cases := []struct {
		name  string
		reset func(v *Views)
		want  map[string]string
	}{
		{"A resets its LUN 0", func(v *Views) { v.LogicalUnitReset(nexusA, encodeLUN(0)) },
			map[string]string{"A on v1 as LUN 0": "no status", "B on v1 as LUN 5": "TASK ABORTED", "C on v1 through another target": "TASK ABORTED"}},
		{"B resets its LUN 0", func(v *Views) { v.LogicalUnitReset(nexusB, encodeLUN(0)) },
			map[string]string{"B on v2 as LUN 0": "no status"}},
		{"B resets its LUN 5", func(v *Views) { v.LogicalUnitReset(nexusB, encodeLUN(5)) },
			map[string]string{"A on v1 as LUN 0": "TASK ABORTED", "B on v1 as LUN 5": "no status", "C on v1 through another target": "TASK ABORTED"}},
		{"A resets the target", func(v *Views) { v.TargetReset(nexusA) },
			map[string]string{"A on v1 as LUN 0": "no status", "B on v1 as LUN 5": "TASK ABORTED", "C on v1 through another target": "TASK ABORTED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v1, v2 := newViewLU(t, "tasks-v1"), newViewLU(t, "tasks-v2")
			views := NewViews(testTargetName, nil, map[string]map[uint64]*LU{
				nexusA.InitiatorName: {0: v1},
				nexusB.InitiatorName: {0: v2, 5: v1},
			})
			other := NewTarget(nexusC.TargetName, map[uint64]*LU{3: v1})
			l := newTaskLog()
			for _, x := range []struct {
				name string
				tgt  Target
				n    Nexus
				lun  uint64
			}{
				{"A on v1 as LUN 0", views, nexusA, 0},
				{"B on v2 as LUN 0", views, nexusB, 0},
				{"B on v1 as LUN 5", views, nexusB, 5},
				{"C on v1 through another target", other, nexusC, 3},
			} {
				tur := Command{Nexus: x.n, LUN: encodeLUN(x.lun), CDB: make([]byte, 16)}
				wantCheck(t, x.tgt.Execute(&tur), keyUnitAttention, ascPowerOnResetOccurred)
				l.enter(x.tgt.LogicalUnit(x.n, encodeLUN(x.lun)).Tasks(), x.name, x.n, 7, nil)
			}
			c.reset(views)
			l.check(t, c.want)
		})
	}
}

// TestSPC4_PreemptAndAbort_AbortsPreemptedTasks: PREEMPT AND ABORT
// (SPC-4 5.12.11.2.6) aborts every command of the preempted I_T nexuses
// with TASK ABORTED status (TAS set) and leaves the others' alone, also
// when aborting a command needs the LU for a moment; PREEMPT aborts
// nothing. The preempted nexus gets REGISTRATIONS PREEMPTED.
func TestSPC4_PreemptAndAbort_AbortsPreemptedTasks(t *testing.T) {
	cases := []struct {
		name    string
		reserve bool // B holds a Write Exclusive reservation
		sa      byte
		saKey   uint64
		status  uint8
		want    map[string]string
	}{
		{"PREEMPT AND ABORT of the holder", true, prOutPreemptAbort, 0xb, StatusGood,
			map[string]string{"B 1": "TASK ABORTED", "B 2": "TASK ABORTED"}},
		{"PREEMPT AND ABORT of a registrant", false, prOutPreemptAbort, 0xc, StatusGood,
			map[string]string{"C 1": "TASK ABORTED"}},
		{"PREEMPT of the holder", true, prOutPreempt, 0xb, StatusGood,
			map[string]string{}},
		{"PREEMPT AND ABORT of a key nobody holds", false, prOutPreemptAbort, 0xd, StatusReservationConflict,
			map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{}, 100)
			c0 := nexusC
			c0.TargetName = testTargetName
			wantCheck(t, tl.as(c0, make([]byte, 6), nil), keyUnitAttention, ascPowerOnResetOccurred)
			for _, r := range []struct {
				n   Nexus
				key uint64
			}{{nexusA, 0xa}, {nexusB, 0xb}, {c0, 0xc}} {
				wantGood(t, tl.prOut(r.n, prOutRegister, 0, 0, r.key))
			}
			if c.reserve {
				wantGood(t, tl.prOut(nexusB, prOutReserve, prWriteExclusive, 0xb, 0))
			}
			l := newTaskLog()
			// A command on its way out takes the LU's lock, as one
			// waiting in the gate would.
			leave := func() { tl.lu.mu.Lock(); tl.lu.mu.Unlock() }
			for i, x := range []struct {
				name string
				n    Nexus
			}{{"A 1", nexusA}, {"B 1", nexusB}, {"B 2", nexusB}, {"C 1", c0}} {
				l.enter(tl.lu.Tasks(), x.name, x.n, uint64(i), leave)
			}
			done := make(chan Result, 1)
			go func() { done <- tl.prOut(nexusA, c.sa, prWriteExclusive, 0xa, c.saKey) }()
			select {
			case r := <-done:
				if r.Status != c.status {
					t.Fatalf("status %#x, want %#x", r.Status, c.status)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("PREEMPT AND ABORT hangs aborting a command that needs the LU")
			}
			l.check(t, c.want)
			if c.status != StatusGood {
				return
			}
			preempted := map[uint64]Nexus{0xb: nexusB, 0xc: c0}[c.saKey]
			wantCheck(t, tl.as(preempted, make([]byte, 6), nil), keyUnitAttention, ascRegistrationsPreempted)
			for _, n := range []Nexus{nexusA, nexusB, c0} {
				if n != preempted {
					wantGood(t, tl.as(n, make([]byte, 6), nil))
				}
			}
		})
	}
}
