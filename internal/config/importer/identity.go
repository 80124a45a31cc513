package importer

import (
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/halun/halun/internal/identity"
)

// Every importer carries the source's SCSI identity as an identity style
// (package identity) with the inputs that target's source computed it
// from, so that initiators see the same standard INQUIRY vendor, product
// and revision, the same VPD 0x80 and the same logical-unit designators
// of VPD 0x83, byte for byte. What cannot be told from the config alone
// (a version-dependent default, a value computed from an inode) is a
// finding that says how to read it from the old host.

// identityNotes are the comment lines above a volume whose identity is
// carried: what stays identical, and the WWID initiators know it by.
func identityNotes(source string, v *volume) []string {
	s := v.ident
	s.Serial = v.serial
	id, err := identity.Resolve(s)
	if err != nil {
		return []string{"identity: " + err.Error()}
	}
	return []string{
		fmt.Sprintf("Identity carried (style %s): standard INQUIRY %q/%q/%q, VPD 0x80 and the", s.StyleName(), id.Vendor, id.Product, id.Revision),
		fmt.Sprintf("logical-unit designators of VPD 0x83 are those %s sent. WWID %s.", source, id.WWID()),
	}
}

// checkIdentity reports, as a REVIEW finding at line, a volume whose
// identity cannot be resolved (the output then fails config check with
// the same reason).
func checkIdentity(v *volume, fs *findings, line int, who string) {
	s := v.ident
	s.Serial = v.serial
	if v.serial == "" {
		return
	}
	if _, err := identity.Resolve(s); err != nil {
		fs.review(line, "%s: %s", who, strings.TrimPrefix(err.Error(), "identity: "))
	}
}

// checkSerial reports whether s is usable as a halun serial (1..64
// printable ASCII characters without spaces), and why not.
func checkSerial(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%q has %d characters; halun takes 1..64", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%q has a space or a character outside printable ASCII", s)
		}
	}
	return nil
}

// castagnoli is CRC-32C's table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// scstDevIDNum is SCST's device ID number for a vdisk
// (scst_vdisk.c vdisk_gen_dev_id_num): setup_id in the high 32 bits, and
// in the low 32 the kernel's crc32c(0, name, strlen(name)+1) — CRC-32C of
// the name and its NUL, seeded with 0 and not inverted at the end.
func scstDevIDNum(name string, setupID uint32) uint64 {
	raw := ^crc32.Update(^uint32(0), castagnoli, append([]byte(name), 0))
	return uint64(setupID)<<32 | uint64(raw)
}

// scstDefaultUSN is the usn SCST generates: the device ID number in
// lower-case hex, without leading zeros ("%llx").
func scstDefaultUSN(name string, setupID uint32) string {
	return fmt.Sprintf("%x", scstDevIDNum(name, setupID))
}

// scstDefaultT10DevID is the t10_dev_id SCST generates: "%llx-%s" of the
// device ID number and the name, cut to 25 characters.
func scstDefaultT10DevID(name string, setupID uint32) string {
	s := fmt.Sprintf("%x-%s", scstDevIDNum(name, setupID), name)
	if len(s) > 25 {
		s = s[:25]
	}
	return s
}

// scstRevisions is prod_rev_lvl's default in each SCST release
// (SCST_FIO_REV in scst_vdisk.c of each tag).
var scstRevisions = map[string]string{
	"3.0": " 300", "3.1": " 310", "3.2": " 320", "3.3": "330 ", "3.4": "340 ", "3.5": "350 ",
	"3.6": "360 ", "3.7": "370 ", "3.8": "380 ", "3.9": "390 ", "3.10": "3100", "3.11": "3110",
}

// SCSTRevision returns the standard INQUIRY revision SCST release version
// (e.g. "3.6") reports by default.
func SCSTRevision(version string) (string, error) {
	if r, ok := scstRevisions[version]; ok {
		return r, nil
	}
	return "", fmt.Errorf("SCST version %q: one of 3.0 … 3.11", version)
}
