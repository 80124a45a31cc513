// Package ha is halun's fault campaign for replicated volumes: it builds
// network namespaces (storage nodes a and b and witness w — or storage
// nodes a, b and c, three copies — and initiator host i, joined by a
// bridge in a namespace of its own), runs each node as its own
// `halun serve` or `halun witness` process with its own data directory,
// and drives a verifying read/write load through the project's multipath
// initiator from the initiator host while it injects one fault per trial:
// the primary killed, frozen, cut off, or isolated from its peers while
// initiators still reach it; a replica killed mid-write or returning with
// a wiped disk; etcd's leader killed (the witness, or a replica); every
// storage node killed; a planned switchover. Every trial checks the load's history
// for linearizability (porcupine, one register per block), counts
// acknowledged writes lost, measures the I/O pause the initiator saw, and
// compares the replicas byte for byte once resync ends; where the fault
// spares the primary, it must still be primary at the same epoch.
//
// The test needs root (ip netns); it removes every namespace and process
// it made. HALUN_HA_TRIALS sets the trials per fault with two copies
// (make test: 2; make soak: more), HALUN_HA_TRIALS_THREE with three (make
// test: 1), HALUN_HA_REPORT and HALUN_HA_REPORT_THREE Markdown files for
// their results tables; HALUN_HA_FAULTS, if set, runs only the faults
// whose name contains it.
package ha
