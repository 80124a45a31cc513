package scsi

import (
	"encoding/hex"
)

// WWID returns the logical unit's World Wide Identifier as Linux's
// `scsi_id --whitelisted` prints it from VPD page 0x83: "3" (the NAA
// designator type) followed by the NAA-6 designator in lower-case hex,
// e.g. 36001405…. Like every logical-unit designator it depends on cfg
// alone (serial, vendor and product id), so the same volume config gives
// the same WWID on every node.
func WWID(cfg LUConfig) string {
	naa := naa6(withIdentityDefaults(cfg))
	return "3" + hex.EncodeToString(naa[:])
}

// WWID returns the LU's World Wide Identifier; see the function WWID.
func (lu *LU) WWID() string { return WWID(lu.cfg) }

// withIdentityDefaults fills the identity fields NewLU defaults.
func withIdentityDefaults(cfg LUConfig) LUConfig {
	if cfg.VendorID == "" {
		cfg.VendorID = DefaultVendorID
	}
	if cfg.ProductID == "" {
		cfg.ProductID = DefaultProductID
	}
	return cfg
}
