// Package importer converts the configuration of other Linux iSCSI targets
// into a halun config: ietd.conf of the iSCSI Enterprise Target (with its
// initiators.allow and initiators.deny), scst.conf as scstadmin writes it,
// the saveconfig.json of LIO's targetcli, and for tgt (STGT) either its
// targets.conf as tgt-admin reads it or the output of `tgtadm --op show
// --mode target`.
//
// The aim is that initiators see the same disks after the move: the unit
// serial (IET ScsiSN, SCST usn, LIO vpd_unit_serial) becomes the volume's
// serial, and the report says precisely which parts of the SCSI identity
// (VPD 0x80, the designators of VPD 0x83) stay identical and which change.
// tgt's identity is reproduced byte for byte: its volumes get identity
// style tgt with the tid and LUN tgt gave them (package identity).
// Whatever halun cannot carry — an identity field without a halun
// equivalent, an access rule halun cannot express, a cache or emulation
// setting — is listed as a Finding with the source file and line, never
// dropped silently. Access restrictions are never widened without a
// finding that says so.
//
// The parsers are pure: they read the bytes they are given and nothing
// else. The one thing they may ask about the host, the size of a file
// volume whose source config does not record it, goes through
// Options.Stat, so tests run without the files.
package importer
