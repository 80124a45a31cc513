package identity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Code sets of a designator (SPC-4 7.8.6.1, table 594).
const (
	CodeSetBinary = 0x1
	CodeSetASCII  = 0x2
	CodeSetUTF8   = 0x3
)

// Designator types (SPC-4 7.8.6.1, table 597) that identify a logical unit.
const (
	TypeVendorSpecific = 0x0
	TypeT10Vendor      = 0x1
	TypeEUI64          = 0x2
	TypeNAA            = 0x3
	TypeLUGroup        = 0x6
	TypeMD5            = 0x7
	TypeSCSIName       = 0x8
)

// Designator is one designation descriptor of VPD page 0x83 whose
// association is the logical unit (protocol identifier 0, PIV 0).
type Designator struct {
	CodeSet byte
	Type    byte
	Value   []byte // the DESIGNATOR field, 1..255 bytes
}

// Identity is what initiators see of a logical unit's identity, byte for
// byte.
type Identity struct {
	// Vendor, Product and Revision are the standard INQUIRY T10 VENDOR
	// IDENTIFICATION (8 bytes), PRODUCT IDENTIFICATION (16) and PRODUCT
	// REVISION LEVEL (4), padded with spaces when shorter.
	Vendor, Product, Revision string
	// UnitSerial is the PRODUCT SERIAL NUMBER field of VPD page 0x80,
	// exactly as sent (some targets pad it with spaces).
	UnitSerial string
	// Designators are the logical-unit designators of VPD page 0x83, in
	// the order sent. The target-port and target-device designators that
	// follow them depend on the port an initiator uses, not on the LU.
	Designators []Designator
}

// Field limits of standard INQUIRY data and VPD pages.
const (
	maxVendor     = 8
	maxProduct    = 16
	maxRevision   = 4
	maxUnitSerial = 251 // VPD 0x80 PAGE LENGTH is one byte in halun's page
	maxDesignator = 255
)

// Validate reports whether id can be sent as it is.
func (id Identity) Validate() error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"vendor", id.Vendor, maxVendor}, {"product", id.Product, maxProduct}, {"revision", id.Revision, maxRevision}} {
		if len(f.v) > f.max {
			return fmt.Errorf("identity: %s %q has %d characters; at most %d", f.name, f.v, len(f.v), f.max)
		}
		if !printable(f.v, true) {
			return fmt.Errorf("identity: %s %q: printable ASCII only", f.name, f.v)
		}
	}
	// LIO sends a NUL after the serial; nothing else but printable ASCII.
	if sn := strings.TrimSuffix(id.UnitSerial, "\x00"); len(id.UnitSerial) > maxUnitSerial || !printable(sn, true) {
		return fmt.Errorf("identity: unit serial %q: at most %d printable ASCII characters", id.UnitSerial, maxUnitSerial)
	}
	if len(id.Designators) == 0 {
		return errors.New("identity: no logical-unit designator in VPD page 0x83 (SPC-4 requires one)")
	}
	for _, d := range id.Designators {
		if err := d.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (d Designator) validate() error {
	if len(d.Value) == 0 || len(d.Value) > maxDesignator {
		return fmt.Errorf("identity: designator type %d: %d bytes; 1..%d", d.Type, len(d.Value), maxDesignator)
	}
	switch d.CodeSet {
	case CodeSetBinary, CodeSetASCII, CodeSetUTF8:
	default:
		return fmt.Errorf("identity: designator type %d: code set %d", d.Type, d.CodeSet)
	}
	switch d.Type {
	case TypeNAA:
		if err := checkNAA(d.Value); err != nil {
			return err
		}
	case TypeEUI64:
		if n := len(d.Value); n != 8 && n != 12 && n != 16 {
			return fmt.Errorf("identity: EUI-64 designator of %d bytes; 8, 12 or 16", n)
		}
	}
	return nil
}

// checkNAA checks an NAA designator's length against its NAA field
// (SPC-4 7.8.6.6): 2h, 3h, 5h are 8 bytes, 6h is 16.
func checkNAA(v []byte) error {
	want := map[byte]int{2: 8, 3: 8, 5: 8, 6: 16}[v[0]>>4]
	if want == 0 || len(v) != want {
		return fmt.Errorf("identity: NAA designator %x: NAA %xh with %d bytes (2h, 3h, 5h: 8 bytes; 6h: 16)", v, v[0]>>4, len(v))
	}
	return nil
}

func printable(s string, spaces bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > '~' || c < ' ' || c == ' ' && !spaces {
			return false
		}
	}
	return true
}

// AppendDesignators appends the logical-unit designation descriptors of
// VPD page 0x83 (SPC-4 7.8.6.1) to b.
func (id Identity) AppendDesignators(b []byte) []byte {
	for _, d := range id.Designators {
		b = append(b, d.CodeSet, d.Type&0x0f, 0, byte(len(d.Value)))
		b = append(b, d.Value...)
	}
	return b
}

// Equal reports whether a and b are the same identity, byte for byte.
func (id Identity) Equal(o Identity) bool {
	if id.Vendor != o.Vendor || id.Product != o.Product || id.Revision != o.Revision ||
		id.UnitSerial != o.UnitSerial || len(id.Designators) != len(o.Designators) {
		return false
	}
	for i, d := range id.Designators {
		e := o.Designators[i]
		if d.CodeSet != e.CodeSet || d.Type != e.Type || !bytes.Equal(d.Value, e.Value) {
			return false
		}
	}
	return true
}

// IsZero reports whether id is the zero Identity (nothing chosen yet).
func (id Identity) IsZero() bool {
	return id.Vendor == "" && id.Product == "" && id.Revision == "" && id.UnitSerial == "" && len(id.Designators) == 0
}

// Find returns the first designator of type t, if any.
func (id Identity) Find(t byte) (Designator, bool) {
	for _, d := range id.Designators {
		if d.Type == t {
			return d, true
		}
	}
	return Designator{}, false
}

// Collides reports a designator a and b share, which would make two
// logical units one disk to a multipath initiator. Logical unit group
// designators name a group, which many units share by design.
func Collides(a, b Identity) (Designator, bool) {
	for _, d := range a.Designators {
		if d.Type == TypeLUGroup {
			continue
		}
		for _, e := range b.Designators {
			if d.Type == e.Type && d.CodeSet == e.CodeSet && bytes.Equal(d.Value, e.Value) {
				return d, true
			}
		}
	}
	return Designator{}, false
}

// String describes d for messages and listings: the type and the value
// in hex (binary) or as text (ASCII, UTF-8).
func (d Designator) String() string {
	name := map[byte]string{TypeVendorSpecific: "vendor specific", TypeT10Vendor: "T10 vendor ID", TypeEUI64: "EUI-64",
		TypeNAA: "NAA", TypeLUGroup: "LU group", TypeMD5: "MD5 LU", TypeSCSIName: "SCSI name"}[d.Type]
	if name == "" {
		name = fmt.Sprintf("type %d", d.Type)
	}
	if d.CodeSet == CodeSetBinary {
		return fmt.Sprintf("%s %x", name, d.Value)
	}
	return fmt.Sprintf("%s %q", name, d.Value)
}
