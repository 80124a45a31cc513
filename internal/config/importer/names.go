package importer

import (
	"path/filepath"
	"strconv"
	"strings"
)

// volumeNames hands out unique halun volume names (1..64 of letters,
// digits, '.', '_', '-', not starting with '.' or '-').
type volumeNames map[string]bool

// take returns a valid, unused name as close to want as possible.
func (vn volumeNames) take(want string) string {
	var b strings.Builder
	for _, c := range want {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".-")
	if s == "" {
		s = "vol"
	}
	if len(s) > 60 {
		s = s[:60]
	}
	name := s
	for i := 2; vn[strings.ToLower(name)]; i++ {
		name = s + "-" + strconv.Itoa(i)
	}
	vn[strings.ToLower(name)] = true
	return name
}

// nameFromPath derives a volume name from a file or device path:
// /srv/iscsi/db.img -> db, /dev/vg0/lv_mail -> vg0-lv_mail.
func nameFromPath(p string) string {
	p = filepath.Clean(p)
	if strings.HasPrefix(p, "/dev/") {
		rest := strings.TrimPrefix(p, "/dev/")
		rest = strings.TrimPrefix(rest, "disk/by-id/")
		rest = strings.TrimPrefix(rest, "mapper/")
		return strings.ReplaceAll(rest, "/", "-")
	}
	base := filepath.Base(p)
	if ext := filepath.Ext(base); ext != "" && len(ext) <= 5 && len(base) > len(ext) {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}
