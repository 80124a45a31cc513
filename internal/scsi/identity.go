package scsi

// WWID returns the logical unit's World Wide Identifier as Linux's
// `scsi_id --whitelisted` prints it and XenServer names the disk (see
// identity.Identity.WWID).
func (lu *LU) WWID() string { return lu.cfg.Identity.WWID() }
