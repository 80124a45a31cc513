package scsi

import (
	"sync/atomic"
	"time"
)

// StatClass is how a command counts in a logical unit's statistics; the
// opcode table gives every command its class.
type StatClass uint8

// The classes of StatClass.
const (
	StatOther     StatClass = iota // everything else: INQUIRY, TEST UNIT READY, …
	StatRead                       // READ(6/10/12/16)
	StatWrite                      // WRITE, WRITE AND VERIFY, ORWRITE, COMPARE AND WRITE, WRITE ATOMIC
	StatUnmap                      // UNMAP
	StatWriteSame                  // WRITE SAME(10/16)
	StatSync                       // SYNCHRONIZE CACHE(10/16)
	NumStatClasses
)

var statClassNames = [NumStatClasses]string{"other", "read", "write", "unmap", "write_same", "sync"}

// String is the class's name as the metrics label it: read, write, …
func (c StatClass) String() string {
	if c < NumStatClasses {
		return statClassNames[c]
	}
	return "other"
}

// LatencyBuckets are the upper bounds of the command latency histogram.
var LatencyBuckets = [...]time.Duration{
	25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
}

// Stats are a logical unit's command statistics: counts, bytes and a
// latency histogram per class, and CHECK CONDITIONs by sense key. The
// command path only adds to atomic counters; the metrics endpoint reads
// them when it is scraped.
type Stats struct {
	class [NumStatClasses]classStats
	// senseKeys counts CHECK CONDITION results by sense key.
	senseKeys [16]atomic.Uint64
}

type classStats struct {
	bytes atomic.Uint64
	// buckets[i] counts latencies ≤ LatencyBuckets[i] and above the
	// bound before; the last counts the rest.
	buckets [len(LatencyBuckets) + 1]atomic.Uint64
	nanos   atomic.Uint64
}

// record counts one command of class c that moved n bytes in d, with
// result r.
func (s *Stats) record(c StatClass, n int, d time.Duration, r *Result) {
	cs := &s.class[c]
	if n > 0 {
		cs.bytes.Add(uint64(n))
	}
	i := 0
	for i < len(LatencyBuckets) && d > LatencyBuckets[i] {
		i++
	}
	cs.buckets[i].Add(1)
	cs.nanos.Add(uint64(d))
	if r.Status == StatusCheckCondition {
		s.senseKeys[senseKey(r.Sense)].Add(1)
	}
}

// senseKey is the sense key of fixed or descriptor format sense data.
func senseKey(b []byte) uint8 {
	switch {
	case len(b) > 2 && b[0]&0x7e == 0x70:
		return b[2] & 0x0f
	case len(b) > 1 && b[0]&0x7e == 0x72:
		return b[1] & 0x0f
	}
	return 0
}

// ClassStats is a snapshot of one class's statistics.
type ClassStats struct {
	Commands, Bytes uint64
	// Buckets are cumulative: Buckets[i] counts the commands that took
	// at most LatencyBuckets[i]; Commands counts them all.
	Buckets [len(LatencyBuckets)]uint64
	// Seconds is the sum of all latencies.
	Seconds float64
}

// StatsSnapshot is a snapshot of a logical unit's Stats.
type StatsSnapshot struct {
	Class [NumStatClasses]ClassStats
	// SenseKeys counts CHECK CONDITION results by sense key.
	SenseKeys [16]uint64
}

// Stats returns a snapshot of the LU's command statistics.
func (lu *LU) Stats() StatsSnapshot {
	var out StatsSnapshot
	for c := range out.Class {
		cs, o := &lu.stats.class[c], &out.Class[c]
		var cum uint64
		for i := range o.Buckets {
			cum += cs.buckets[i].Load()
			o.Buckets[i] = cum
		}
		o.Commands = cum + cs.buckets[len(LatencyBuckets)].Load()
		o.Bytes = cs.bytes.Load()
		o.Seconds = float64(cs.nanos.Load()) / 1e9
	}
	for k := range out.SenseKeys {
		out.SenseKeys[k] = lu.stats.senseKeys[k].Load()
	}
	return out
}
