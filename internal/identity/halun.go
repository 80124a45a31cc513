package identity

import (
	"crypto/sha256"
	"fmt"
)

// halun's own identity scheme, for volumes created on halun.
const (
	HalunVendor   = "HALUN"
	HalunProduct  = "halun disk"
	HalunRevision = "0001"
)

// halun: standard INQUIRY "HALUN" / "halun disk" / "0001" (or the Spec's
// overrides); VPD 0x80 the serial; VPD 0x83 an NAA 6h designator with the
// company ID 0x001405 and the serial's first 25 hexadecimal digits — the
// way LIO builds it, so a LIO volume whose serial is a UUID keeps its NAA
// — and a T10 vendor ID designator: the vendor padded to 8 bytes, then
// the serial. A serial with fewer than 16 hexadecimal digits would give
// colliding NAA names, so for such serials the 25 digits are the first of
// SHA-256(vendor NUL product NUL serial) instead.
func halun(s Spec) (Identity, error) {
	id := Identity{Vendor: HalunVendor, Product: HalunProduct, Revision: HalunRevision, UnitSerial: s.Serial}
	if s.Vendor != "" {
		id.Vendor = s.Vendor
	}
	if s.Product != "" {
		id.Product = s.Product
	}
	if s.DeviceID != "" || s.DeviceIDBytes != nil {
		return Identity{}, fmt.Errorf("identity: style halun takes no device ID (it is %s's, %s's or %s's)", StyleIET, StyleTGT, StyleSCST)
	}
	company := s.CompanyID
	if company == 0 {
		company = DefaultCompanyID
	}
	digits := hexNibbles(s.Serial)
	if len(digits) < 16 {
		sum := sha256.Sum256([]byte(id.Vendor + "\x00" + id.Product + "\x00" + s.Serial))
		digits = digits[:0]
		for _, x := range sum[:13] {
			digits = append(digits, x>>4, x&0xf)
		}
	}
	id.Designators = []Designator{
		{CodeSet: CodeSetBinary, Type: TypeNAA, Value: naa6(company, digits)},
		{CodeSet: CodeSetASCII, Type: TypeT10Vendor, Value: []byte(pad(id.Vendor, maxVendor) + s.Serial)},
	}
	id.Designators = s.explicit(id.Designators)
	return id, nil
}
