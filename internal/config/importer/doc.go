// Package importer converts the configuration of other Linux iSCSI targets
// into a halun config: ietd.conf of the iSCSI Enterprise Target (with its
// initiators.allow and initiators.deny), scst.conf as scstadmin writes it,
// the saveconfig.json of LIO's targetcli, tgt's targets.conf as tgt-admin
// reads it or the output of `tgtadm --op show --mode target`, and the
// iSCSITarget and
// iSCSILogicalUnit resources of a Pacemaker cluster (`crm configure show`
// or the CIB XML), whose SCSI identity is computed as the resource agent
// computed it for its implementation (iet, tgt, lio, lio-t or scst).
//
// The aim is that initiators see the same disks after the move: every
// volume gets the identity style of its source target (package identity)
// with the inputs that target computed its SCSI identity from — IET's
// ScsiId and ScsiSN, tgt's scsi_id, scsi_sn, tid and LUN, SCST's usn, t10_dev_id, vend_specific_id, naa_id and
// eui64_id, LIO's vpd_unit_serial and backstore — so standard INQUIRY,
// VPD 0x80 and the logical-unit designators of VPD 0x83 are what the
// initiators saw, byte for byte. Defaults the source config does not
// record are computed as the source computed them; what cannot be told
// from the config (a version-dependent revision, an inode-based ID) is a
// finding that says how to read it on the old host.
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
