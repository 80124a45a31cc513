// Package workers owns the pool of reusable goroutines the hot paths run
// their concurrent work on (iSCSI tasks that leave their connection's
// reader, a replica's requests): a goroutine per call would grow a new
// stack for every call.
package workers
