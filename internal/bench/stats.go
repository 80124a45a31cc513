package bench

import (
	"sync"
	"time"
)

// maxDetails is how many failure and verification messages a Result
// keeps.
const maxDetails = 20

// Tick is the progress of one interval.
type Tick struct {
	// Elapsed is the time since the load started.
	Elapsed time.Duration
	// Ops, Reads, Writes and Bytes count the operations that succeeded
	// in the interval, Failed those that failed, VerifyErrors the reads
	// that returned what the block cannot hold.
	Ops, Reads, Writes, Bytes, Failed, VerifyErrors int64
	// OpsPerSec and MiBPerSec are the interval's rates.
	OpsPerSec, MiBPerSec float64
	// Switches are the path switches the multipath made in the interval.
	Switches []string
}

// Result is the outcome of a run.
type Result struct {
	// Blocks, BlockSize and Workers describe the load: Blocks blocks of
	// BlockSize bytes from LBA 0, shared among Workers.
	Blocks    int64 `json:"blocks"`
	BlockSize int   `json:"block_size"`
	Workers   int   `json:"workers"`
	// Elapsed is the whole run, from the first operation to the last.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Ops, Reads, Writes and Bytes count successful operations.
	Ops    int64 `json:"ops"`
	Reads  int64 `json:"reads"`
	Writes int64 `json:"writes"`
	Bytes  int64 `json:"bytes"`
	// Failed counts operations that failed (within OpTimeout, every path
	// tried); Cancelled those cut short by the end of the context.
	Failed    int64 `json:"failed"`
	Cancelled int64 `json:"cancelled"`
	// VerifyErrors counts reads that returned data the block cannot
	// hold (a lost or misplaced write, a torn block): it must be 0.
	VerifyErrors int64 `json:"verify_errors"`
	// LongestPause is the longest time in which no operation completed
	// successfully, and PauseStart when it began (from the start).
	LongestPause time.Duration `json:"longest_pause_ns"`
	PauseStart   time.Duration `json:"pause_start_ns"`
	// Latency percentiles of successful operations.
	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP99 time.Duration `json:"latency_p99_ns"`
	LatencyMax time.Duration `json:"latency_max_ns"`
	// Switches are the multipath's path switches ("path 0 -> 1: why").
	Switches []string `json:"switches"`
	// VerifyDetails and FailureDetails are the first messages of each
	// kind.
	VerifyDetails  []string `json:"verify_details,omitempty"`
	FailureDetails []string `json:"failure_details,omitempty"`
}

// OK says whether the run verified: some operation succeeded and no
// read returned what its block cannot hold.
func (r *Result) OK() bool { return r.Ops > 0 && r.VerifyErrors == 0 }

// stats gathers completions from every worker.
type stats struct {
	mu                       sync.Mutex
	start, lastOK            time.Time
	total, tick              counts
	hist                     histogram
	longest                  time.Duration
	pauseStart               time.Duration
	verifyDetails, failedMsg []string
	cancelled                int64
}

type counts struct {
	ops, reads, writes, bytes, failed, verify int64
}

func newStats(start time.Time) *stats {
	return &stats{start: start, lastOK: start}
}

// done records a successful operation of n bytes that took lat.
func (s *stats) done(write bool, n int, lat time.Duration) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gap(now)
	for _, c := range []*counts{&s.total, &s.tick} {
		c.ops++
		c.bytes += int64(n)
		if write {
			c.writes++
		} else {
			c.reads++
		}
	}
	s.hist.add(lat)
}

// gap ends a pause at now; s.mu is held.
func (s *stats) gap(now time.Time) {
	if d := now.Sub(s.lastOK); d > s.longest {
		s.longest, s.pauseStart = d, s.lastOK.Sub(s.start)
	}
	s.lastOK = now
}

func (s *stats) failed(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.failed++
	s.tick.failed++
	if len(s.failedMsg) < maxDetails {
		s.failedMsg = append(s.failedMsg, msg)
	}
}

func (s *stats) mismatch(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.verify++
	s.tick.verify++
	if len(s.verifyDetails) < maxDetails {
		s.verifyDetails = append(s.verifyDetails, msg)
	}
}

func (s *stats) cancel() {
	s.mu.Lock()
	s.cancelled++
	s.mu.Unlock()
}

// interval returns the counts since the last call and starts anew.
func (s *stats) interval() counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.tick
	s.tick = counts{}
	return c
}

// result fills r with the totals at end.
func (s *stats) result(r *Result, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A pause the end of the run interrupted counts too.
	if d := end.Sub(s.lastOK); d > s.longest {
		s.longest, s.pauseStart = d, s.lastOK.Sub(s.start)
	}
	r.Elapsed = end.Sub(s.start)
	r.Ops, r.Reads, r.Writes, r.Bytes = s.total.ops, s.total.reads, s.total.writes, s.total.bytes
	r.Failed, r.Cancelled, r.VerifyErrors = s.total.failed, s.cancelled, s.total.verify
	r.LongestPause, r.PauseStart = s.longest, s.pauseStart
	r.LatencyP50, r.LatencyP99, r.LatencyMax = s.hist.quantile(0.5), s.hist.quantile(0.99), s.hist.max
	r.VerifyDetails = append([]string(nil), s.verifyDetails...)
	r.FailureDetails = append([]string(nil), s.failedMsg...)
}
