package importer

import (
	"fmt"
	"strings"
)

// How halun builds a logical unit's identity (internal/scsi): VPD 0x80 is
// the serial; VPD 0x83 carries an NAA-6 designator with LIO's company ID
// 0x001405 and the serial's first 25 hexadecimal digits (a serial with
// fewer than 16 hex digits is hashed instead), and a T10 vendor ID
// designator "HALUN" + serial. Linux's scsi_id and dm-multipath name the
// disk by the NAA designator: WWID "3" + its 32 hex digits.

// hexDigits returns the hexadecimal digits of s, in order, lower case.
func hexDigits(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// lioNAA is the NAA designator LIO derives from a unit serial
// (spc_gen_naa_6h_vendor_specific): 6, company ID 001405, then the
// serial's hex digits, at most 25, zero padded. As 32 hex digits.
func lioNAA(serial string) string {
	d := hexDigits(serial)
	if len(d) > 25 {
		d = d[:25]
	}
	return "6001405" + d + strings.Repeat("0", 25-len(d))
}

// halunWWID is the Linux WWID halun's NAA designator gives for serial, and
// whether it can be told from here (serials with fewer than 16 hex digits
// are hashed).
func halunWWID(serial string) (string, bool) {
	if len(hexDigits(serial)) < 16 {
		return "", false
	}
	return "3" + lioNAA(serial), true
}

// halunWWIDText describes the WWID halun will report for serial.
func halunWWIDText(serial string) string {
	if serial == "" {
		return "derived from the serial halun generates on first start"
	}
	if w, ok := halunWWID(serial); ok {
		return w
	}
	return "36001405… from a hash of the serial (it has fewer than 16 hex digits)"
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

// eui64WWID is the Linux WWID of an 8-byte EUI-64 designator: "2" + hex.
func eui64WWID(id []byte) string {
	return fmt.Sprintf("2%x", id)
}
