package importer

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// targetcli's saveconfig.json (rtslib-fb): "storage_objects" (plugin
// fileio, block, ramdisk, ...; name, dev, size, wwn = vpd_unit_serial,
// attributes such as block_size and emulate_write_cache) and "targets"
// (wwn, fabric, tpgs: tag, enable, luns {index, storage_object
// /backstores/PLUGIN/NAME}, portals {ip_address, port}, node_acls
// {node_wwn, mapped_luns {index, tpg_lun, write_protect}, chap_userid,
// chap_password, chap_mutual_userid, chap_mutual_password}, attributes
// {authentication, generate_node_acls, demo_mode_write_protect},
// parameters {InitialR2T, ...}), plus "fabric_modules" with discovery
// authentication.

// lioCarriedAttrs are storage object attributes halun carries or that
// only describe the backing device.
var lioCarriedAttrs = map[string]bool{
	"block_size": true, "emulate_write_cache": true, "emulate_tpu": true, "emulate_tpws": true,
	"hw_block_size": true, "hw_max_sectors": true, "hw_pi_prot_type": true, "hw_queue_depth": true,
	"optimal_sectors": true, "queue_depth": true, "max_write_same_len": true, "max_unmap_lba_count": true,
	"max_unmap_block_desc_count": true, "unmap_granularity": true, "unmap_granularity_alignment": true,
	"unmap_zeroes_data": true, "is_nonrot": true, "pi_prot_type": true, "pi_prot_format": true,
	"pi_prot_verify": true, "force_pr_aptpl": true, "enforce_pr_isids": true, "alua_support": true,
	"pgr_support": true, "submit_type": true, "emulate_model_alias": true,
}

// lioDefaultAttrs are attribute values that match halun's behaviour
// closely enough not to report.
var lioDefaultAttrs = map[string]string{
	"emulate_3pc": "1", "emulate_caw": "1", "emulate_dpo": "1", "emulate_fua_read": "1", "emulate_fua_write": "1",
	"emulate_model_alias": "1", "emulate_rest_reord": "0", "emulate_tas": "1", "emulate_ua_intlck_ctrl": "0",
	"emulate_pr": "1", "emulate_rsoc": "1",
}

func convertTargetcli(name string, data []byte, o Options, fs *findings) (*model, error) {
	root, err := parseJSONTree(name, data)
	if err != nil {
		return nil, err
	}
	if root.get("storage_objects") == nil && root.get("targets") == nil {
		return nil, Errors{{File: name, Line: root.line, Msg: "not a targetcli saveconfig: no storage_objects or targets"}}
	}
	m := &model{}
	names := volumeNames{}
	byPath := map[string]*volume{}
	for _, so := range root.list("storage_objects") {
		plugin, _ := so.text("plugin")
		soName, _ := so.text("name")
		if v := lioVolume(so, plugin, soName, o, fs, names); v != nil {
			m.volumes = append(m.volumes, v)
			byPath["/backstores/"+plugin+"/"+soName] = v
		}
	}
	for _, fm := range root.list("fabric_modules") {
		lioFabric(fm, m, fs)
	}
	pgs := &lioPortalGroups{}
	seen := map[string]int{}
	for _, tn := range root.list("targets") {
		t := lioTarget(tn, byPath, pgs, fs)
		if t == nil {
			continue
		}
		if prev, dup := seen[t.iqn]; dup {
			fs.review(t.at, "target %s defined again (first at line %d); not imported twice", t.iqn, prev)
			continue
		}
		seen[t.iqn] = t.at
		m.targets = append(m.targets, t)
	}
	m.portalGroups = pgs.groups
	if len(m.targets) == 0 {
		fs.review(0, "no iSCSI target imported")
	}
	return m, nil
}

func lioVolume(so *jsonNode, plugin, soName string, o Options, fs *findings, names volumeNames) *volume {
	who := fmt.Sprintf("storage object %s/%s", plugin, soName)
	if so.kind != 'o' || soName == "" {
		fs.review(so.line, "storage object without a name; not imported")
		return nil
	}
	attrs := so.get("attributes")
	v := &volume{name: names.take(soName), blockSize: 512, at: so.line}
	if bs, ok := attrs.text("block_size"); ok {
		switch bs {
		case "512", "4096":
			v.blockSize, _ = strconv.Atoi(bs)
		default:
			fs.review(attrs.lineOf("block_size"), "%s: block_size %s: halun has 512 and 4096 only; 512 written — initiators would see a different block size", who, bs)
		}
	}
	size, _ := so.int64("size")
	dev, _ := so.text("dev")
	switch plugin {
	case "fileio":
		if dev == "" {
			fs.review(so.line, "%s: no dev; not imported", who)
			return nil
		}
		backing(v, dev, size, o, fs, so.lineOf("dev"), who)
		v.writeCache = so.flag("write_back") || attrs.flag("emulate_write_cache")
	case "block":
		if dev == "" {
			fs.review(so.line, "%s: no dev; not imported", who)
			return nil
		}
		v.backend, v.path = "block", dev
		v.writeCache = attrs.flag("emulate_write_cache")
		v.readOnly = so.flag("readonly")
	case "ramdisk", "rd_mcp":
		if size <= 0 {
			fs.review(so.line, "%s: ramdisk without a size; not imported", who)
			return nil
		}
		v.backend, v.size = "memory", size/int64(v.blockSize)*int64(v.blockSize)
		if so.flag("nullio") {
			fs.warn(so.lineOf("nullio"), "%s: nullio ramdisk (writes discarded) imported as a memory volume that keeps its data", who)
		} else {
			fs.info(so.line, "%s: ramdisk imported as a memory volume; its contents are not carried (they were lost at every restart anyway)", who)
		}
	default:
		fs.warn(so.line, "%s: plugin %s has no halun equivalent; not imported", who, plugin)
		return nil
	}
	v.thin = boolPtr(attrs.flag("emulate_tpu") || attrs.flag("emulate_tpws"))
	// Identity.
	v.notes = append(v.notes, fmt.Sprintf("from %s at line %d", who, so.line))
	wwn, hasWWN := so.text("wwn")
	switch {
	case !hasWWN:
		fs.review(so.line, "%s: no wwn (vpd_unit_serial) in saveconfig; copy /sys/kernel/config/target/core/*/%s/wwn/vpd_unit_serial from the old host into serial, or the disk's identity changes", who, soName)
	case checkSerial(wwn) != nil:
		fs.review(so.lineOf("wwn"), "%s: wwn %v; serial left to halun, so the disk's identity changes", who, checkSerial(wwn))
	default:
		v.serial = wwn
		// The model is the backstore's (target_core_*.c inquiry_prod),
		// or the storage object's name under emulate_model_alias
		// (dev_set_t10_wwn_model_alias). rtslib saves neither
		// wwn/vendor_id, product_id, revision nor company_id: they
		// are the kernel's defaults after every restore.
		v.ident = identity.Spec{Style: identity.StyleLIO}
		product := map[string]string{"fileio": "FILEIO", "block": "IBLOCK", "ramdisk": "RAMDISK-MCP", "rd_mcp": "RAMDISK-MCP"}[plugin]
		if attrs.flag("emulate_model_alias") {
			product = soName
			if len(product) > 16 {
				product = product[:16]
			}
		}
		if product != identity.LIOProduct {
			v.ident.Product = product
		}
		checkIdentity(v, fs, so.lineOf("wwn"), who)
		v.notes = append(v.notes, identityNotes("LIO", v)...)
		v.notes = append(v.notes, "(as Linux 5.0 and later send it; older kernels NUL-terminated \"LIO-ORG\" in the T10 vendor ID designator.)")
	}
	// Attributes halun does not carry.
	var notCarried []string
	if attrs != nil {
		for _, k := range attrs.keys {
			val, _ := attrs.text(k)
			if lioCarriedAttrs[k] || lioDefaultAttrs[k] == val {
				continue
			}
			notCarried = append(notCarried, k+"="+val)
		}
	}
	if len(notCarried) > 0 {
		fs.warn(attrs.line, "%s: attributes not carried: %s", who, strings.Join(notCarried, ", "))
	}
	for _, g := range so.list("alua_tpgs") {
		if n, _ := g.text("name"); n != "default_tg_pt_gp" {
			fs.warn(g.line, "%s: ALUA target port group %s not carried: halun keeps one ALUA state per portal group (portal_groups[].alua), not per storage object; set the states there", who, n)
		}
	}
	return v
}

func lioFabric(fm *jsonNode, m *model, fs *findings) {
	if n, _ := fm.text("name"); n != "iscsi" {
		return
	}
	if !fm.flag("discovery_enable_auth") {
		return
	}
	u, _ := fm.text("discovery_userid")
	s, _ := fm.text("discovery_password")
	mu, _ := fm.text("discovery_mutual_userid")
	ms, _ := fm.text("discovery_mutual_password")
	m.discovery = &chap{username: u, secret: s, targetUsername: mu, targetSecret: ms}
}

// lioPortalGroups turns each distinct set of TPG portals into a halun
// portal group; a portal belongs to one group in halun.
type lioPortalGroups struct {
	groups []portalGroup
}

// tags returns the groups covering portals, creating one if needed.
func (p *lioPortalGroups) tags(portals []string, wantTag int, line int, fs *findings, who string) []int {
	slices.Sort(portals)
	portals = slices.Compact(portals)
	for _, g := range p.groups {
		if slices.Equal(g.portals, portals) {
			return []int{g.tag}
		}
	}
	var tags []int
	var fresh []string
	for _, pt := range portals {
		found := false
		for _, g := range p.groups {
			if slices.Contains(g.portals, pt) {
				tags = appendOnceInt(tags, g.tag)
				found = true
			}
		}
		if !found {
			fresh = append(fresh, pt)
		}
	}
	if len(tags) > 0 {
		fs.warn(line, "%s: its portals overlap another target's portal group; it is reachable through portal groups %v, which may include more portals than under LIO", who, tags)
	}
	if len(fresh) > 0 {
		tag := wantTag
		for tag < 1 || tag > 65535 || p.used(tag) {
			tag++
			if tag > 65535 {
				tag = 1
			}
		}
		p.groups = append(p.groups, portalGroup{tag: tag, portals: fresh})
		tags = append(tags, tag)
	}
	return tags
}

func (p *lioPortalGroups) used(tag int) bool {
	for _, g := range p.groups {
		if g.tag == tag {
			return true
		}
	}
	return false
}

func appendOnceInt(list []int, n int) []int {
	if slices.Contains(list, n) {
		return list
	}
	return append(list, n)
}

// lioPortal converts a portal to halun's host:port.
func lioPortal(pn *jsonNode) (string, bool) {
	ip, _ := pn.text("ip_address")
	port, ok := pn.int64("port")
	if !ok {
		port = 3260
	}
	if port < 1 || port > 65535 {
		return "", false
	}
	ip = strings.Trim(ip, "[]")
	p := strconv.FormatInt(port, 10)
	switch {
	case ip == "" || ip == "0.0.0.0" || ip == "::" || ip == "::0":
		return ":" + p, true
	default:
		if _, err := config.ParsePortal(net.JoinHostPort(ip, p)); err != nil {
			return "", false
		}
		return net.JoinHostPort(ip, p), true
	}
}

func lioTarget(tn *jsonNode, byPath map[string]*volume, pgs *lioPortalGroups, fs *findings) *target {
	wwn, _ := tn.text("wwn")
	if fabric, ok := tn.text("fabric"); ok && fabric != "iscsi" {
		fs.warn(tn.line, "target %s: fabric %s; halun serves iSCSI only, not imported", wwn, fabric)
		return nil
	}
	iqn, err := config.NormalizeName(wwn)
	if err != nil {
		fs.review(tn.line, "target %q: not a valid iSCSI name for halun (%v); not imported", wwn, err)
		return nil
	}
	who := "target " + iqn
	t := &target{iqn: iqn, at: tn.line}
	var main *jsonNode
	var mainLUNs map[int]string // tpg lun index -> volume, for comparing TPGs
	for _, tpg := range tn.list("tpgs") {
		tag, _ := tpg.int64("tag")
		if e, ok := tpg.text("enable"); ok && (e == "false" || e == "0") {
			fs.warn(tpg.line, "%s: TPG %d is disabled; not imported", who, tag)
			continue
		}
		var portals []string
		for _, pn := range tpg.list("portals") {
			pt, ok := lioPortal(pn)
			if !ok {
				fs.review(pn.line, "%s: TPG %d: portal is not a usable address; not carried", who, tag)
				continue
			}
			portals = append(portals, pt)
			if pn.flag("iser") || pn.flag("offload") {
				fs.warn(pn.line, "%s: TPG %d: iSER/offload on portal %s not carried; halun serves plain TCP", who, tag, pt)
			}
		}
		luns := lioTPGLUNs(tpg, byPath, fs, who)
		if main == nil {
			main, mainLUNs = tpg, luns
			for _, k := range sortedIntKeys(luns) {
				t.luns = append(t.luns, lunMap{lun: k, volume: luns[k]})
			}
			lioAccess(t, tpg, luns, byPath, fs, who)
			lioParams(t, tpg, fs, who)
		} else if !mapsEqual(luns, mainLUNs) || len(tpg.list("node_acls")) != len(main.list("node_acls")) {
			fs.warn(tpg.line, "%s: TPG %d has its own LUN map or ACLs; halun has one LUN map per target across portal groups — not carried", who, tag)
			continue
		} else {
			fs.info(tpg.line, "%s: TPG %d has the same LUNs as TPG %d; its portals join the target as another portal group", who, tag, mustInt(main, "tag"))
		}
		if len(portals) > 0 {
			t.portalGroups = append(t.portalGroups, pgs.tags(portals, int(tag), tpg.line, fs, who)...)
		} else {
			fs.warn(tpg.line, "%s: TPG %d has no portals", who, tag)
		}
	}
	if main == nil {
		fs.review(tn.line, "%s: no enabled TPG; not imported", who)
		return nil
	}
	slices.Sort(t.portalGroups)
	t.portalGroups = slices.Compact(t.portalGroups)
	if len(t.portalGroups) == 0 {
		t.portalGroups = nil
		if len(pgs.groups) == 0 {
			pgs.groups = append(pgs.groups, portalGroup{tag: 1, portals: []string{":3260"}})
		}
		t.portalGroups = []int{pgs.groups[0].tag}
	}
	return t
}

func mustInt(n *jsonNode, k string) int64 { v, _ := n.int64(k); return v }

func sortedIntKeys(m map[int]string) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func mapsEqual(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// lioTPGLUNs returns a TPG's LUNs: index -> volume name.
func lioTPGLUNs(tpg *jsonNode, byPath map[string]*volume, fs *findings, who string) map[int]string {
	luns := map[int]string{}
	for _, ln := range tpg.list("luns") {
		idx, ok := ln.int64("index")
		so, _ := ln.text("storage_object")
		if !ok || idx < 0 || idx > config.MaxLUN {
			fs.review(ln.line, "%s: LUN index is not 0..%d; not carried", who, config.MaxLUN)
			continue
		}
		v := byPath[so]
		if v == nil {
			fs.review(ln.lineOf("storage_object"), "%s: LUN %d: storage object %s was not imported; LUN not carried", who, idx, so)
			continue
		}
		if g, ok := ln.text("alua_tg_pt_gp_name"); ok && g != "default_tg_pt_gp" {
			fs.warn(ln.lineOf("alua_tg_pt_gp_name"), "%s: LUN %d: ALUA group %s not carried", who, idx, g)
		}
		luns[int(idx)] = v.name
	}
	return luns
}

func lioChap(n *jsonNode) *chap {
	c := &chap{}
	c.username, _ = n.text("chap_userid")
	c.secret, _ = n.text("chap_password")
	c.targetUsername, _ = n.text("chap_mutual_userid")
	c.targetSecret, _ = n.text("chap_mutual_password")
	if c.empty() {
		return nil
	}
	return c
}

// lioAccess sets t's access from a TPG's attributes and node ACLs.
func lioAccess(t *target, tpg *jsonNode, luns map[int]string, byPath map[string]*volume, fs *findings, who string) {
	attrs := tpg.get("attributes")
	auth := attrs.flag("authentication")
	demo := attrs.flag("generate_node_acls")
	t.all = demo
	if demo {
		if wp, ok := attrs.text("demo_mode_write_protect"); !ok || wp == "1" {
			fs.review(attrs.lineOf("generate_node_acls"), "%s: generate_node_acls with demo_mode_write_protect 1: LIO let any initiator in read-only; halun's access: all gives write access", who)
		}
	}
	if c := lioChap(tpg); c != nil {
		if auth {
			t.chap = c
		} else {
			fs.info(tpg.line, "%s: TPG CHAP credentials present but authentication is 0, so LIO did not require them; not carried", who)
		}
	}
	if auth && demo && t.chap == nil {
		fs.review(attrs.lineOf("authentication"), "%s: authentication 1 with generate_node_acls but no TPG CHAP credentials; LIO then refused every login — halun lets any initiator in", who)
	}
	for _, acl := range tpg.list("node_acls") {
		nw, _ := acl.text("node_wwn")
		iqn, err := config.NormalizeName(nw)
		if err != nil {
			fs.review(acl.line, "%s: ACL %q is not a valid iSCSI name; not carried", who, nw)
			continue
		}
		in := initiatorACL{iqn: iqn, own: true, luns: []lunMap{}, at: acl.line}
		for _, ml := range acl.list("mapped_luns") {
			idx, ok1 := ml.int64("index")
			tl, ok2 := ml.int64("tpg_lun")
			vol, ok3 := luns[int(tl)]
			if !ok1 || !ok2 || idx < 0 || idx > config.MaxLUN || !ok3 {
				fs.review(ml.line, "%s: ACL %s: mapped LUN does not name a carried TPG LUN; not carried", who, iqn)
				continue
			}
			if ml.flag("write_protect") {
				fs.review(ml.lineOf("write_protect"), "%s: ACL %s: mapped LUN %d is write-protected for this initiator; halun has no per-initiator write protection, so it becomes writable unless the volume is read_only", who, iqn, idx)
			}
			in.luns = append(in.luns, lunMap{lun: int(idx), volume: vol})
		}
		slices.SortFunc(in.luns, func(a, b lunMap) int { return a.lun - b.lun })
		if c := lioChap(acl); c != nil {
			if auth {
				in.chap = c
			} else {
				fs.info(acl.line, "%s: ACL %s: CHAP credentials present but authentication is 0, so LIO did not require them; not carried", who, iqn)
			}
		} else if auth && !demo {
			fs.review(acl.line, "%s: ACL %s: authentication 1 but no CHAP credentials; LIO refused this initiator — halun lets it in", who, iqn)
		}
		t.initiators = append(t.initiators, in)
	}
	if demo && len(t.initiators) > 0 {
		fs.review(tpg.line, "%s: generate_node_acls with explicit ACLs: LIO let initiators without an ACL see every TPG LUN; halun's access is every initiator or a list, so only the ACL'd initiators are let in — add the others by name", who)
	}
	if !demo && len(t.initiators) == 0 {
		fs.review(tpg.line, "%s: no node ACLs and generate_node_acls 0: no initiator could log in; the target is written commented out", who)
	}
	var other []string
	if attrs != nil {
		for _, k := range attrs.keys {
			switch k {
			case "authentication", "generate_node_acls", "demo_mode_write_protect", "cache_dynamic_acls",
				"default_cmdsn_depth", "login_timeout", "netif_timeout", "prod_mode_write_protect",
				"demo_mode_discovery", "default_erl", "tpg_enabled_sendtargets", "fabric_prot_type", "t10_pi", "login_keys_workaround":
				if k == "prod_mode_write_protect" && attrs.flag(k) {
					fs.review(attrs.lineOf(k), "%s: prod_mode_write_protect 1: LIO wrote-protected every LUN for ACL'd initiators; halun does not", who)
				}
				if k == "default_cmdsn_depth" || k == "login_timeout" || k == "netif_timeout" || k == "default_erl" {
					val, _ := attrs.text(k)
					other = append(other, k+"="+val)
				}
			default:
				val, _ := attrs.text(k)
				other = append(other, k+"="+val)
			}
		}
	}
	if len(other) > 0 {
		fs.info(attrs.line, "%s: TPG attributes not carried: %s", who, strings.Join(other, ", "))
	}
}

func lioParams(t *target, tpg *jsonNode, fs *findings, who string) {
	params := tpg.get("parameters")
	if params == nil {
		return
	}
	var ps paramSet
	var ignored []string
	for _, k := range params.keys {
		val, _ := params.text(k)
		line := params.lineOf(k)
		switch strings.ToLower(k) {
		case "targetalias":
			if val != "" && val != "LIO Target" {
				t.alias = val
			}
			continue
		case "authmethod", "maxxmitdatasegmentlength", "defaulttime2wait", "defaulttime2retain", "ifmarker", "ofmarker",
			"ifmarkint", "ofmarkint", "rdmaextensions", "initiatorrecvdatasegmentlength", "targetrecvdatasegmentlength":
			ignored = append(ignored, k+"="+val)
			continue
		}
		sub := &findings{file: fs.file}
		if !iscsiParam(&ps, k, val, line, sub, who) {
			ignored = append(ignored, k+"="+val)
			continue
		}
		for _, f := range sub.list {
			if f.Level != Info { // "what halun negotiates" notes are noise for LIO's full dump
				fs.list = append(fs.list, f)
			}
		}
	}
	t.params = ps.finish(fs, who)
	if len(ignored) > 0 {
		fs.info(params.line, "%s: iSCSI parameters halun negotiates itself, not carried: %s", who, strings.Join(ignored, ", "))
	}
}
