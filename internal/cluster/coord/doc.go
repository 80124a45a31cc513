// Package coord owns the cluster's agreement: the embedded etcd member
// every storage node and the witness run, the mutual-TLS client halun
// talks to etcd with, and the records in etcd that say who may serve a
// replicated volume — its primary, its epoch and its in-sync set — and
// which nodes are alive.
//
// # Members
//
// StartMember runs one etcd voter inside the halun process (2 storage
// nodes + a witness = 3 voters). Peer and client listeners speak TLS with
// the node's pki certificate and accept only clients presenting a
// certificate of the cluster CA; etcd itself checks the peer URL hosts
// against the certificates' IP and DNS SANs, so a node's pki Hosts must
// include the addresses in its URLs. A member restarted on the same data
// directory rejoins the cluster from its log. Dial connects a Client the
// way every halun cluster link does (pki.Identity.ClientTLS): the server
// must be a node of the cluster, whatever address was dialled.
//
// # Records
//
// Each replicated volume has one key, /halun/v1/volumes/<name>, holding
// JSON such as
//
//	{"primary": "a", "epoch": 7, "in_sync": ["a", "b"], "replicas": ["a", "b"],
//	 "id": "0813199b…", "forced_at": 5, "diverged": ["c"], "discard": []}
//
// and each live node one key, /halun/v1/nodes/<name>, attached to an etcd
// lease the node keeps alive (Client.KeepAlive). Every change of a volume
// record is one etcd transaction that compares the record's mod revision
// with the one the decision was based on, so concurrent deciders never
// both win: Promote (a node in sync becomes primary if there is none or
// the primary's node key is gone, and the epoch goes up), ForcePromote
// (disaster recovery), OutOfSync and BackInSync (the primary changes the
// in-sync set, guarded by its primary name and epoch: a deposed primary
// is told it is fenced; OutOfSyncFunc is replication's OutOfSync
// callback built on it). The record also carries what decides how a
// replica is resynced (generations.go): the volume's id, the epoch of
// the latest forced promotion, the replicas refused as diverged
// (MarkDiverged) and those an operator discarded (Discard); a node whose
// copy is new gives up its in-sync place (Relinquish). WatchVolume follows
// a record.
//
// # Time
//
// A lease alone never makes a node primary: the epoch does. But a primary
// must stop serving before a successor can promote, which the successor
// may do as soon as the primary's lease has expired in etcd. The primary
// therefore watches Lease.Lost, which fires at Lease.Deadline at the
// latest: the local time of the last keep-alive that succeeded, taken
// when it was sent, plus the lease TTL, minus a margin. Failover takes at
// least the TTL, plus an election timeout when the etcd leader dies with
// the primary (a new etcd leader extends every lease). An election alone
// (the leader lost, the primary alive) costs the primary nothing: its
// keep-alives are frequent and retried, and an election ends before its
// deadline (see Lease).
//
// Every call that needs etcd blocks while the cluster has no quorum, so
// each is bounded: by the caller's context deadline, or by
// DefaultRequestTimeout when the context has none.
package coord
