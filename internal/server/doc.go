// Package server assembles a running halun node from a validated config:
// it opens the backends, builds the SCSI logical units and targets, and runs
// the iSCSI portals until the context ends, then shuts down gracefully.
package server
