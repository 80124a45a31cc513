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
// Every copy of a volume carries a generation (generation.go, genfile.go):
// the volume's cluster identifier, a data identifier chosen when the copy
// was initialised, and the last epoch whose writes it applied, raised
// durably before they are. The record is tied to the image it describes,
// so a wiped or replaced image starts again at epoch 0. A replica reports
// it in its hello reply, and the primary decides (decide.go) from it and
// its own lineage whether the replica needs a bitmap resync, a full one,
// or must be refused: a copy that may hold acknowledged writes the
// primary lacks is never overwritten without an operator's word.
//
// The wire format (wire.go) is a fixed 40-byte header and a payload; the
// transport (mutual TLS between cluster nodes) is the caller's.
package replication
