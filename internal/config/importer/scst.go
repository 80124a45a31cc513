package importer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// scstDevice is a DEVICE of a vdisk handler, converted.
type scstDevice struct {
	v       *volume
	lunRO   []int // lines of LUNs that export it read-only
	lunRW   []int // lines of LUNs that export it writable
	handler string
}

// convertSCST converts scst.conf.
func convertSCST(name string, data []byte, o Options, fs *findings) (*model, error) {
	nodes, err := parseSCSTTree(name, data)
	if err != nil {
		return nil, err
	}
	m := &model{header: []string{
		"iscsi-scst listened on every address, port 3260, unless iscsi-scstd -a/-p or allowed_portal said otherwise.",
	}}
	m.portalGroups = []portalGroup{{tag: 1, portals: []string{":3260"}}}
	devs := map[string]*scstDevice{}
	names := volumeNames{}
	setupID := scstSetupID(nodes, fs)
	for _, n := range nodes {
		switch n.keyword() {
		case "HANDLER":
			if !n.block {
				fs.warn(n.line, "HANDLER %s without a block; ignored", n.arg(1))
				continue
			}
			for _, d := range n.children {
				if d.keyword() != "DEVICE" {
					fs.warn(d.line, "handler %s: %s not carried", n.arg(1), d.words[0])
					continue
				}
				if sd := scstVolume(n.arg(1), d, o, fs, names, setupID); sd != nil {
					if prev := devs[d.arg(1)]; prev != nil {
						fs.review(d.line, "DEVICE %s defined twice; the first is kept", d.arg(1))
						continue
					}
					devs[d.arg(1)] = sd
					m.volumes = append(m.volumes, sd.v)
				}
			}
		case "TARGET_DRIVER":
			scstDriver(n, m, devs, fs)
		case "DEVICE_GROUP":
			fs.warn(n.line, "DEVICE_GROUP %s (ALUA target port groups) not carried: halun keeps one ALUA state per portal group (portal_groups[].alua), not per device group; set the states there, until then every portal group reports active/optimized", n.arg(1))
		default:
			if n.block {
				fs.warn(n.line, "%s block not carried", n.words[0])
			} else if !strings.EqualFold(n.words[0], "setup_id") {
				fs.info(n.line, "global attribute %s not carried", n.words[0])
			}
		}
	}
	// Per-LUN read_only: halun's read_only is the volume's.
	for _, name := range sortedKeys(devs) {
		sd := devs[name]
		switch {
		case len(sd.lunRO) > 0 && len(sd.lunRW) == 0:
			if !sd.v.readOnly {
				sd.v.readOnly = true
				fs.info(sd.lunRO[0], "device %s: exported read-only by every LUN; the volume is read_only", name)
			}
		case len(sd.lunRO) > 0 && !sd.v.readOnly:
			fs.review(sd.lunRO[0], "device %s: read-only through this LUN but writable through line %d; halun's read_only is per volume, so this LUN becomes writable", name, sd.lunRW[0])
		}
	}
	if len(m.targets) == 0 {
		fs.review(0, "no iSCSI target imported")
	}
	fs.info(0, "iSCSI keys scst.conf leaves unset take halun's defaults, not iscsi-scst's")
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// small maps; insertion sort keeps this dependency-free
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func scstBool(s string) bool {
	return s == "1" || strings.EqualFold(s, "yes") || strings.EqualFold(s, "true")
}

// scstVolume converts DEVICE d of handler h.
func scstVolume(h string, d *scstNode, o Options, fs *findings, names volumeNames, setupID uint32) *scstDevice {
	devName := d.arg(1)
	who := "device " + devName
	switch h {
	case "vdisk_fileio", "vdisk_blockio":
	default:
		fs.warn(d.line, "%s: handler %s has no halun equivalent (halun serves files and block devices as disks); not imported", who, h)
		return nil
	}
	attrs := map[string]*scstNode{}
	for _, a := range d.children {
		attrs[strings.ToLower(a.words[0])] = a
	}
	get := func(k string) (string, int, bool) {
		if a := attrs[k]; a != nil {
			return a.value(), a.line, true
		}
		return "", 0, false
	}
	fn, fnLine, ok := get("filename")
	if !ok || fn == "" {
		fs.review(d.line, "%s: no filename; not imported", who)
		return nil
	}
	v := &volume{name: names.take(devName), blockSize: 512, at: d.line}
	if bs, line, ok := get("blocksize"); ok {
		switch bs {
		case "512", "4096":
			v.blockSize, _ = strconv.Atoi(bs)
		default:
			fs.review(line, "%s: blocksize %s: halun has 512 and 4096 only; 512 written — initiators would see a different block size", who, bs)
		}
	}
	var size int64
	if s, line, ok := get("size"); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			size = n
		} else {
			fs.warn(line, "%s: size %q is not a number of bytes; ignored", who, s)
		}
	} else if s, line, ok := get("size_mb"); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<43 {
			size = n << 20
		} else {
			fs.warn(line, "%s: size_mb %q is not a number; ignored", who, s)
		}
	}
	backing(v, fn, size, o, fs, fnLine, who)
	if h == "vdisk_blockio" && v.backend != "block" {
		fs.info(fnLine, "%s: vdisk_blockio on %s, which is not a block device here; imported as a file volume", who, fn)
	}
	ro, _, _ := get("read_only")
	v.readOnly = scstBool(ro)
	rm, _, _ := get("removable")
	v.removable = scstBool(rm)
	tp, _, _ := get("thin_provisioned")
	v.thin = boolPtr(scstBool(tp))
	wt, _, _ := get("write_through")
	od, _, _ := get("o_direct")
	nv, nvLine, _ := get("nv_cache")
	// SCST reports a volatile write cache (WCE) unless write_through or
	// nv_cache; halun's write_cache says the same to initiators.
	v.writeCache = !scstBool(wt) && !scstBool(od) && !scstBool(nv)
	if scstBool(nv) {
		fs.warn(nvLine, "%s: nv_cache 1 not carried: SCST ignored SYNCHRONIZE CACHE and reported no volatile cache; halun writes through instead (safe, maybe slower)", who)
	}
	// Identity: SCST's (scst_vdisk.c). scstadmin writes only the
	// attributes set explicitly; the others are SCST's defaults, derived
	// from the device name and setup_id, except prod_rev_lvl, which
	// changes with the SCST release.
	v.notes = append(v.notes, fmt.Sprintf("from DEVICE %s (%s) at line %d", devName, h, d.line))
	sp := identity.Spec{Style: identity.StyleSCST}
	vend, _, hasVend := get("t10_vend_id")
	if !hasVend {
		vend = map[string]string{"vdisk_fileio": identity.SCSTVendorFileIO, "vdisk_blockio": identity.SCSTVendorBlockIO}[h]
	}
	if vend != identity.SCSTVendorBlockIO {
		sp.Vendor = vend
	}
	if p, _, ok := get("prod_id"); ok {
		sp.Product = p
	} else {
		sp.Product = devName
		if len(sp.Product) > 16 {
			sp.Product = sp.Product[:16]
		}
	}
	if r, _, ok := get("prod_rev_lvl"); ok {
		sp.Revision = r
	} else if o.SCSTVersion != "" {
		sp.Revision, _ = SCSTRevision(o.SCSTVersion)
	} else {
		fs.review(d.line, "%s: prod_rev_lvl is SCST's default, which changes with the release (\" 300\" in 3.0 … \"3110\" in 3.11): "+
			"rerun with --scst-version, or set identity.revision to /sys/kernel/scst_tgt/devices/%s/prod_rev_lvl of the old host", who, devName)
	}
	usn, usnLine, hasUSN := get("usn")
	if !hasUSN {
		usn = scstDefaultUSN(devName, setupID)
		fs.info(d.line, "%s: usn is SCST's default, computed as SCST does from the name and setup_id %#x: %s%s", who, setupID, usn, setupIDCaveat(setupID))
	}
	if err := checkSerial(usn); err != nil {
		fs.review(usnLine, "%s: usn %v; serial left to halun, so the disk's identity changes", who, err)
		sp = identity.Spec{}
	} else {
		v.serial = usn
	}
	t10, _, hasT10 := get("t10_dev_id")
	if !hasT10 {
		t10 = scstDefaultT10DevID(devName, setupID)
	}
	sp.DeviceID = t10
	// vend_specific_id is copied from the generated t10_dev_id when the
	// device is created, before any t10_dev_id setting applies.
	if vs, _, ok := get("vend_specific_id"); ok {
		sp.VendorSpecificID = vs
	} else if gen := scstDefaultT10DevID(devName, setupID); gen != t10 {
		sp.VendorSpecificID = gen
	}
	for _, x := range []struct {
		key  string
		dst  *[]byte
		want string
	}{{"naa_id", &sp.NAA, "16 hex digits starting with 2, 3 or 5, or 32 starting with 6"}, {"eui64_id", &sp.EUI64, "16, 24 or 32 hex digits"}} {
		if val, line, ok := get(x.key); ok {
			b, err := config.ParseHexID(val)
			if err != nil {
				fs.review(line, "%s: %s %q: %v; want %s", who, x.key, val, err, x.want)
				continue
			}
			*x.dst = b
		}
	}
	if sp.Style != "" {
		v.ident = sp
		if v.serial != "" && sp.Revision != "" {
			checkIdentity(v, fs, d.line, who)
			v.notes = append(v.notes, identityNotes("SCST", v)...)
		}
	}
	for _, k := range []string{"rotational", "cluster_mode", "dif_mode", "dif_type", "scsi_device_name", "o_direct", "write_through", "nv_cache"} {
		if val, line, ok := get(k); ok {
			switch k {
			case "o_direct", "write_through", "nv_cache":
				if k != "nv_cache" {
					fs.info(line, "%s: %s %s carried as write_cache: %t", who, k, val, v.writeCache)
				}
			default:
				fs.warn(line, "%s: %s %q not carried", who, k, val)
			}
		}
	}
	known := map[string]bool{"filename": true, "blocksize": true, "size": true, "size_mb": true, "read_only": true, "removable": true,
		"thin_provisioned": true, "write_through": true, "o_direct": true, "nv_cache": true, "usn": true, "t10_dev_id": true,
		"eui64_id": true, "naa_id": true, "t10_vend_id": true, "prod_id": true, "prod_rev_lvl": true, "vend_specific_id": true,
		"rotational": true, "cluster_mode": true, "dif_mode": true, "dif_type": true, "scsi_device_name": true}
	for _, a := range d.children {
		if !known[strings.ToLower(a.words[0])] {
			fs.info(a.line, "%s: attribute %s %s not carried", who, a.words[0], a.value())
		}
	}
	return &scstDevice{v: v, handler: h}
}

// scstDriver converts a TARGET_DRIVER block; only iscsi is carried.
func scstDriver(n *scstNode, m *model, devs map[string]*scstDevice, fs *findings) {
	if !strings.EqualFold(n.arg(1), "iscsi") {
		fs.warn(n.line, "TARGET_DRIVER %s: halun serves iSCSI only; not carried", n.arg(1))
		return
	}
	enabled := true
	for _, c := range n.children {
		switch strings.ToLower(c.words[0]) {
		case "enabled":
			enabled = scstBool(c.arg(1))
		case "incominguser", "outgoinguser":
			u, s := scstUser(c)
			if m.discovery == nil {
				m.discovery = &chap{}
			}
			if strings.EqualFold(c.words[0], "incominguser") {
				if m.discovery.username != "" {
					fs.warn(c.line, "discovery IncomingUser %s: halun takes one discovery user; not carried", u)
					continue
				}
				m.discovery.username, m.discovery.secret = u, s
			} else {
				m.discovery.targetUsername, m.discovery.targetSecret = u, s
			}
		case "target":
		default:
			fs.info(c.line, "iscsi driver attribute %s not carried", c.words[0])
		}
	}
	if !enabled {
		fs.review(n.line, "the iscsi target driver is disabled (enabled 0); its targets are imported and will serve")
	}
	seen := map[string]int{}
	for _, c := range n.children {
		if strings.EqualFold(c.words[0], "target") {
			if t := scstTarget(c, devs, fs); t != nil {
				if prev, dup := seen[t.iqn]; dup {
					fs.review(c.line, "target %s defined again (first at line %d); not imported twice", t.iqn, prev)
					continue
				}
				seen[t.iqn] = c.line
				m.targets = append(m.targets, t)
			}
		}
	}
}

// scstUser splits IncomingUser "user secret" (one quoted word or two).
func scstUser(n *scstNode) (user, secret string) {
	f := strings.Fields(n.value())
	if len(f) > 0 {
		user = f[0]
	}
	if len(f) > 1 {
		secret = strings.Join(f[1:], " ")
	}
	return user, secret
}

func scstTarget(n *scstNode, devs map[string]*scstDevice, fs *findings) *target {
	iqn, err := config.NormalizeName(n.arg(1))
	if err != nil {
		fs.review(n.line, "target %q: not a valid iSCSI name for halun (%v); not imported", n.arg(1), err)
		return nil
	}
	who := "target " + iqn
	t := &target{iqn: iqn, at: n.line}
	enabled := false
	var ps paramSet
	lun := func(c *scstNode, group string) (lunMap, bool) {
		num, err := strconv.Atoi(c.arg(1))
		if err != nil || num < 0 || num > config.MaxLUN || c.arg(2) == "" {
			fs.review(c.line, "%s: %q is not LUN N DEVICE with N in 0..%d; not carried", who, strings.Join(c.words, " "), config.MaxLUN)
			return lunMap{}, false
		}
		sd := devs[c.arg(2)]
		if sd == nil {
			fs.review(c.line, "%s: LUN %d: device %s is not defined (or not importable); LUN not carried", who, num, c.arg(2))
			return lunMap{}, false
		}
		ro := false
		for _, a := range c.children {
			if strings.EqualFold(a.words[0], "read_only") {
				ro = scstBool(a.arg(1))
			} else {
				fs.warn(a.line, "%s: LUN %d attribute %s not carried", who, num, a.words[0])
			}
		}
		if ro {
			sd.lunRO = append(sd.lunRO, c.line)
		} else {
			sd.lunRW = append(sd.lunRW, c.line)
		}
		return lunMap{lun: num, volume: sd.v.name}, true
	}
	addLUN := func(list []lunMap, l lunMap, line int) []lunMap {
		for _, x := range list {
			if x.lun == l.lun {
				fs.review(line, "%s: LUN %d mapped twice; the first is kept", who, l.lun)
				return list
			}
		}
		return append(list, l)
	}
	var groups []*scstNode
	for _, c := range n.children {
		switch strings.ToLower(c.words[0]) {
		case "enabled":
			enabled = scstBool(c.arg(1))
		case "lun":
			if l, ok := lun(c, ""); ok {
				t.luns = addLUN(t.luns, l, c.line)
			}
		case "group":
			groups = append(groups, c)
		case "incominguser":
			u, s := scstUser(c)
			if t.chap != nil && t.chap.username != "" {
				fs.warn(c.line, "%s: IncomingUser %s: halun takes one CHAP user per target (or one per initiator entry); not carried", who, u)
				continue
			}
			if t.chap == nil {
				t.chap = &chap{}
			}
			t.chap.username, t.chap.secret = u, s
		case "outgoinguser":
			u, s := scstUser(c)
			if t.chap == nil {
				t.chap = &chap{}
			}
			t.chap.targetUsername, t.chap.targetSecret = u, s
		case "rel_tgt_id":
			if c.arg(1) != "1" {
				fs.warn(c.line, "%s: rel_tgt_id %s not carried: halun's relative target port identifier is the portal group tag, so that target-port designator of VPD 0x83 differs (the disk's own designators do not)", who, c.arg(1))
			}
		case "allowed_portal":
			fs.review(c.line, "%s: allowed_portal %s not carried: the target is reachable on every portal of its portal groups", who, c.value())
		case "per_portal_acl":
			if scstBool(c.arg(1)) {
				fs.warn(c.line, "%s: per_portal_acl 1 not carried; halun's access does not depend on the portal", who)
			}
		case "alias":
			t.alias = c.value()
		default:
			if !iscsiParam(&ps, c.words[0], c.value(), c.line, fs, who) {
				fs.info(c.line, "%s: attribute %s %s not carried", who, c.words[0], c.value())
			}
		}
	}
	t.params = ps.finish(fs, who)
	if t.chap != nil && t.chap.username == "" {
		fs.warn(n.line, "%s: OutgoingUser without IncomingUser: mutual CHAP needs one-way CHAP first; not carried", who)
		t.chap = nil
	}
	if !enabled {
		fs.review(n.line, "%s: disabled in SCST (enabled 0 or no enabled attribute); imported, and halun will serve it", who)
	}
	// Access: the default LUN set is for initiators in no GROUP.
	t.all = len(groups) == 0 || len(t.luns) > 0
	for _, g := range groups {
		var gl []lunMap
		var inits []string
		for _, c := range g.children {
			switch strings.ToLower(c.words[0]) {
			case "lun":
				if l, ok := lun(c, g.arg(1)); ok {
					gl = addLUN(gl, l, c.line)
				}
			case "initiator":
				pat := c.value()
				if strings.ContainsAny(pat, "*?[]!") {
					fs.review(c.line, "%s: GROUP %s: INITIATOR pattern %q not carried: halun matches exact names; list each initiator, until then they cannot log in", who, g.arg(1), pat)
					continue
				}
				name, err := config.NormalizeName(pat)
				if err != nil {
					fs.review(c.line, "%s: GROUP %s: INITIATOR %q is not a valid iSCSI name; not carried", who, g.arg(1), pat)
					continue
				}
				inits = append(inits, name)
			default:
				fs.warn(c.line, "%s: GROUP %s attribute %s not carried", who, g.arg(1), c.words[0])
			}
		}
		for _, in := range inits {
			dup := false
			for _, x := range t.initiators {
				if x.iqn == in {
					fs.review(g.line, "%s: initiator %s is in two groups; SCST used the first match, so is halun", who, in)
					dup = true
				}
			}
			if !dup {
				t.initiators = append(t.initiators, initiatorACL{iqn: in, own: true, luns: gl, at: g.line})
			}
		}
	}
	if len(groups) > 0 && len(t.luns) > 0 {
		fs.review(n.line, "%s: initiators in no GROUP saw the target's default LUNs; halun's access is every initiator or a list, so only the GROUP initiators are let in — add the others by name (without luns, they see the target's LUNs)", who)
	}
	if len(groups) > 0 && len(t.luns) == 0 {
		fs.info(n.line, "%s: initiators in no GROUP saw no LUNs under SCST; halun refuses their login", who)
	}
	return t
}

func t10Text(t10 string, ok bool) string {
	if !ok {
		return "its default t10_dev_id"
	}
	return fmt.Sprintf("t10_dev_id %q", t10)
}

// scstSetupID is the global setup_id of scst.conf (0 when absent), which
// SCST puts in the high half of generated device IDs.
func scstSetupID(nodes []*scstNode, fs *findings) uint32 {
	for _, n := range nodes {
		if n.block || !strings.EqualFold(n.words[0], "setup_id") {
			continue
		}
		v, err := strconv.ParseUint(n.value(), 0, 32)
		if err != nil {
			fs.review(n.line, "setup_id %q is not a 32-bit number; generated device IDs are computed with 0", n.value())
			return 0
		}
		return uint32(v)
	}
	return 0
}

// setupIDCaveat warns that scstadmin may create devices before it sets
// setup_id (applyConfiguration runs applyConfigDevices first), so on a
// cold start their generated IDs used 0.
func setupIDCaveat(setupID uint32) string {
	if setupID == 0 {
		return ""
	}
	return " — but scstadmin creates devices before it applies setup_id, so after a cold start SCST may have used 0: compare with /sys/kernel/scst_tgt/devices/*/usn on the old host"
}
