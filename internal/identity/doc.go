// Package identity owns a logical unit's SCSI identity: the standard
// INQUIRY vendor, product and revision, the unit serial of VPD page 0x80,
// and the logical-unit designators of VPD page 0x83 (NAA, T10 vendor ID,
// EUI-64 …). Initiators name disks by it — Linux's scsi_id and
// dm-multipath, XenServer's SCSIid, VMware and Windows MPIO — so it must
// never change under them: not on restart, not on another node of a
// cluster, not in another halun version, and not when a volume moves to
// halun from another target.
//
// An Identity is data: the exact fields and designator bytes an initiator
// receives. A Spec says how to obtain one: a style (halun's own scheme, or
// the scheme of LIO, SCST, IET or tgt) and that style's inputs (serial,
// device ID, company ID …), or explicit designators. Resolve turns a Spec
// into an Identity; it is a pure function whose results are pinned by
// golden vectors taken from each target's source, so the same Spec gives
// the same bytes on every node and in every version.
//
// WWID says what Linux's `scsi_id --whitelisted` prints for an Identity,
// which is also the name XenServer gives the disk (its SCSIid).
package identity
