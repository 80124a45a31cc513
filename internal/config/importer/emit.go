package importer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/identity"
)

// render writes m as halun YAML.
func render(m *model) []byte {
	e := &emitter{}
	e.line("# halun config imported by `halun import` from %s (%s).", m.source, m.format.long())
	e.line("# Read the import report before serving it; check it with `halun config check FILE`.")
	for _, h := range m.header {
		e.line("# %s", h)
	}
	e.line("")
	e.line("node:")
	e.line("  data_dir: %s", scalar(m.dataDir))
	e.line("")
	e.line("portal_groups:")
	for _, pg := range m.portalGroups {
		e.line("  - tag: %d", pg.tag)
		e.line("    portals: %s", flowList(pg.portals))
	}
	e.line("")
	if len(m.volumes) == 0 {
		e.line("volumes: []")
	} else {
		e.line("volumes:")
	}
	for _, v := range m.volumes {
		e.volume(v)
	}
	if !m.discovery.empty() {
		e.line("")
		e.line("discovery:")
		e.chapBlock("  ", "", "chap", m.discovery)
	}
	e.line("")
	e.line("targets:")
	for _, t := range m.targets {
		e.target(t)
	}
	return e.buf.Bytes()
}

type emitter struct{ buf bytes.Buffer }

func (e *emitter) line(format string, args ...any) {
	fmt.Fprintf(&e.buf, format, args...)
	e.buf.WriteByte('\n')
}

func (e *emitter) notes(indent string, notes []string) {
	for _, n := range notes {
		e.line("%s# %s", indent, n)
	}
}

func (e *emitter) volume(v *volume) {
	e.notes("  ", v.notes)
	e.line("  - name: %s", scalar(v.name))
	e.line("    backend: %s", v.backend)
	if v.path != "" {
		e.line("    path: %s", scalar(v.path))
	}
	switch {
	case v.size > 0:
		e.line("    size: %s", formatSize(v.size))
	case v.size < 0:
		e.line("    size: 0   # REVIEW: unknown in the source config; set the file's size in bytes")
	}
	e.line("    block_size: %d", v.blockSize)
	if v.serial != "" {
		e.line("    serial: %s", scalar(v.serial))
	}
	if v.thin != nil {
		e.line("    thin: %t", *v.thin)
	}
	if v.readOnly {
		e.line("    read_only: true")
	}
	e.identity(v)
	if v.removable {
		e.line("    removable: true")
	}
	if v.writeCache {
		e.line("    write_cache: true")
	}
}

func (e *emitter) target(t *target) {
	prefix := ""
	if !t.all && len(t.initiators) == 0 {
		// No initiator may log in to the source target, which halun's
		// access cannot say: keep the target, commented out.
		e.line("  # REVIEW: no initiator may log in to this target in the source config, which")
		e.line("  # halun's access cannot express (all: true or at least one initiator); it is")
		e.line("  # left out. Uncomment it and list the initiators that may log in.")
		prefix = "# "
	}
	e.notes("  ", t.notes)
	e.line("  %s- iqn: %s", prefix, scalar(t.iqn))
	if t.alias != "" {
		e.line("  %s  alias: %s", prefix, scalar(t.alias))
	}
	if len(t.portalGroups) > 0 {
		tags := make([]string, len(t.portalGroups))
		for i, g := range t.portalGroups {
			tags[i] = strconv.Itoa(g)
		}
		e.line("  %s  portal_groups: [%s]", prefix, strings.Join(tags, ", "))
	}
	e.lunList("  "+prefix+"  ", "luns", t.luns)
	switch {
	case len(t.initiators) > 0:
		e.line("  %s  access:", prefix)
		e.line("  %s    initiators:", prefix)
		for _, in := range t.initiators {
			e.line("  %s      - iqn: %s", prefix, scalar(in.iqn))
			if in.own {
				e.lunList("  "+prefix+"        ", "luns", in.luns)
			}
			if !in.chap.empty() {
				e.chapBlock("  "+prefix+"        ", "", "chap", in.chap)
			}
		}
	case t.all:
		e.line("  %s  access: { all: true }", prefix)
	default:
		e.line("  %s  access: { initiators: [] }", prefix)
	}
	if !t.chap.empty() {
		e.chapBlock("  "+prefix+"  ", "", "chap", t.chap)
	}
	if len(t.params) > 0 {
		e.line("  %s  params:", prefix)
		for _, p := range t.params {
			e.line("  %s    %s: %s", prefix, p.key, p.value)
		}
	}
}

func (e *emitter) lunList(indent, key string, luns []lunMap) {
	if len(luns) == 0 {
		e.line("%s%s: []", indent, key)
		return
	}
	e.line("%s%s:", indent, key)
	for _, l := range luns {
		e.line("%s  - { lun: %d, volume: %s }", indent, l.lun, scalar(l.volume))
	}
}

func (e *emitter) chapBlock(indent, prefix, key string, c *chap) {
	e.line("%s%s%s:", indent, prefix, key)
	kv := func(k, v string) {
		if v != "" {
			e.line("%s%s  %s: %s", indent, prefix, k, scalar(v))
		}
	}
	kv("user", c.username)
	kv("secret", c.secret)
	kv("target_user", c.targetUsername)
	kv("target_secret", c.targetSecret)
}

// plainSafe matches strings YAML reads back as the same string without
// quotes.
var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./@][A-Za-z0-9_./@:+-]*$`)

// yamlSpecial are plain scalars YAML 1.1/1.2 would read as something
// other than a string.
var yamlSpecial = regexp.MustCompile(`(?i)^(y|yes|n|no|true|false|on|off|null|~|[-+]?(\.inf|\.nan)|[-+]?[0-9][0-9_.:eExXoObB+-]*|\.[0-9].*)$`)

// scalar renders s as a YAML scalar: plain when that reads back as the
// same string, double-quoted (JSON escaping, which YAML accepts) otherwise.
func scalar(s string) string {
	if plainSafe.MatchString(s) && !yamlSpecial.MatchString(s) && !strings.HasSuffix(s, ":") {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = scalar(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// formatSize writes a size with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.name)
		}
	}
	return strconv.FormatInt(n, 10)
}

// identity writes a volume's identity: mapping, when it is not halun's
// default, with the WWID initiators know the disk by.
func (e *emitter) identity(v *volume) {
	s := v.ident
	if s.StyleName() == identity.StyleHalun && s.Vendor == "" && s.Product == "" && s.Revision == "" &&
		s.CompanyID == 0 && s.NAA == nil && s.EUI64 == nil {
		return
	}
	head := "    identity:"
	if v.serial != "" {
		s.Serial = v.serial
		if id, err := identity.Resolve(s); err == nil {
			head += "   # WWID " + id.WWID()
		}
	}
	e.line("%s", head)
	if s.Style != "" {
		e.line("      style: %s", s.Style)
	}
	for _, f := range []struct{ key, val string }{{"vendor", s.Vendor}, {"product", s.Product}, {"revision", s.Revision},
		{"device_id", s.DeviceID}, {"vend_specific_id", s.VendorSpecificID}, {"target", s.Target}} {
		if f.val != "" {
			e.line("      %s: %s", f.key, scalar(f.val))
		}
	}
	if s.CompanyID != 0 {
		e.line("      company_id: 0x%06x", s.CompanyID)
	}
	if s.DeviceIDBytes != nil {
		e.line("      device_id_hex: %s", scalar(hex.EncodeToString(s.DeviceIDBytes)))
	}
	if s.NAA != nil {
		e.line("      naa: %s", scalar(hex.EncodeToString(s.NAA)))
	}
	if s.EUI64 != nil {
		e.line("      eui64: %s", scalar(hex.EncodeToString(s.EUI64)))
	}
	if s.Style == identity.StyleTGT {
		e.line("      tid: %d", s.TID)
	}
	if s.Style == identity.StyleTGT || s.Style == identity.StyleIET && s.Target != "" {
		e.line("      lun: %d", s.LUN)
	}
}
