package importer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// ietd.conf (ietd.conf(5), IET 0.4 to 1.4.20): a global part with
// discovery IncomingUser/OutgoingUser, then "Target NAME" stanzas holding
// IncomingUser, OutgoingUser, "Lun N Path=...,Type=fileio|blockio[,ScsiId=
// ...][,ScsiSN=...][,IOMode=wb|ro|wt][,BlockSize=N]" or
// "Lun N Sectors|Blocks=...,Type=nullio", Alias and iSCSI keys. Lines
// starting with '#' are comments; a trailing backslash continues a line.
// Keywords are case-insensitive.

type ietTarget struct {
	name     string
	line     int
	alias    string
	incoming []ietUser
	outgoing *ietUser
	luns     []ietLUN
	other    []logicalLine
}

type ietUser struct {
	user, secret string
	line         int
}

type ietLUN struct {
	lun  int
	line int
	opts map[string]string // lower-case key -> value
	keys []string          // keys in source order, original spelling
}

type ietConf struct {
	discoveryIn  []ietUser
	discoveryOut *ietUser
	targets      []*ietTarget
}

// parseIETD reads ietd.conf into its stanzas.
func parseIETD(name string, data []byte, fs *findings) (*ietConf, error) {
	el := &errList{file: name}
	c := &ietConf{}
	var cur *ietTarget
	for _, ll := range splitLines(data) {
		if strings.HasPrefix(ll.text, "#") {
			continue
		}
		f := strings.Fields(ll.text)
		kw, args := f[0], f[1:]
		switch strings.ToLower(kw) {
		case "target":
			if len(args) != 1 {
				el.add(ll.line, "Target wants one name, got %d words", len(args))
				cur = nil
				continue
			}
			cur = &ietTarget{name: args[0], line: ll.line}
			c.targets = append(c.targets, cur)
		case "incominguser", "outgoinguser":
			u, ok := ietUserArgs(kw, args, ll.line, el)
			if !ok {
				continue
			}
			in := strings.EqualFold(kw, "incominguser")
			switch {
			case cur == nil && in:
				c.discoveryIn = append(c.discoveryIn, u)
			case cur == nil:
				c.discoveryOut = &u
			case in:
				cur.incoming = append(cur.incoming, u)
			default:
				if cur.outgoing != nil {
					fs.warn(ll.line, "target %s: a second OutgoingUser; IET uses one, the last is carried", cur.name)
				}
				cur.outgoing = &u
			}
		case "lun":
			if cur == nil {
				el.add(ll.line, "Lun outside a Target stanza")
				continue
			}
			if l, ok := parseIETLun(args, ll.line, el); ok {
				for _, prev := range cur.luns {
					if prev.lun == l.lun {
						el.add(ll.line, "Lun %d defined twice in target %s (first at line %d)", l.lun, cur.name, prev.line)
						ok = false
					}
				}
				if ok {
					cur.luns = append(cur.luns, l)
				}
			}
		case "alias":
			if cur == nil {
				el.add(ll.line, "Alias outside a Target stanza")
				continue
			}
			cur.alias = strings.Join(args, " ")
		default:
			if cur == nil {
				fs.warn(ll.line, "global option %s not carried", kw)
				continue
			}
			cur.other = append(cur.other, ll)
		}
	}
	return c, el.err()
}

func ietUserArgs(kw string, args []string, line int, el *errList) (ietUser, bool) {
	if len(args) != 2 {
		el.add(line, "%s wants a user name and a password, got %d words", kw, len(args))
		return ietUser{}, false
	}
	return ietUser{user: args[0], secret: args[1], line: line}, true
}

// parseIETLun reads "N key=value,key=value...".
func parseIETLun(args []string, line int, el *errList) (ietLUN, bool) {
	if len(args) == 0 {
		el.add(line, "Lun wants a number and its parameters")
		return ietLUN{}, false
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > config.MaxLUN {
		el.add(line, "Lun %q is not a number 0..%d", args[0], config.MaxLUN)
		return ietLUN{}, false
	}
	l := ietLUN{lun: n, line: line, opts: map[string]string{}}
	// ietd.conf(5): no blanks inside the parameters; be lenient and join.
	for _, kv := range strings.Split(strings.Join(args[1:], ""), ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			el.add(line, "Lun %d: %q is not key=value", n, kv)
			return ietLUN{}, false
		}
		lk := strings.ToLower(k)
		if _, dup := l.opts[lk]; !dup {
			l.keys = append(l.keys, k)
		}
		l.opts[lk] = v
	}
	switch t := strings.ToLower(l.opts["type"]); t {
	case "", "fileio", "blockio":
		if l.opts["path"] == "" {
			el.add(line, "Lun %d: Type=%s needs Path=", n, cmpOr(t, "fileio"))
			return ietLUN{}, false
		}
	case "nullio":
	default:
		el.add(line, "Lun %d: Type=%s is not fileio, blockio or nullio", n, l.opts["type"])
		return ietLUN{}, false
	}
	return l, true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// convertIETD converts ietd.conf (and initiators.allow/deny from o).
func convertIETD(name string, data []byte, o Options, fs *findings) (*model, error) {
	c, err := parseIETD(name, data, fs)
	if err != nil {
		return nil, err
	}
	acl, err := parseIETACLs(o, fs)
	if err != nil {
		return nil, err
	}
	m := &model{header: []string{
		"IET listened where ietd's -a/-p options said (default every address, port 3260);",
		"the portal group below assumes that default.",
	}}
	m.portalGroups = []portalGroup{{tag: 1, portals: []string{":3260"}}}
	fs.info(0, "IET's listen address is not in ietd.conf (ietd -a ADDR -p PORT); the output listens on :3260 — adjust portal_groups if ietd ran with -a or -p")
	names := volumeNames{}
	byPath := map[string]*volume{}
	if len(c.discoveryIn) > 0 || c.discoveryOut != nil {
		m.discovery = &chap{}
		if len(c.discoveryIn) > 0 {
			u := c.discoveryIn[0]
			m.discovery.username, m.discovery.secret = u.user, u.secret
			for _, x := range c.discoveryIn[1:] {
				fs.warn(x.line, "discovery IncomingUser %s: halun takes one discovery user; not carried", x.user)
			}
		}
		if o := c.discoveryOut; o != nil {
			m.discovery.targetUsername, m.discovery.targetSecret = o.user, o.secret
			if m.discovery.username == "" {
				fs.warn(o.line, "discovery OutgoingUser %s without IncomingUser: mutual CHAP needs one-way CHAP first; not carried", o.user)
				m.discovery = nil
			}
		}
	}
	seenTargets := map[string]int{}
	for _, it := range c.targets {
		iqn, err := config.NormalizeName(it.name)
		if err != nil {
			fs.review(it.line, "target %q: not a valid iSCSI name for halun (%v); not imported", it.name, err)
			continue
		}
		if prev, dup := seenTargets[iqn]; dup {
			fs.review(it.line, "target %s defined again (first at line %d); not imported twice", iqn, prev)
			continue
		}
		seenTargets[iqn] = it.line
		t := &target{iqn: iqn, alias: it.alias, at: it.line}
		who := "target " + iqn
		for _, l := range it.luns {
			v := ietVolume(l, iqn, o, fs, names, byPath, m, who)
			if v != nil {
				t.luns = append(t.luns, lunMap{lun: l.lun, volume: v.name})
			}
		}
		var ps paramSet
		for _, ll := range it.other {
			f := strings.Fields(ll.text)
			val := strings.Join(f[1:], " ")
			if iscsiParam(&ps, f[0], val, ll.line, fs, who) {
				continue
			}
			switch strings.ToLower(f[0]) {
			case "maxsessions", "nopinterval", "noptimeout", "wthreads", "queuedcommands":
				fs.warn(ll.line, "%s: %s %s not carried; halun does not configure it", who, f[0], val)
			default:
				fs.warn(ll.line, "%s: unknown option %s not carried", who, f[0])
			}
		}
		t.params = ps.finish(fs, who)
		if len(it.incoming) > 0 {
			u := it.incoming[0]
			t.chap = &chap{username: u.user, secret: u.secret}
			for _, x := range it.incoming[1:] {
				fs.warn(x.line, "%s: IncomingUser %s: halun takes one CHAP user per target (or one per initiator entry); not carried", who, x.user)
			}
		}
		if it.outgoing != nil {
			if t.chap == nil {
				fs.warn(it.outgoing.line, "%s: OutgoingUser %s without IncomingUser: mutual CHAP needs one-way CHAP first; not carried", who, it.outgoing.user)
			} else {
				t.chap.targetUsername, t.chap.targetSecret = it.outgoing.user, it.outgoing.secret
			}
		}
		acl.apply(t, it.name, fs)
		m.targets = append(m.targets, t)
	}
	if len(m.targets) == 0 {
		fs.review(0, "no target imported")
	}
	fs.info(0, "iSCSI keys ietd.conf leaves unset take halun's defaults, not IET's (IET: InitialR2T Yes, ImmediateData No, MaxRecvDataSegmentLength 8192, MaxBurstLength 262144)")
	return m, nil
}

// ietVolume returns the volume behind an IET Lun line, shared between
// LUNs that name the same Path, or nil if it cannot be carried.
func ietVolume(l ietLUN, iqn string, o Options, fs *findings, names volumeNames, byPath map[string]*volume, m *model, who string) *volume {
	who = fmt.Sprintf("%s Lun %d", who, l.lun)
	typ := strings.ToLower(cmpOr(l.opts["type"], "fileio"))
	if typ == "nullio" {
		fs.warn(l.line, "%s: Type=nullio (writes discarded, reads random) has no halun equivalent; LUN not imported", who)
		return nil
	}
	path := l.opts["path"]
	key := filepath.Clean(path)
	sn, hasSN := l.opts["scsisn"]
	id, hasID := l.opts["scsiid"]
	if v := byPath[key]; v != nil {
		// IET gave every Lun line its own identity; halun gives a volume
		// one, whatever LUN it is seen through.
		again := identity.Spec{Style: identity.StyleIET, DeviceID: id}
		if !hasID {
			again.Target, again.LUN = iqn, uint64(l.lun)
		}
		again.Serial = sn
		if !hasSN {
			again.Serial = identity.IETDefaultSerial(identity.IETDefaultDeviceID(iqn, uint32(l.lun)))
			if hasID {
				again.Serial = identity.IETDefaultSerial([]byte(id))
			}
		}
		first := v.ident
		first.Serial = v.serial
		a, errA := identity.Resolve(again)
		b, errB := identity.Resolve(first)
		if errA == nil && errB == nil && !a.Equal(b) {
			fs.review(l.line, "%s: Path %s is exported again; IET gave this LUN its own identity (WWID %s), halun gives the volume one identity (WWID %s) through every LUN — initiators of this LUN see a new disk unless they use the first LUN's",
				who, path, a.WWID(), b.WWID())
		}
		return v
	}
	v := &volume{name: names.take(nameFromPath(path)), blockSize: 512, at: l.line}
	if bs, ok := l.opts["blocksize"]; ok {
		switch bs {
		case "512", "4096":
			v.blockSize, _ = strconv.Atoi(bs)
		default:
			fs.review(l.line, "%s: BlockSize=%s: halun has 512 and 4096 only; 512 written — initiators would see a different block size", who, bs)
		}
	}
	backing(v, path, 0, o, fs, l.line, who)
	if typ == "blockio" && v.backend != "block" {
		fs.info(l.line, "%s: Type=blockio on %s, which is not a block device here; imported as a file volume", who, path)
	}
	switch mode := strings.ToLower(l.opts["iomode"]); mode {
	case "", "wt":
	case "ro":
		v.readOnly = true
	case "wb":
		if typ == "blockio" {
			fs.info(l.line, "%s: IOMode=wb is ignored by IET for blockio; write-through kept", who)
		} else {
			v.writeCache = true
			fs.warn(l.line, "%s: IOMode=wb carried as write_cache: true, which is not quite IET's write-back: halun reports WCE and honours FUA and SYNCHRONIZE CACHE; IET ignored FUA", who)
		}
	default:
		fs.warn(l.line, "%s: IOMode=%s is not wt, wb or ro; write-through used", who, l.opts["iomode"])
	}
	if v.backend == "block" {
		v.thin = boolPtr(false)
	}
	// Identity: IET's (iscsitarget 1.4.20 kernel/volume.c and
	// target_disk.c). Without a ScsiId IET used MD5(target name, LUN);
	// without a ScsiSN, the hex of the ScsiId.
	v.notes = append(v.notes, fmt.Sprintf("from %s line %d (%s)", m.sourceName(fs), l.line, who))
	v.ident = identity.Spec{Style: identity.StyleIET}
	scsiID := []byte(id)
	if hasID {
		v.ident.DeviceID = id
	} else {
		v.ident.Target, v.ident.LUN = iqn, uint64(l.lun)
		scsiID = identity.IETDefaultDeviceID(iqn, uint32(l.lun))
		fs.info(l.line, "%s: no ScsiId: IET 1.4.20 derived it from the target name and LUN, as the output does; IET 1.4.19 and older derived it from the file's inode instead — if the old host runs one of those, read VPD 0x83 there and set identity.device_id", who)
	}
	switch {
	case !hasSN:
		v.serial = identity.IETDefaultSerial(scsiID)
		fs.info(l.line, "%s: no ScsiSN: IET 1.4.20 sent the ScsiId in hex (%s), as the output does; IET 1.4.19 and older sent a blank serial", who, v.serial)
	case checkSerial(sn) != nil:
		fs.review(l.line, "%s: ScsiSN %v; serial left to halun, so the disk's identity changes", who, checkSerial(sn))
		v.ident = identity.Spec{}
	default:
		v.serial = sn
	}
	if v.serial != "" {
		checkIdentity(v, fs, l.line, who)
		v.notes = append(v.notes, identityNotes("IET", v)...)
	}
	for _, k := range l.keys {
		switch strings.ToLower(k) {
		case "path", "type", "scsiid", "scsisn", "iomode", "blocksize":
		default:
			fs.warn(l.line, "%s: %s=%s not carried", who, k, l.opts[strings.ToLower(k)])
		}
	}
	byPath[key] = v
	m.volumes = append(m.volumes, v)
	return v
}

// sourceName is the name findings use for the input.
func (m *model) sourceName(fs *findings) string { return filepath.Base(fs.file) }
