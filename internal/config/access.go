package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// CHAP secrets: RFC 7143 §12.1.3 requires at least 96 bits without IPsec;
// initiators (open-iscsi, libiscsi) store at most 255 bytes.
const (
	MinCHAPSecret = 12
	MaxCHAPSecret = 255
	maxCHAPUser   = 255
)

// InitiatorAccess lets one initiator, by name, log in to a target.
type InitiatorAccess struct {
	Pos Pos
	// IQN is the initiator's iSCSI name, normalised to lower case (names
	// compare case-insensitively, RFC 3722).
	IQN string
	// OwnLUNs is set when the entry has its own luns: then LUNs is the
	// initiator's whole view of the target, numbered as it sees them, like
	// LIO's mapped LUNs. Otherwise the target's luns apply.
	OwnLUNs bool
	LUNs    []LUN
	// CHAP, if set, is required of this initiator instead of the target's.
	CHAP *CHAP
}

// CHAP holds CHAP credentials (RFC 7143 §12.1.3, RFC 1994). The initiator
// must answer the target's challenge as User with Secret; with mutual CHAP
// (TargetSecret set) the target answers the initiator's challenge as
// TargetUser with TargetSecret. Its String method never shows the secrets.
type CHAP struct {
	Pos    Pos
	User   string
	Secret string
	// SecretFile is where Secret was read from, if it came from a file.
	SecretFile       string
	TargetUser       string
	TargetSecret     string
	TargetSecretFile string
}

// Mutual reports whether the initiator also authenticates the target.
func (c *CHAP) Mutual() bool { return c != nil && c.TargetSecret != "" }

func (c CHAP) String() string {
	s := fmt.Sprintf("CHAP{user=%q secret=<redacted>", c.User)
	if c.TargetSecret != "" {
		s += fmt.Sprintf(" target_user=%q target_secret=<redacted>", c.TargetUser)
	}
	return s + "}"
}

// GoString keeps %#v from printing the secrets.
func (c CHAP) GoString() string { return c.String() }

// Discovery configures discovery sessions: with CHAP set, an initiator must
// authenticate before SendTargets answers. Either way SendTargets lists
// only the targets the initiator may log in to.
type Discovery struct {
	CHAP *CHAP
}

// Initiator returns the access entry for the initiator name (compared
// case-insensitively), or nil.
func (a *Access) Initiator(name string) *InitiatorAccess {
	for i := range a.Initiators {
		if strings.EqualFold(a.Initiators[i].IQN, name) {
			return &a.Initiators[i]
		}
	}
	return nil
}

func (d *decoder) discovery(n *yaml.Node, path string) Discovery {
	var ds Discovery
	m := d.mapping(n, path)
	if x := m.get("chap"); x != nil && !isNull(x) {
		ds.CHAP = d.chap(x, join(path, "chap"))
	}
	m.done()
	return ds
}

func (d *decoder) access(n *yaml.Node, path string) Access {
	var a Access
	m := d.mapping(n, path)
	if m == nil {
		return a
	}
	allNode := m.get("all")
	if allNode != nil {
		if b, ok := d.boolean(allNode, join(path, "all"), false); ok {
			a.All = b
		}
	}
	initNode := m.get("initiators")
	if initNode != nil {
		p := join(path, "initiators")
		items, _ := d.list(initNode, p)
		for i, it := range items {
			if d.stopped() {
				break
			}
			a.Initiators = append(a.Initiators, d.initiator(it, index(p, i)))
		}
	}
	switch {
	case a.All && initNode != nil:
		d.errAt(initNode, join(path, "initiators"), "all: true already lets every initiator in; use either all: true or a list of initiators")
	case allNode == nil && initNode == nil:
		m.missing("all", "; all: true lets every initiator in, initiators: [{iqn: ...}] only those listed")
	case initNode == nil && !a.All && allNode != nil && allNode.Kind == yaml.ScalarNode && strings.EqualFold(allNode.Value, "false"):
		d.errAt(allNode, join(path, "all"), "false lets no initiator in: list them under initiators, or set all: true")
	case initNode != nil && initNode.Kind == yaml.SequenceNode && len(initNode.Content) == 0:
		d.errAt(initNode, join(path, "initiators"), "empty; lets no initiator in: list at least one, or set all: true")
	}
	m.done()
	return a
}

func (d *decoder) initiator(n *yaml.Node, path string) InitiatorAccess {
	ia := InitiatorAccess{Pos: Pos{File: d.file, Line: n.Line, Field: path}}
	m := d.mapping(n, path)
	if m == nil {
		return ia
	}
	if x := m.get("iqn"); x != nil {
		if s, ok := d.str(x, join(path, "iqn")); ok {
			if name, err := NormalizeName(s); err != nil {
				d.errAt(x, join(path, "iqn"), "%q: %v", s, err)
			} else {
				ia.IQN = name
			}
		}
	} else {
		m.missing("iqn", " (the initiator's iSCSI name, e.g. iqn.1994-05.com.redhat:client1)")
	}
	if x := m.get("luns"); x != nil {
		p := join(path, "luns")
		ia.OwnLUNs = true
		ia.LUNs = []LUN{}
		if !isNull(x) {
			items, _ := d.list(x, p)
			for i, it := range items {
				if d.stopped() {
					break
				}
				ia.LUNs = append(ia.LUNs, d.lun(it, index(p, i)))
			}
		}
	}
	if x := m.get("chap"); x != nil && !isNull(x) {
		ia.CHAP = d.chap(x, join(path, "chap"))
	}
	m.done()
	return ia
}

// chap decodes CHAP credentials: user with secret or secret_file, and for
// mutual CHAP target_user with target_secret or target_secret_file.
func (d *decoder) chap(n *yaml.Node, path string) *CHAP {
	c := &CHAP{Pos: Pos{File: d.file, Line: n.Line, Field: path}}
	m := d.mapping(n, path)
	if m == nil {
		return c
	}
	if x := m.get("user"); x != nil {
		if s, ok := d.str(x, join(path, "user")); ok && d.checkCHAPUser(x, join(path, "user"), s) {
			c.User = s
		}
	} else {
		m.missing("user", " (the CHAP name, CHAP_N)")
	}
	c.Secret, c.SecretFile, _ = d.secret(m, path, "secret", true)
	targetUser := m.get("target_user")
	if targetUser != nil {
		if s, ok := d.str(targetUser, join(path, "target_user")); ok && d.checkCHAPUser(targetUser, join(path, "target_user"), s) {
			c.TargetUser = s
		}
	}
	var targetNode *yaml.Node
	c.TargetSecret, c.TargetSecretFile, targetNode = d.secret(m, path, "target_secret", false)
	switch {
	case targetUser != nil && targetNode == nil:
		d.errAt(targetUser, join(path, "target_user"), "mutual CHAP needs target_secret or target_secret_file too")
	case targetUser == nil && targetNode != nil:
		m.missing("target_user", " for mutual CHAP (the name the target answers with)")
	}
	if c.Secret != "" && c.TargetSecret != "" && c.Secret == c.TargetSecret {
		// RFC 7143 §12.1.3: one secret in both directions lets an attacker
		// reflect the target's challenge back to it.
		d.errAt(targetNode, join(path, targetSecretKey(c)), "the target secret equals the initiator secret; mutual CHAP needs two different secrets")
	}
	m.done()
	return c
}

func targetSecretKey(c *CHAP) string {
	if c.TargetSecretFile != "" {
		return "target_secret_file"
	}
	return "target_secret"
}

func (d *decoder) checkCHAPUser(n *yaml.Node, path, s string) bool {
	if s == "" || len(s) > maxCHAPUser || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		d.errAt(n, path, "a CHAP name is 1..%d bytes of UTF-8 text without control characters", maxCHAPUser)
		return false
	}
	return true
}

// secret decodes key (inline) or key_file (a path, relative to the config
// file's directory; one trailing newline is dropped). Exactly one of the
// two is required when required is set. Messages never show the secret.
func (d *decoder) secret(m *mapping, path, key string, required bool) (secret, file string, at *yaml.Node) {
	inline := m.get(key)
	fromFile := m.get(key + "_file")
	switch {
	case inline != nil && fromFile != nil:
		d.errAt(fromFile, join(path, key+"_file"), "give either %s or %s_file, not both", key, key)
		return "", "", fromFile
	case inline == nil && fromFile == nil:
		if required {
			m.missing(key, fmt.Sprintf(" (or %s_file, a file holding it)", key))
		}
		return "", "", nil
	case inline != nil:
		at = inline
		s, ok := d.str(inline, join(path, key))
		if !ok {
			return "", "", at
		}
		if d.checkSecret(inline, join(path, key), s) {
			secret = s
		}
		return secret, "", at
	}
	at = fromFile
	p, ok := d.str(fromFile, join(path, key+"_file"))
	if !ok || !d.checkPath(fromFile, join(path, key+"_file"), p) {
		return "", "", at
	}
	full := p
	if !filepath.IsAbs(full) && d.file != "" {
		full = filepath.Join(filepath.Dir(d.file), full)
	}
	b, err := readSecretFile(full)
	if err != nil {
		d.errAt(fromFile, join(path, key+"_file"), "%v", err)
		return "", p, at
	}
	if d.checkSecret(fromFile, join(path, key+"_file"), string(b)) {
		secret = string(b)
	}
	return secret, p, at
}

// readSecretFile reads a secret file: a small regular file whose content,
// without one trailing newline, is the secret.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read secret file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read secret file: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > 4096 {
		return nil, fmt.Errorf("secret file %s is not a regular file of at most 4096 bytes", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, fmt.Errorf("cannot read secret file %s: %w", path, err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b, nil
}

// checkSecret checks a CHAP secret's length and alphabet; the message says
// what is wrong without repeating the secret.
func (d *decoder) checkSecret(n *yaml.Node, path, s string) bool {
	switch {
	case len(s) < MinCHAPSecret:
		d.errAt(n, path, "the secret is %d bytes; CHAP secrets need at least %d (RFC 7143 §12.1.3)", len(s), MinCHAPSecret)
	case len(s) > MaxCHAPSecret:
		d.errAt(n, path, "the secret is %d bytes; at most %d", len(s), MaxCHAPSecret)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }):
		d.errAt(n, path, "the secret has control characters or invalid UTF-8")
	default:
		return true
	}
	return false
}

// checkProductID checks a standard INQUIRY product identification: 1..16
// printable ASCII characters (SPC-4 6.6.2).
func checkProductID(s string) error {
	if s == "" || len(s) > 16 {
		return fmt.Errorf("%q: a product_id has 1..16 characters", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return fmt.Errorf("%q: a product_id is printable ASCII", s)
		}
	}
	return nil
}

// validateAccess checks each target's initiator entries: unique names, and
// LUN maps whose numbers are unique and whose volumes exist.
func (d *decoder) validateAccess(c *Config, volumes map[string]string) {
	line := d.lineOf
	for i := range c.Targets {
		t := &c.Targets[i]
		p := join(index("targets", i), "access")
		names := map[string]string{}
		for j, ia := range t.Access.Initiators {
			pi := index(join(p, "initiators"), j)
			if ia.IQN != "" {
				if prev, dup := names[ia.IQN]; dup {
					d.errField(join(pi, "iqn"), "initiator %s is already listed at %s%s", ia.IQN, prev, line(join(prev, "iqn")))
				} else {
					names[ia.IQN] = pi
				}
			}
			d.checkLUNMap(join(pi, "luns"), ia.LUNs, volumes)
		}
	}
}
