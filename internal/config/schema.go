package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Defaults for the CLI and the embedded config.
const (
	DefaultDataDir   = "./halun-data"
	DefaultListen    = "127.0.0.1:3260"
	DefaultBlockSize = 512
	// MaxLUN is the largest LUN number: flat space addressing (SAM-5) has
	// 14 bits.
	MaxLUN = 16383
	// maxSerialLen bounds unit serials so every VPD designator built from
	// one fits its one-byte length.
	maxSerialLen = 64
	maxAliasLen  = 255
)

func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{Source: d.file}
	m := d.mapping(root, "")
	if m == nil {
		return c
	}
	if n := m.get("node"); n != nil {
		c.Node = d.node(n, "node")
	}
	if c.Node.DataDir == "" {
		c.Node.DataDir = DefaultDataDir
	}
	if n := m.get("portal_groups"); n != nil {
		items, _ := d.list(n, "portal_groups")
		for i, it := range items {
			if d.stopped() {
				break
			}
			c.PortalGroups = append(c.PortalGroups, d.portalGroup(it, index("portal_groups", i)))
		}
	}
	if !m.has("portal_groups") {
		m.missing("portal_groups", ", e.g. portal_groups: [{tag: 1, portals: [\"127.0.0.1:3260\"]}]")
	} else if n := d.at["portal_groups"]; n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errAt(n, "portal_groups", "empty; at least one portal group is required")
	}
	if n := m.get("volumes"); n != nil && !isNull(n) {
		items, _ := d.list(n, "volumes")
		for i, it := range items {
			if d.stopped() {
				break
			}
			c.Volumes = append(c.Volumes, d.volume(it, index("volumes", i), c.Node.DataDir))
		}
	}
	if n := m.get("targets"); n != nil {
		items, _ := d.list(n, "targets")
		for i, it := range items {
			if d.stopped() {
				break
			}
			c.Targets = append(c.Targets, d.target(it, index("targets", i)))
		}
	}
	if !m.has("targets") {
		m.missing("targets", "; halun serves nothing without a target")
	} else if n := d.at["targets"]; n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errAt(n, "targets", "empty; at least one target is required")
	}
	if n := m.get("discovery"); n != nil && !isNull(n) {
		c.Discovery = d.discovery(n, "discovery")
	}
	if n := m.get("cluster"); n != nil && !isNull(n) {
		c.Cluster = d.cluster(n, "cluster", c.Node.DataDir)
	}
	// Top-level keys starting with x- are ignored, to hold anchors
	// (x-defaults: &defaults {...}) for reuse further down.
	for _, p := range m.pairs {
		if strings.HasPrefix(p.key, "x-") {
			m.get(p.key)
		}
	}
	m.done()
	return c
}

func (d *decoder) node(n *yaml.Node, path string) Node {
	var nd Node
	m := d.mapping(n, path)
	if v := m.get("name"); v != nil {
		if s, ok := d.str(v, join(path, "name")); ok && d.checkName(v, join(path, "name"), s) {
			nd.Name = s
		}
	}
	if v := m.get("data_dir"); v != nil {
		if s, ok := d.str(v, join(path, "data_dir")); ok && d.checkPath(v, join(path, "data_dir"), s) {
			nd.DataDir = s
		}
	}
	nd.NopInInterval = d.duration(m.get("nop_in_interval"), join(path, "nop_in_interval"), DefaultNopInInterval)
	nd.NopInTimeout = d.duration(m.get("nop_in_timeout"), join(path, "nop_in_timeout"), DefaultNopInTimeout)
	nd.ShutdownLogoutWait = d.duration(m.get("shutdown_logout_wait"), join(path, "shutdown_logout_wait"), DefaultShutdownLogoutWait)
	nd.MaxConnections = d.count(m.get("max_connections"), join(path, "max_connections"), DefaultMaxConnections)
	nd.MaxConnectionsPerAddress = d.count(m.get("max_connections_per_address"), join(path, "max_connections_per_address"),
		DefaultMaxConnectionsPerAddress)
	nd.MaxBufferedData = d.dataLimit(m.get("max_buffered_data"), join(path, "max_buffered_data"), DefaultMaxBufferedData)
	nd.MaxSessionBufferedData = d.dataLimit(m.get("max_session_buffered_data"), join(path, "max_session_buffered_data"),
		DefaultMaxSessionBufferedData)
	m.done()
	return nd
}

// duration decodes a Go duration ("10s", "2m") between 1 s and 1 h; def
// when n is absent.
func (d *decoder) duration(n *yaml.Node, path string, def time.Duration) time.Duration {
	return d.durationIn(n, path, def, time.Second, time.Hour, "1s and 1h, e.g. 10s or 2m")
}

// durationIn decodes a duration in [lo, hi] (described by bounds for the
// message); def when n is absent or wrong.
func (d *decoder) durationIn(n *yaml.Node, path string, def, lo, hi time.Duration, bounds string) time.Duration {
	if n == nil {
		return def
	}
	s, ok := d.str(n, path)
	if !ok {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < lo || v > hi {
		d.errAt(n, path, "%q is not a duration between %s", s, bounds)
		return def
	}
	return v
}

// maxConnectionLimit bounds the connection limits; beyond it the process
// runs out of file descriptors long before the limit means anything.
const maxConnectionLimit = 1 << 20

// count decodes a connection limit, 1..maxConnectionLimit; def when n is
// absent.
func (d *decoder) count(n *yaml.Node, path string, def int) int {
	if n == nil {
		return def
	}
	v, ok := d.integer(n, path, 1, maxConnectionLimit)
	if !ok {
		return def
	}
	return int(v)
}

// dataLimit decodes a buffered-data limit: a size of at least
// MaxTransferLength (one command of the largest size must fit) and at most
// 1 TiB; def when n is absent.
func (d *decoder) dataLimit(n *yaml.Node, path string, def int64) int64 {
	if n == nil {
		return def
	}
	s, ok := d.scalar(n, path, "a size such as 1GiB")
	if !ok {
		return def
	}
	v, err := ParseSize(s)
	switch {
	case err != nil:
		d.errAt(n, path, "%v", err)
	case v < MaxTransferLength || v > 1<<40:
		d.errAt(n, path, "%s is not between 64MiB (the largest command) and 1TiB", s)
	default:
		return v
	}
	return def
}

// checkName checks a node or volume name: it names files and appears in
// messages, so it is kept to a safe alphabet.
func (d *decoder) checkName(n *yaml.Node, path, s string) bool {
	ok := s != "" && len(s) <= 64 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		d.errAt(n, path, "%q is not a valid name: 1..64 letters, digits, '.', '_' or '-', not starting with '.' or '-'", s)
	}
	return ok
}

func (d *decoder) checkPath(n *yaml.Node, path, s string) bool {
	if s == "" || strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		d.errAt(n, path, "%q is not a usable path", s)
		return false
	}
	return true
}

func (d *decoder) portalGroup(n *yaml.Node, path string) PortalGroup {
	pg := PortalGroup{Pos: Pos{File: d.file, Line: n.Line, Field: path}, ALUA: GroupALUA{State: ALUAActiveOptimized}}
	m := d.mapping(n, path)
	if v := m.get("tag"); v != nil {
		if t, ok := d.integer(v, join(path, "tag"), 1, 65535); ok {
			pg.Tag = uint16(t)
		}
	} else {
		m.missing("tag", " (the portal group tag, 1..65535)")
	}
	if v := m.get("portals"); v != nil {
		items, ok := d.list(v, join(path, "portals"))
		if ok && len(items) == 0 {
			d.errAt(v, join(path, "portals"), "empty; a portal group needs at least one portal")
		}
		for i, it := range items {
			p := index(join(path, "portals"), i)
			s, ok := d.str(it, p)
			if !ok {
				continue
			}
			pt, err := ParsePortal(s)
			if err != nil {
				d.errAt(it, p, "%v", err)
				continue
			}
			pg.Portals = append(pg.Portals, pt)
		}
	} else {
		m.missing("portals", ", e.g. portals: [\"127.0.0.1:3260\", \"[::1]:3260\"]")
	}
	pg.ALUA = d.groupALUA(m.get("alua"), join(path, "alua"))
	m.done()
	return pg
}

func (d *decoder) volume(n *yaml.Node, path, dataDir string) Volume {
	v := Volume{Pos: Pos{File: d.file, Line: n.Line, Field: path}, BlockSize: DefaultBlockSize}
	m := d.mapping(n, path)
	if m == nil {
		return v
	}
	if x := m.get("name"); x != nil {
		if s, ok := d.str(x, join(path, "name")); ok {
			d.checkName(x, join(path, "name"), s)
			v.Name = s // kept even if invalid, so references to it do not cascade errors
		}
	} else {
		m.missing("name", "")
	}
	backendNode := m.get("backend")
	if backendNode != nil {
		if s, ok := d.str(backendNode, join(path, "backend")); ok {
			switch k := BackendKind(s); k {
			case BackendFile, BackendBlock, BackendMemory:
				v.Backend = k
			default:
				d.errAt(backendNode, join(path, "backend"), "%q is not file, block or memory", s)
			}
		}
	} else {
		m.missing("backend", " (file, block or memory)")
	}
	v.Thin = v.Backend != BackendBlock

	pathNode := m.get("path")
	switch {
	case pathNode == nil && (v.Backend == BackendFile || v.Backend == BackendBlock):
		m.missing("path", fmt.Sprintf(" for a %s volume", v.Backend))
	case pathNode != nil && v.Backend == BackendMemory:
		d.errAt(pathNode, join(path, "path"), "a memory volume has no path")
	case pathNode != nil:
		if s, ok := d.str(pathNode, join(path, "path")); ok && d.checkPath(pathNode, join(path, "path"), s) {
			switch {
			case v.Backend == BackendBlock && !filepath.IsAbs(s):
				d.errAt(pathNode, join(path, "path"), "%q: a block device path must be absolute, e.g. /dev/sdb", s)
			case filepath.IsAbs(s):
				v.Path = filepath.Clean(s)
			default:
				v.Path = filepath.Join(dataDir, s)
			}
		}
	}

	sizeNode := m.get("size")
	switch {
	case sizeNode == nil && (v.Backend == BackendFile || v.Backend == BackendMemory):
		m.missing("size", fmt.Sprintf(" for a %s volume, e.g. size: 20GiB", v.Backend))
	case sizeNode != nil && v.Backend == BackendBlock:
		d.errAt(sizeNode, join(path, "size"), "a block volume's size is the device's; remove size")
	case sizeNode != nil:
		if s, ok := d.scalar(sizeNode, join(path, "size"), "a size such as 20GiB"); ok {
			if sz, err := ParseSize(s); err != nil {
				d.errAt(sizeNode, join(path, "size"), "%v", err)
			} else if sz == 0 {
				d.errAt(sizeNode, join(path, "size"), "must not be 0")
			} else {
				v.Size = sz
			}
		}
	}
	if x := m.get("block_size"); x != nil {
		if s, ok := d.scalar(x, join(path, "block_size"), "512 or 4096"); ok {
			switch s {
			case "512":
				v.BlockSize = 512
			case "4096":
				v.BlockSize = 4096
			default:
				d.errAt(x, join(path, "block_size"), "%s is not 512 or 4096", s)
			}
		}
	}
	if x := m.get("physical_block_size"); x != nil {
		if s, ok := d.scalar(x, join(path, "physical_block_size"), "512, 4096 … 65536"); ok {
			pbs, err := strconv.ParseUint(s, 10, 32)
			if err != nil || pbs < uint64(v.BlockSize) || pbs > 65536 || pbs&(pbs-1) != 0 {
				d.errAt(x, join(path, "physical_block_size"), "%s is not a power of two from block_size %d to 65536", s, v.BlockSize)
			} else {
				v.PhysicalBlockSize = int(pbs)
			}
		}
	}
	if v.Size != 0 && v.Size%int64(v.BlockSize) != 0 {
		written := sizeNode.Value
		if !isDigits(written) {
			written = fmt.Sprintf("%s (%d bytes)", written, v.Size)
		}
		d.errAt(sizeNode, join(path, "size"), "%s is not a multiple of block_size %d", written, v.BlockSize)
	}
	if x := m.get("serial"); x != nil {
		if s, ok := d.str(x, join(path, "serial")); ok {
			if err := checkSerial(s); err != nil {
				d.errAt(x, join(path, "serial"), "%v", err)
			} else {
				v.Serial = s
			}
		}
	}
	flag := func(key string, dst *bool) {
		if x := m.get(key); x != nil {
			if b, ok := d.boolean(x, join(path, key), false); ok {
				*dst = b
			}
		}
	}
	flag("thin", &v.Thin)
	flag("read_only", &v.ReadOnly)
	flag("removable", &v.Removable)
	flag("write_cache", &v.WriteCache)
	if x := m.get("sanitize_rate"); x != nil {
		if s, ok := d.scalar(x, join(path, "sanitize_rate"), "a rate in bytes per second such as 128MiB"); ok {
			if r, err := ParseSize(s); err != nil {
				d.errAt(x, join(path, "sanitize_rate"), "%v", err)
			} else if r < 1<<20 {
				d.errAt(x, join(path, "sanitize_rate"), "%s: at least 1MiB (per second)", s)
			} else {
				v.SanitizeRate = r
			}
		}
	}
	if x := m.get("identity"); x != nil {
		d.identity(x, join(path, "identity"), &v)
	}
	if x := m.get("replicas"); x != nil {
		items, _ := d.list(x, join(path, "replicas"))
		v.Replicas = []string{}
		for i, it := range items {
			if s, ok := d.str(it, index(join(path, "replicas"), i)); ok {
				v.Replicas = append(v.Replicas, s)
			}
		}
		if len(items) == 0 {
			d.errAt(x, join(path, "replicas"), "empty; list the nodes holding the volume, or leave replicas out for every storage node")
		}
	}
	if x := m.get("product_id"); x != nil {
		if s, ok := d.str(x, join(path, "product_id")); ok {
			if err := checkProductID(s); err != nil {
				d.errAt(x, join(path, "product_id"), "%v", err)
			} else if v.Identity.Product != "" {
				d.errAt(x, join(path, "product_id"), "identity.product is set too; keep one")
			} else {
				v.Identity.Product = s
			}
		}
	}
	m.done()
	return v
}

// checkSerial checks a unit serial: printable ASCII without spaces, as VPD
// page 0x80 carries it.
func checkSerial(s string) error {
	if s == "" || len(s) > maxSerialLen {
		return fmt.Errorf("%q: a serial has 1..%d characters", s, maxSerialLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("%q: a serial is printable ASCII without spaces", s)
		}
	}
	return nil
}

func (d *decoder) target(n *yaml.Node, path string) Target {
	t := Target{Pos: Pos{File: d.file, Line: n.Line, Field: path}}
	m := d.mapping(n, path)
	if m == nil {
		return t
	}
	if x := m.get("iqn"); x != nil {
		if s, ok := d.str(x, join(path, "iqn")); ok {
			if name, err := NormalizeName(s); err != nil {
				d.errAt(x, join(path, "iqn"), "%q: %v", s, err)
				t.IQN = s
			} else {
				t.IQN = name
			}
		}
	} else {
		m.missing("iqn", ", e.g. iqn: iqn.2003-01.org.example:disk1")
	}
	if x := m.get("alias"); x != nil {
		if s, ok := d.str(x, join(path, "alias")); ok {
			if len(s) > maxAliasLen || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				d.errAt(x, join(path, "alias"), "an alias is up to %d bytes of UTF-8 text without control characters", maxAliasLen)
			} else {
				t.Alias = s
			}
		}
	}
	if x := m.get("portal_groups"); x != nil {
		p := join(path, "portal_groups")
		items, ok := d.list(x, p)
		if ok && len(items) == 0 {
			d.errAt(x, p, "empty; omit it to use every portal group")
		}
		for i, it := range items {
			if tag, ok := d.integer(it, index(p, i), 1, 65535); ok {
				t.PortalGroups = append(t.PortalGroups, uint16(tag))
			}
		}
	}
	if x := m.get("luns"); x != nil && !isNull(x) {
		p := join(path, "luns")
		items, _ := d.list(x, p)
		for i, it := range items {
			if d.stopped() {
				break
			}
			t.LUNs = append(t.LUNs, d.lun(it, index(p, i)))
		}
	}
	if x := m.get("access"); x != nil {
		t.Access = d.access(x, join(path, "access"))
	} else {
		m.missing("access", "; access: {all: true} lets every initiator in")
	}
	if x := m.get("params"); x != nil && !isNull(x) {
		t.Params = d.params(x, join(path, "params"))
	}
	if x := m.get("chap"); x != nil && !isNull(x) {
		t.CHAP = d.chap(x, join(path, "chap"))
	}
	if x := m.get("alua"); x != nil && !isNull(x) {
		t.ALUA = d.targetALUA(x, join(path, "alua"))
	}
	m.done()
	return t
}

func (d *decoder) lun(n *yaml.Node, path string) LUN {
	var l LUN
	m := d.mapping(n, path)
	if x := m.get("lun"); x != nil {
		if v, ok := d.integer(x, join(path, "lun"), 0, MaxLUN); ok {
			l.LUN = uint16(v)
		} else {
			l.LUN = MaxLUN + 1 // invalid: keeps it out of duplicate checks
		}
	} else if m != nil {
		m.missing("lun", " (0..16383)")
		l.LUN = MaxLUN + 1
	}
	if x := m.get("volume"); x != nil {
		if s, ok := d.str(x, join(path, "volume")); ok {
			l.Volume = s
		}
	} else {
		m.missing("volume", " (a volume's name)")
	}
	m.done()
	return l
}

// unsupportedParams are RFC 7143 keys halun negotiates itself.
var unsupportedParams = map[string]string{
	"MaxConnections":      "halun negotiates MaxConnections=1 (no multiple connections per session yet)",
	"ErrorRecoveryLevel":  "halun implements ErrorRecoveryLevel 0 only",
	"DataPDUInOrder":      "halun negotiates DataPDUInOrder=Yes",
	"DataSequenceInOrder": "halun negotiates DataSequenceInOrder=Yes",
	"DefaultTime2Wait":    "DefaultTime2Wait is not configurable",
	"DefaultTime2Retain":  "DefaultTime2Retain is not configurable",
	"MaxXmitDataSegmentLength": "MaxXmitDataSegmentLength is not an RFC 7143 key; " +
		"the initiator's MaxRecvDataSegmentLength bounds what halun sends",
}

func (d *decoder) params(n *yaml.Node, path string) Params {
	var p Params
	m := d.mapping(n, path)
	if m == nil {
		return p
	}
	boolean := func(key string) *bool {
		if x := m.get(key); x != nil {
			if b, ok := d.boolean(x, join(path, key), true); ok {
				return &b
			}
		}
		return nil
	}
	number := func(key string, lo, hi int64) *uint32 {
		if x := m.get(key); x != nil {
			if v, ok := d.integer(x, join(path, key), lo, hi); ok {
				u := uint32(v)
				return &u
			}
		}
		return nil
	}
	p.InitialR2T = boolean("InitialR2T")
	p.ImmediateData = boolean("ImmediateData")
	p.MaxRecvDataSegmentLength = number("MaxRecvDataSegmentLength", minDataLength, maxDataLength)
	p.MaxBurstLength = number("MaxBurstLength", minDataLength, maxDataLength)
	p.FirstBurstLength = number("FirstBurstLength", minDataLength, maxDataLength)
	p.MaxOutstandingR2T = number("MaxOutstandingR2T", 1, maxOutstandingR2T)
	p.HeaderDigest = d.digests(m.get("HeaderDigest"), join(path, "HeaderDigest"))
	p.DataDigest = d.digests(m.get("DataDigest"), join(path, "DataDigest"))
	if e := p.Effective(); e.FirstBurstLength > e.MaxBurstLength {
		if p.FirstBurstLength != nil {
			why := ""
			if p.MaxBurstLength == nil {
				why = " (the default)"
			}
			d.errAt(m.get("FirstBurstLength"), join(path, "FirstBurstLength"),
				"%d exceeds MaxBurstLength %d%s", e.FirstBurstLength, e.MaxBurstLength, why)
		} else {
			d.errAt(m.get("MaxBurstLength"), join(path, "MaxBurstLength"),
				"%d is less than FirstBurstLength %d (the default); set FirstBurstLength too", e.MaxBurstLength, e.FirstBurstLength)
		}
	}
	for _, k := range sortedKeys(unsupportedParams) {
		m.reject(k, unsupportedParams[k])
	}
	m.done()
	return p
}

// digests decodes a digest list: [CRC32C, None] or "CRC32C,None".
func (d *decoder) digests(n *yaml.Node, path string) []string {
	if n == nil {
		return nil
	}
	var words []string
	var at []*yaml.Node
	switch {
	case n.Kind == yaml.SequenceNode:
		items, _ := d.list(n, path)
		for i, it := range items {
			if s, ok := d.str(it, index(path, i)); ok {
				words = append(words, s)
				at = append(at, it)
			}
		}
	default:
		s, ok := d.scalar(n, path, "CRC32C, None or a list of them")
		if !ok {
			return nil
		}
		for _, w := range strings.Split(s, ",") {
			words = append(words, strings.TrimSpace(w))
			at = append(at, n)
		}
	}
	var out []string
	for i, w := range words {
		var v string
		switch strings.ToLower(w) {
		case "none":
			v = DigestNone
		case "crc32c":
			v = DigestCRC32C
		default:
			d.errAt(at[i], path, "%q is not CRC32C or None", w)
			continue
		}
		if slices.Contains(out, v) {
			d.errAt(at[i], path, "%s listed twice", v)
			continue
		}
		out = append(out, v)
	}
	if len(words) == 0 {
		d.errAt(n, path, "empty; list CRC32C and/or None")
		return nil
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
