// Package bench is a verifying I/O load through the project's multipath
// initiator (internal/initiator.Multipath): what `halun bench` runs to
// watch I/O continue through a failover of a halun cluster, or to load a
// single node quickly.
//
// It owns the load and its checks. Workers each own a disjoint set of
// blocks of a region of the logical unit (block b belongs to worker
// b mod workers), write them at random with a pattern no other write
// uses (the run's random ID, the worker, its sequence number and the
// block number, repeated through the block) and read back blocks they
// wrote. Because a block has a single writer, the worker knows what it
// may hold: the value of the last write acknowledged for it, or the value
// of any write since whose outcome is unknown because it failed. A read
// that returns anything else, or a block whose copies of the pattern
// disagree (torn), is a verification error.
//
// Run reports progress every interval (operations, bytes, failures,
// verification errors, new path switches) and returns a Result: counts,
// the longest time no operation completed successfully (the pause a
// failover causes), latency percentiles, and the multipath's path
// switches. It does not own the multipath device: the caller builds it
// (portals, login options, AttemptTimeout) and closes it.
package bench
