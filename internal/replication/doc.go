// Package replication owns the data path between a replicated volume's
// primary and its replicas, with the semantics of DRBD's protocol C: a
// write is acknowledged to the initiator only once the primary and every
// in-sync replica have it (durable where the volume writes through, in
// their cache otherwise, with SYNCHRONIZE CACHE and FUA carried through).
//
// The primary side is Store, a backend.Store: the SCSI layer writes to it
// as to any store, and it writes locally and to every in-sync replica in
// parallel. Overlapping writes never run at once on the primary (a range
// lock orders them), so every replica applies them in the order the
// primary did, and replicas stay byte-identical. A replica that fails or
// stops answering within the replica timeout is removed from the in-sync
// set through a callback (an etcd transaction, in a cluster) before any
// write it missed is acknowledged; if the removal cannot be made, the
// primary acknowledges nothing and reports itself fenced.
//
// The replica side is Replica: it serves one connection per volume from a
// primary, applies each request to its local store and answers it. Every
// request carries the volume's epoch; a replica persists the highest
// epoch it has accepted and refuses anything lower, so a deposed primary
// cannot get a write acknowledged.
//
// The wire format (wire.go) is a fixed 40-byte header and a payload; the
// transport (mutual TLS between cluster nodes) is the caller's.
package replication
