// Package metrics owns halun's Prometheus endpoint (--metrics-listen): a
// collector that reads the node's counters when it is scraped — per
// volume commands, bytes, latency and errors (scsi.Stats), sessions,
// logins and task management (iscsi.Server), config reloads, and on a
// cluster node the replication state — so the command path pays only the
// atomic adds of those counters. Labels are bounded by configuration:
// volumes, targets, logged-in initiators, portals, replicas; never a
// command, an LBA or a name an initiator made up.
package metrics
