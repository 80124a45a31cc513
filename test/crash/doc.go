// Package crash kills a real halun daemon with SIGKILL at random moments
// under a verified write load and checks, after every restart, that nothing
// acknowledged as durable was lost and that no metadata file was torn:
//
//   - every block of a write-through volume holds the last write whose GOOD
//     status reached the initiator, or a later one that was in flight;
//   - every block of a write-back volume holds at least the last write made
//     durable by FUA or by a completed SYNCHRONIZE CACHE;
//   - every block is whole (its checksum and address stamp verify) or was
//     never written;
//   - persistent reservations with APTPL hold the last registration
//     acknowledged (or the one in flight);
//   - the generated serial (serials.json) is the same after every restart;
//   - the config file, rewritten by `alua set` during the load, always
//     parses and holds one of the states written.
//
// `make test` runs a few kills (HALUN_CRASH_KILLS, default 5); `make soak`
// runs 60. A SIGKILL ends the process, not the machine: the page cache
// survives it, so this proves the daemon's own ordering (status after the
// write, atomic metadata files), not the disk's flush behaviour.
package crash
