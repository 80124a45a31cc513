package config

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/halun/halun/internal/identity"
)

// The identity: mapping of a volume: the style that computes its SCSI
// identity and that style's inputs (package identity).
//
//	identity:
//	  style: lio            # halun (default), lio, scst, iet, tgt
//	  vendor: LIO-ORG       # standard INQUIRY overrides
//	  product: IBLOCK
//	  revision: "4.0"
//	  device_id: ...        # IET ScsiId, tgt scsi_id, SCST t10_dev_id
//	  device_id_hex: ...    # IET ScsiId as bytes (IET 1.4.19's binary default)
//	  company_id: 0x001405  # LIO company_id
//	  naa: 6001405...       # explicit NAA designator, hex
//	  eui64: ...            # explicit EUI-64 designator, hex
//	  tid: 1                # tgt: the target id and LUN it had
//	  lun: 1
//	  target: iqn…          # iet: the target it had (default ScsiId)
//	  vend_specific_id: …   # scst

// IdentitySpec returns the spec of v's identity with v's serial.
func (v *Volume) IdentitySpec() identity.Spec {
	s := v.Identity
	s.Serial = v.Serial
	return s
}

// ResolveIdentity returns what initiators see of v's identity. v's serial
// must be set (EnsureSerials).
func (v *Volume) ResolveIdentity() (identity.Identity, error) {
	id, err := identity.Resolve(v.IdentitySpec())
	if err != nil {
		return identity.Identity{}, fmt.Errorf("config: volume %s: %w", v.Name, err)
	}
	return id, nil
}

func (d *decoder) identity(n *yaml.Node, path string, v *Volume) {
	m := d.mapping(n, path)
	if m == nil {
		return
	}
	s := &v.Identity
	if x := m.get("style"); x != nil {
		if t, ok := d.str(x, join(path, "style")); ok {
			if st, err := identity.ParseStyle(t); err != nil {
				d.errAt(x, join(path, "style"), "%s", strings.TrimPrefix(err.Error(), "identity: "))
			} else {
				s.Style = st
			}
		}
	}
	text := func(key string, max int, dst *string) {
		if x := m.get(key); x != nil {
			if t, ok := d.str(x, join(path, key)); ok {
				if len(t) > max || !printableASCII(t) {
					d.errAt(x, join(path, key), "%q: 1..%d printable ASCII characters", t, max)
				} else {
					*dst = t
				}
			}
		}
	}
	text("vendor", 8, &s.Vendor)
	text("product", 16, &s.Product)
	text("revision", 4, &s.Revision)
	text("device_id", 255, &s.DeviceID)
	if x := m.get("company_id"); x != nil {
		if t, ok := d.scalar(x, join(path, "company_id"), "a 24-bit IEEE company ID such as 0x001405"); ok {
			u, err := strconv.ParseUint(t, 0, 32)
			if err != nil || u == 0 || u > 0xffffff {
				d.errAt(x, join(path, "company_id"), "%q is not a 24-bit IEEE company ID such as 0x001405", t)
			} else {
				s.CompanyID = uint32(u)
			}
		}
	}
	binary := func(key, want string, dst *[]byte) {
		if x := m.get(key); x != nil {
			if t, ok := d.scalar(x, join(path, key), want); ok {
				b, err := ParseHexID(t)
				if err != nil {
					d.errAt(x, join(path, key), "%q: %v; want %s", t, err, want)
				} else {
					*dst = b
				}
			}
		}
	}
	binary("device_id_hex", "IET's ScsiId as up to 32 hex digits", &s.DeviceIDBytes)
	binary("naa", "an NAA designator in hex: 16 digits (NAA 2, 3, 5) or 32 (NAA 6)", &s.NAA)
	binary("eui64", "an EUI-64 designator in hex: 16, 24 or 32 digits", &s.EUI64)
	if x := m.get("tid"); x != nil {
		if t, ok := d.integer(x, join(path, "tid"), 1, 1<<31-1); ok {
			s.TID = uint32(t)
		}
	}
	if x := m.get("lun"); x != nil {
		if t, ok := d.integer(x, join(path, "lun"), 0, 1<<62); ok {
			s.LUN = uint64(t)
		}
	}
	if x := m.get("target"); x != nil {
		if t, ok := d.str(x, join(path, "target")); ok {
			s.Target = t
		}
	}
	if x := m.get("vend_specific_id"); x != nil {
		if t, ok := d.str(x, join(path, "vend_specific_id")); ok {
			s.VendorSpecificID = t
		}
	}
	only := map[string]identity.Style{"tid": identity.StyleTGT, "target": identity.StyleIET, "vend_specific_id": identity.StyleSCST, "device_id_hex": identity.StyleIET}
	for k, st := range only {
		if m.has(k) && s.Style != st {
			d.errField(join(path, k), "only style %s takes %s", st, k)
		}
	}
	if m.has("lun") && s.Style != identity.StyleTGT && s.Style != identity.StyleIET {
		d.errField(join(path, "lun"), "only styles tgt and iet take lun (where the volume was under that target)")
	}
	m.done()
}

// ParseHexID parses a designator written in hex, with an optional 0x and
// optional separators (spaces, colons, dashes).
func ParseHexID(s string) ([]byte, error) {
	t := strings.TrimPrefix(strings.ToLower(s), "0x")
	t = strings.NewReplacer(" ", "", ":", "", "-", "").Replace(t)
	if len(t)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits")
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, fmt.Errorf("not hexadecimal")
	}
	return b, nil
}

func printableASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validateIdentities resolves the identity of every volume whose serial
// the config sets and refuses one that cannot be built, and two volumes
// that would share a designator (one disk to a multipath initiator).
// Volumes without a serial get a generated one later (EnsureSerials),
// which only halun's style accepts.
func (d *decoder) validateIdentities(c *Config) {
	type seen struct {
		path string
		id   identity.Identity
	}
	var done []seen
	for i := range c.Volumes {
		v := &c.Volumes[i]
		p := index("volumes", i)
		at := join(p, "identity")
		if d.at[at] == nil {
			at = join(p, "serial")
		}
		if v.Serial == "" {
			if v.Identity.Style != "" && v.Identity.Style != identity.StyleHalun {
				d.errField(join(join(p, "identity"), "style"), "style %s reproduces another target's identity: set serial to the serial the volume had there", v.Identity.Style)
			}
			continue
		}
		id, err := identity.Resolve(v.IdentitySpec())
		if err != nil {
			d.errField(at, "%s", strings.TrimPrefix(err.Error(), "identity: "))
			continue
		}
		for _, o := range done {
			if des, dup := identity.Collides(id, o.id); dup {
				d.errField(at, "volume %s would share the VPD 0x83 designator %s with %s%s; initiators would take the two for one disk",
					v.Name, des, strings.TrimSuffix(strings.TrimSuffix(o.path, ".identity"), ".serial"), d.lineOf(o.path))
				break
			}
		}
		done = append(done, seen{at, id})
	}
}
