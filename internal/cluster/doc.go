// Package cluster assembles a storage node's cluster side: it loads the
// node's certificates (pki), runs its embedded etcd member and talks to
// the cluster's records (coord), serves the replica side of every volume
// the node holds and, for each volume it is primary of, writes through a
// replicated store (replication). It gives the server its parts
// (server.Parts): each replicated volume's store, whose writes go to the
// in-sync replicas while this node is primary and are refused (fenced)
// otherwise, and each volume's ALUA state — the primary's target port
// groups active/optimized, every other node's standby, all of them
// transitioning while no node is primary.
//
// A controller per volume follows the volume's record: a node in the
// in-sync set promotes itself (one etcd transaction, epoch + 1) when the
// volume has no live primary; a primary whose record moves on, or whose
// lease is lost, stops serving at once. Replicas out of sync are resynced
// in the background from the primary's dirty bitmaps, in full, or not at
// all, as their copies' generations decide (generation.go): a copy that
// may hold acknowledged writes the primary lacks waits, listed diverged,
// for an operator's halun cluster discard.
package cluster
