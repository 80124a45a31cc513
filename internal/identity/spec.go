package identity

import (
	"fmt"
	"strings"
)

// Style names a scheme that computes an identity from a few inputs.
type Style string

// The styles. Each reproduces, from the same inputs, the identity that
// target's source computes; halun's own is the default for new volumes.
const (
	StyleHalun Style = "halun"
	StyleLIO   Style = "lio"
	StyleSCST  Style = "scst"
	StyleIET   Style = "iet"
	StyleTGT   Style = "tgt"
)

// Styles lists every style, for messages and help.
var Styles = []Style{StyleHalun, StyleLIO, StyleSCST, StyleIET, StyleTGT}

// Spec says how to obtain a volume's identity: a style and its inputs.
// Zero fields take the style's defaults.
type Spec struct {
	Style Style // "" is StyleHalun
	// Serial is the volume's unit serial. Every style needs one; halun
	// generates it for new volumes.
	Serial string
	// Vendor, Product and Revision override the style's standard INQUIRY
	// defaults.
	Vendor, Product, Revision string
	// DeviceID is the style's device identifier: IET's ScsiId, tgt's
	// scsi_id, SCST's t10_dev_id. The T10 vendor ID designator carries it.
	DeviceID string
	// DeviceIDBytes is IET's ScsiId given as raw bytes (at most 16), for
	// IET 1.4.19 and older, whose default ScsiId was binary.
	DeviceIDBytes []byte
	// CompanyID is the IEEE company ID (OUI) of LIO's and halun's NAA
	// designator; 0 means 0x001405, LIO's default.
	CompanyID uint32
	// NAA, if set, is the NAA designator (8 or 16 bytes) in place of
	// those the style computes, or in addition where the style has none
	// (SCST's naa_id).
	NAA []byte
	// EUI64, if set, is the EUI-64 designator (8, 12 or 16 bytes) in
	// place of those the style computes (SCST's eui64_id), or in
	// addition where it has none.
	EUI64 []byte
	// VendorSpecificID is SCST's vend_specific_id, the T10 vendor ID
	// designator's content after the vendor; empty means DeviceID. (SCST
	// copies the generated t10_dev_id into it once, when it creates the
	// device, so a t10_dev_id set later leaves it behind.)
	VendorSpecificID string
	// TID and LUN are where the volume was under tgt: its target id and
	// logical unit number, from which tgt builds an NAA designator and
	// its default scsi_id. IET builds its default ScsiId from Target and
	// LUN.
	TID    uint32
	LUN    uint64
	Target string
}

// DefaultCompanyID is the IEEE company ID of LIO's NAA designators, which
// halun uses too: a volume moved from LIO with its serial keeps its NAA.
const DefaultCompanyID = 0x001405

// ParseStyle returns the style s names.
func ParseStyle(s string) (Style, error) {
	for _, st := range Styles {
		if string(st) == s {
			return st, nil
		}
	}
	names := make([]string, len(Styles))
	for i, st := range Styles {
		names[i] = string(st)
	}
	return "", fmt.Errorf("identity: style %q: one of %s", s, strings.Join(names, ", "))
}

// Resolve computes the identity s describes. It is deterministic: the
// same Spec gives the same Identity on every node and in every version
// (golden_test.go pins each style).
func Resolve(s Spec) (Identity, error) {
	if s.Serial == "" {
		return Identity{}, fmt.Errorf("identity: style %s: no serial", s.StyleName())
	}
	if s.CompanyID > 0xffffff {
		return Identity{}, fmt.Errorf("identity: company ID %#x: 24 bits at most", s.CompanyID)
	}
	var id Identity
	var err error
	switch s.Style {
	case "", StyleHalun:
		id, err = halun(s)
	case StyleLIO:
		id, err = lio(s)
	case StyleSCST:
		id, err = scst(s)
	case StyleIET:
		id, err = iet(s)
	case StyleTGT:
		id, err = tgt(s)
	default:
		_, err = ParseStyle(string(s.Style))
	}
	if err != nil {
		return Identity{}, err
	}
	if s.Vendor != "" {
		id.Vendor = s.Vendor
	}
	if s.Product != "" {
		id.Product = s.Product
	}
	if s.Revision != "" {
		id.Revision = s.Revision
	}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("identity: style %s, serial %q: %s", s.StyleName(), s.Serial, strings.TrimPrefix(err.Error(), "identity: "))
	}
	return id, nil
}

// StyleName is s's style, StyleHalun when unset.
func (s Spec) StyleName() Style {
	if s.Style == "" {
		return StyleHalun
	}
	return s.Style
}

// replaceType puts d in place of every designator of its type (at the
// first one's position), or appends it.
func replaceType(ds []Designator, d Designator) []Designator {
	out := make([]Designator, 0, len(ds)+1)
	placed := false
	for _, e := range ds {
		if e.Type != d.Type {
			out = append(out, e)
		} else if !placed {
			out = append(out, d)
			placed = true
		}
	}
	if !placed {
		out = append(out, d)
	}
	return out
}

// explicit applies s's explicit NAA and EUI-64 designators to ds: each
// replaces every designator of its type the style computed.
func (s Spec) explicit(ds []Designator) []Designator {
	if s.NAA != nil {
		ds = replaceType(ds, Designator{CodeSet: CodeSetBinary, Type: TypeNAA, Value: s.NAA})
	}
	if s.EUI64 != nil {
		ds = replaceType(ds, Designator{CodeSet: CodeSetBinary, Type: TypeEUI64, Value: s.EUI64})
	}
	return ds
}

// hexNibbles returns the values of s's hexadecimal digits, skipping every
// other character.
func hexNibbles(s string) []byte {
	var d []byte
	for i := 0; i < len(s); i++ {
		if v, ok := hexValue(s[i]); ok {
			d = append(d, v)
		}
	}
	return d
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// naa6 builds an NAA IEEE Registered Extended designator (SPC-4
// 7.8.6.6.5): NAA 6h, the 24-bit company ID, then up to 25 nibbles of
// vendor specific identifier, zero padded.
func naa6(companyID uint32, nibbles []byte) []byte {
	b := make([]byte, 16)
	b[0] = 0x60 | byte(companyID>>20)&0x0f
	b[1] = byte(companyID >> 12)
	b[2] = byte(companyID >> 4)
	b[3] = byte(companyID&0x0f) << 4
	for i := 0; i < 25 && i < len(nibbles); i++ {
		pos := 7 + i
		if pos%2 == 0 {
			b[pos/2] |= nibbles[i] << 4
		} else {
			b[pos/2] |= nibbles[i]
		}
	}
	return b
}
