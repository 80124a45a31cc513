package importer

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// tgt's targets.conf as tgt-admin 1.0.85 reads it: Config::General
// (ParseConfig with -UseApacheInclude, -IncludeGlob, -MergeDuplicateBlocks)
// gives "key value" lines ('#' comments, trailing-backslash continuations,
// "key = value" accepted), <name arg> … </name> blocks with same-named
// blocks merged, and repeated keys collected in source order. Keys are
// case-sensitive. Top level: default-driver, control-port, ignore-errors,
// iSNS*, incomingdiscoveryuser, outgoingdiscoveryuser, include and
// <target IQN> blocks. A target holds backing-store / direct-store (plain
// lines or <backing-store PATH> blocks with per-LUN options), LU options
// that apply to every LUN of the target unless a block overrides them,
// incominguser, outgoinguser, initiator-address, initiator-name,
// controller_tid, driver and iSCSI keys.
//
// tgt-admin -e assigns tids and LUNs; the importer assigns them the same
// way, since both are in the identity (tgt's NAA-3 designator, default
// scsi_id and scsi_sn):
//   - targets are processed in string order of their names; on a tgtd with
//     no targets the first gets tid 1, each next one the largest tid given
//     so far + 1, and controller_tid N gives N;
//   - a target's stores are processed backing-stores first, each kind in
//     string order of the paths; a block's "lun N" is reserved up front, a
//     store without one gets the lowest LUN from 1 not reserved and not yet
//     given (find_next_lun), and a target-level "lun N" overrides them all.

// cgEntry is one "key value" line or one <key value> block.
type cgEntry struct {
	key, value string
	line       int
	block      *cgBlock
}

// cgBlock is a <name arg> block, or the top level.
type cgBlock struct {
	name, arg string
	line      int
	entries   []cgEntry
}

// get returns the entries called key, plain lines only unless blocks.
func (b *cgBlock) all(key string) []cgEntry {
	var out []cgEntry
	for _, e := range b.entries {
		if e.key == key {
			out = append(out, e)
		}
	}
	return out
}

var (
	cgOpen  = regexp.MustCompile(`^<\s*([^\s<>/]+)\s*(.*?)\s*>$`)
	cgClose = regexp.MustCompile(`^</\s*([^\s<>]+)\s*>$`)
	cgComm  = regexp.MustCompile(`\s*(^|[^\\])#.*$`)
)

// parseConfigGeneral reads Config::General's syntax into a tree.
func parseConfigGeneral(name string, data []byte) (*cgBlock, error) {
	el := &errList{file: name}
	root := &cgBlock{}
	stack := []*cgBlock{root}
	for _, ll := range splitLines(data) {
		text := ll.text
		if strings.HasPrefix(text, "#") {
			continue
		}
		if m := cgComm.FindStringSubmatchIndex(text); m != nil {
			// Keep the character before an unescaped '#'.
			text = text[:m[3]]
		}
		text = strings.TrimSpace(strings.ReplaceAll(text, `\#`, "#"))
		if text == "" {
			continue
		}
		cur := stack[len(stack)-1]
		if m := cgClose.FindStringSubmatch(text); m != nil {
			if len(stack) == 1 {
				el.add(ll.line, "</%s> without an open <%s> block", m[1], m[1])
				continue
			}
			if !strings.EqualFold(m[1], cur.name) {
				el.add(ll.line, "</%s> closes <%s> opened at line %d", m[1], cur.name, cur.line)
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if m := cgOpen.FindStringSubmatch(text); m != nil {
			b := &cgBlock{name: m[1], arg: m[2], line: ll.line}
			cur.entries = append(cur.entries, cgEntry{key: m[1], value: m[2], line: ll.line, block: b})
			stack = append(stack, b)
			continue
		}
		if strings.HasPrefix(text, "<") {
			el.add(ll.line, "%q is not a <name value> block line", text)
			continue
		}
		i := strings.IndexAny(text, " \t=")
		key, val := text, ""
		if i >= 0 {
			key, val = text[:i], strings.TrimLeft(text[i:], " \t")
			if strings.HasPrefix(val, "=") {
				val = strings.TrimLeft(val[1:], " \t")
			}
		}
		if key == "" {
			el.add(ll.line, "%q has no key", text)
			continue
		}
		cur.entries = append(cur.entries, cgEntry{key: key, value: val, line: ll.line})
	}
	for _, b := range stack[1:] {
		el.add(b.line, "<%s %s> is not closed", b.name, b.arg)
	}
	return root, el.err()
}

// tgtLU is one logical unit as tgt had it, from either source.
type tgtLU struct {
	tid        uint32
	lun        int
	line       int
	path       string
	direct     bool   // direct-store: identity copied from the device
	bsType     string // rdwr (default), aio, mmap, sg, rbd …
	bsFlags    string
	deviceType string // disk (default), cd, tape …
	sizeHint   string // show output's "Size: N MB"
	// Identity as tgt resolved it; serial is the effective scsi_sn.
	serial, scsiID           string
	vendor, product, rev     string
	serialLine, scsiIDLine   int
	vendorLine               int
	blockSize, blockSizeLine int
	readOnly, removable      bool
	thin                     *bool
	writeCacheOff            bool
	unknownWCE               bool // show output: the caching mode page is not shown
}

// tgtTarget is one target as tgt had it.
type tgtTarget struct {
	iqn   string
	tid   uint32
	line  int
	luns  []*tgtLU
	addrs []tgtItem // initiator-address / address ACLs
	names []tgtItem // initiator-name / name ACLs
	// bindAll: tgt-admin bound ALL (no initiator-address) or the show
	// output lists ALL.
	bindAll  bool
	incoming []tgtItem // user [secret]
	outgoing []tgtItem
	params   []tgtItem // iSCSI keys: key in .key, value in .value
	notes    []string
}

type tgtItem struct {
	key, value string
	line       int
}

// tgtTruncate cuts a value the way tgt's match_strncpy does (snprintf into
// a buffer of n+1 bytes), reporting it.
func tgtTruncate(v string, n int, what string, line int, fs *findings, who string) string {
	if len(v) <= n {
		return v
	}
	fs.info(line, "%s: %s %q is longer than tgt's %d characters; tgt kept %q, and so does the import", who, what, v, n, v[:n])
	return v[:n]
}

// singleKeys are the target or LUN options tgt-admin refuses to see twice
// (check_if_hash_array).
var tgtSingleKeys = map[string]bool{
	"lun": true, "scsi_id": true, "scsi_sn": true, "vendor_id": true, "product_id": true, "product_rev": true,
	"sense_format": true, "removable": true, "online": true, "path": true, "readonly": true, "lbppbe": true,
	"la_lba": true, "optimal_xfer_gran": true, "optimal_xfer_len": true, "device-type": true, "bs-type": true,
	"bsopts": true, "bsoflags": true, "block-size": true, "write-cache": true, "controller_tid": true,
	"driver": true, "allow-in-use": true,
}

// tgtISCSIKeys are the iSCSI keys tgt-admin passes to tgtadm (exact
// spelling); any key starting with "state" is passed too.
var tgtISCSIKeys = map[string]bool{
	"MaxRecvDataSegmentLength": true, "MaxXmitDataSegmentLength": true, "HeaderDigest": true, "DataDigest": true,
	"InitialR2T": true, "MaxOutstandingR2T": true, "ImmediateData": true, "FirstBurstLength": true,
	"MaxBurstLength": true, "DataPDUInOrder": true, "DataSequenceInOrder": true, "ErrorRecoveryLevel": true,
	"IFMarker": true, "OFMarker": true, "DefaultTime2Wait": true, "DefaultTime2Retain": true,
	"OFMarkInt": true, "IFMarkInt": true, "MaxConnections": true,
}

// tgtLUKeys are the per-LUN options (block or target level).
var tgtLUKeys = map[string]bool{
	"lun": true, "scsi_id": true, "scsi_sn": true, "vendor_id": true, "product_id": true, "product_rev": true,
	"sense_format": true, "removable": true, "online": true, "path": true, "readonly": true, "lbppbe": true,
	"la_lba": true, "optimal_xfer_gran": true, "optimal_xfer_len": true, "device-type": true, "bs-type": true,
	"bsopts": true, "bsoflags": true, "block-size": true, "write-cache": true, "mode_page": true, "params": true,
	"allow-in-use": true,
}

// opts is a block's or target's single-valued options, with lines.
type tgtOpts map[string]tgtItem

func (o tgtOpts) get(k string) (string, int, bool) {
	it, ok := o[k]
	return it.value, it.line, ok
}

// collectOpts gathers the LU options of a block (or target), refusing a
// single-valued key given twice as tgt-admin does.
func collectOpts(b *cgBlock, el *errList, who string) (tgtOpts, []tgtItem) {
	o := tgtOpts{}
	var multi []tgtItem // mode_page and params, in order
	for _, e := range b.entries {
		if e.block != nil || !tgtLUKeys[e.key] {
			continue
		}
		if e.key == "mode_page" || e.key == "params" {
			multi = append(multi, tgtItem{key: e.key, value: e.value, line: e.line})
			continue
		}
		if prev, dup := o[e.key]; dup && tgtSingleKeys[e.key] {
			el.add(e.line, "%s: %s given twice (first at line %d); tgt-admin refuses it (\"Multiple '%s' definitions\")", who, e.key, prev.line, e.key)
			continue
		}
		o[e.key] = tgtItem{key: e.key, value: e.value, line: e.line}
	}
	return o, multi
}

// convertTGTConf converts targets.conf.
func convertTGTConf(name string, data []byte, o Options, fs *findings) (*model, error) {
	root, err := parseConfigGeneral(name, data)
	if err != nil {
		return nil, err
	}
	el := &errList{file: name}
	var targets []*cgBlock
	byName := map[string]*cgBlock{}
	var discIn, discOut []tgtItem
	for _, e := range root.entries {
		switch {
		case e.block != nil && e.key == "target":
			if e.value == "" {
				el.add(e.line, "<target> without a name")
				continue
			}
			// -MergeDuplicateBlocks: a second <target X> adds to the first.
			if b := byName[e.value]; b != nil {
				b.entries = append(b.entries, e.block.entries...)
				fs.info(e.line, "target %s: a second <target> block, merged into the one at line %d as tgt-admin does", e.value, b.line)
				continue
			}
			byName[e.value] = e.block
			targets = append(targets, e.block)
		case e.block != nil:
			fs.warn(e.line, "<%s %s> block: tgt-admin reads only <target> blocks at the top level; ignored by tgt, not carried", e.key, e.value)
		case e.key == "include":
			fs.review(e.line, "include %s: the importer reads one file and does not follow includes; import a file that holds the included configs too (cat the files into one)", e.value)
		case e.key == "incomingdiscoveryuser", e.key == "outgoingdiscoveryuser":
			u, p, ok := strings.Cut(e.value, " ")
			if !ok || u == "" || strings.TrimSpace(p) == "" {
				el.add(e.line, "%s wants a user name and a password", e.key)
				continue
			}
			it := tgtItem{key: u, value: strings.TrimSpace(p), line: e.line}
			if e.key == "incomingdiscoveryuser" {
				discIn = append(discIn, it)
			} else {
				discOut = append(discOut, it)
			}
		case e.key == "default-driver":
			if e.value != "iscsi" && e.value != "iser" {
				fs.review(e.line, "default-driver %s: halun serves iSCSI only; targets using it are imported as iSCSI targets", e.value)
			}
		case e.key == "control-port", e.key == "ignore-errors":
			fs.info(e.line, "%s %s concerns tgt-admin itself; nothing to carry", e.key, e.value)
		case strings.HasPrefix(e.key, "iSNS"):
			fs.warn(e.line, "%s %s not carried: halun does not register with iSNS", e.key, e.value)
		default:
			fs.warn(e.line, "top-level %s: tgt-admin ignores it; not carried", e.key)
		}
	}
	m := &model{header: []string{
		"tgtd listened where its --iscsi portal= option said (default every address, port 3260);",
		"the portal group below assumes that default.",
	}}
	fs.info(0, "tgtd's portal is not in targets.conf (tgtd --iscsi portal=ADDR:PORT); the output listens on :3260 — adjust portal_groups if tgtd ran with another portal")
	fs.info(0, "tids and LUN numbers are computed as `tgt-admin -e` assigns them on a tgtd without other targets, every store existing; if the old tgtd had targets not in this file, or a store was missing, they differ — import the output of `tgtadm --lld iscsi --op show --mode target` instead, which has the live ones")
	m.discovery = tgtDiscovery(discIn, discOut, fs)
	sort.Slice(targets, func(i, j int) bool { return targets[i].arg < targets[j].arg })
	var maxTID uint32
	var tts []*tgtTarget
	for _, b := range targets {
		who := "target " + b.arg
		t := &tgtTarget{iqn: b.arg, line: b.line}
		tid := maxTID + 1
		if ct := b.all("controller_tid"); len(ct) > 0 {
			n, err := strconv.ParseUint(ct[0].value, 10, 31)
			if err != nil || n == 0 {
				el.add(ct[0].line, "%s: controller_tid %q is not a target id 1..%d", who, ct[0].value, 1<<31-1)
				continue
			}
			tid = uint32(n)
		}
		t.tid = tid
		maxTID = max(maxTID, tid)
		tgtConfTarget(b, t, el, fs, fmt.Sprintf("%s (tid %d)", who, tid))
		tts = append(tts, t)
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	seenTID := map[uint32]string{}
	for _, t := range tts {
		if prev, dup := seenTID[t.tid]; dup {
			fs.review(t.line, "target %s: tid %d is also %s's; tgtd refused the second target, which is imported anyway — check which one was served", t.iqn, t.tid, prev)
		}
		seenTID[t.tid] = t.iqn
	}
	buildTGT(m, tts, o, fs, false)
	return m, nil
}

// tgtConfTarget reads one <target> block into t.
func tgtConfTarget(b *cgBlock, t *tgtTarget, el *errList, fs *findings, who string) {
	topts, tmulti := collectOpts(b, el, who)
	t.bindAll = len(b.all("initiator-address")) == 0
	type store struct {
		path   string
		line   int
		direct bool
		block  *cgBlock
	}
	var stores []store
	plain := map[string]int{}  // key -> first plain line
	blocks := map[string]int{} // key -> first block line
	seen := map[string]bool{}
	for _, e := range b.entries {
		switch e.key {
		case "backing-store", "direct-store":
			if e.value == "" {
				el.add(e.line, "%s: %s without a path", who, e.key)
				continue
			}
			if e.block != nil {
				if l, ok := plain[e.key]; ok {
					el.add(e.line, "%s: <%s> block after a plain %s line (line %d): tgt-admin cannot mix the two forms in one target", who, e.key, e.key, l)
					continue
				}
				if _, ok := blocks[e.key]; !ok {
					blocks[e.key] = e.line
				}
			} else {
				if l, ok := blocks[e.key]; ok {
					el.add(e.line, "%s: plain %s line after a <%s> block (line %d): tgt-admin cannot mix the two forms in one target", who, e.key, e.key, l)
					continue
				}
				if _, ok := plain[e.key]; !ok {
					plain[e.key] = e.line
				}
			}
			k := e.key + "\x00" + e.value
			if seen[k] {
				if e.block != nil {
					// Merged by -MergeDuplicateBlocks.
					for i := range stores {
						if stores[i].path == e.value && stores[i].direct == (e.key == "direct-store") {
							stores[i].block.entries = append(stores[i].block.entries, e.block.entries...)
						}
					}
				}
				fs.info(e.line, "%s: %s %s given again; one LUN, as tgt-admin does", who, e.key, e.value)
				continue
			}
			seen[k] = true
			blk := e.block
			if blk == nil {
				blk = &cgBlock{name: e.key, arg: e.value, line: e.line}
			}
			stores = append(stores, store{path: e.value, line: e.line, direct: e.key == "direct-store", block: blk})
		case "incominguser", "outgoinguser":
			u, p, ok := strings.Cut(e.value, " ")
			if !ok || u == "" || strings.TrimSpace(p) == "" {
				el.add(e.line, "%s: %s wants a user name and a password", who, e.key)
				continue
			}
			it := tgtItem{key: u, value: strings.TrimSpace(p), line: e.line}
			if e.key == "incominguser" {
				t.incoming = append(t.incoming, it)
			} else {
				t.outgoing = append(t.outgoing, it)
			}
		case "initiator-address":
			t.addrs = append(t.addrs, tgtItem{value: e.value, line: e.line})
		case "initiator-name":
			t.names = append(t.names, tgtItem{value: e.value, line: e.line})
		case "controller_tid":
		case "driver":
			if e.value != "iscsi" && e.value != "iser" {
				fs.review(e.line, "%s: driver %s: halun serves iSCSI only; imported as an iSCSI target", who, e.value)
			} else if e.value == "iser" {
				fs.warn(e.line, "%s: driver iser: halun serves iSCSI over TCP only; initiators must log in over TCP", who)
			}
		default:
			switch {
			case e.block != nil:
				fs.warn(e.line, "%s: <%s %s> block: tgt-admin ignores it; not carried", who, e.key, e.value)
			case tgtISCSIKeys[e.key] || strings.HasPrefix(e.key, "state"):
				t.params = append(t.params, tgtItem{key: e.key, value: e.value, line: e.line})
			case tgtLUKeys[e.key]:
				// Target-level LU option: applied per LUN below.
			default:
				fs.warn(e.line, "%s: %s: tgt-admin ignores it (keys are case-sensitive); not carried", who, e.key)
			}
		}
	}
	// Order: backing-stores before direct-stores, each by path.
	sort.SliceStable(stores, func(i, j int) bool {
		if stores[i].direct != stores[j].direct {
			return !stores[i].direct
		}
		return stores[i].path < stores[j].path
	})
	// Reserved LUNs (make_key: "lun" and "allow-in-use" of every block),
	// compared as strings like tgt-admin's eq.
	taken := map[string]bool{}
	bopts := make([]tgtOpts, len(stores))
	bmulti := make([][]tgtItem, len(stores))
	for i, s := range stores {
		bopts[i], bmulti[i] = collectOpts(s.block, el, fmt.Sprintf("%s %s", who, s.path))
		for _, k := range []string{"lun", "allow-in-use"} {
			if v, _, ok := bopts[i].get(k); ok {
				taken[v] = true
			}
		}
		for _, e := range s.block.entries {
			if !tgtLUKeys[e.key] {
				fs.warn(e.line, "%s: %s in <%s %s>: tgt-admin ignores it; not carried", who, e.key, s.block.name, s.path)
			}
		}
	}
	tlun, tlunLine, hasTLun := topts.get("lun")
	if hasTLun && len(stores) > 1 {
		fs.review(tlunLine, "%s: target-level lun %s applies to all %d stores; tgtd refused every LUN after the first (it exists), which are imported under LUN %s anyway and will clash — check", who, tlun, len(stores), tlun)
	}
	usedLUN := map[int]int{}
	for i, s := range stores {
		bo := bopts[i]
		lunStr, lunLine, has := bo.get("lun")
		if hasTLun && has && lunStr != tlun {
			fs.info(lunLine, "%s: lun %s of %s is overridden by the target-level lun %s (line %d), as tgt-admin does", who, lunStr, s.path, tlun, tlunLine)
		}
		if hasTLun {
			lunStr, lunLine, has = tlun, tlunLine, true
		}
		if !has {
			n := 1
			for taken[strconv.Itoa(n)] {
				n++
			}
			lunStr, lunLine = strconv.Itoa(n), s.line
		}
		taken[lunStr] = true
		n, err := strconv.Atoi(lunStr)
		if err != nil || n < 0 || n > config.MaxLUN {
			el.add(lunLine, "%s: lun %q is not a number 0..%d", who, lunStr, config.MaxLUN)
			continue
		}
		if n == 0 {
			fs.review(lunLine, "%s: lun 0 is tgt's controller; tgtd refused %s there — it is imported under LUN 0, check", who, s.path)
		}
		if prev, dup := usedLUN[n]; dup && !hasTLun {
			fs.review(lunLine, "%s: LUN %d is also the store's at line %d; tgtd refused the second — check", who, n, prev)
		}
		usedLUN[n] = s.line
		l := &tgtLU{tid: t.tid, lun: n, line: s.line, path: s.path, direct: s.direct}
		tgtConfLU(l, bo, bmulti[i], topts, tmulti, fs, fmt.Sprintf("%s LUN %d", who, n))
		t.luns = append(t.luns, l)
	}
	sort.SliceStable(t.luns, func(i, j int) bool { return t.luns[i].lun < t.luns[j].lun })
}

// tgtConfLU resolves one LUN's options as tgt-admin applies them: the
// block's value, else the target's (else, for direct-store, the device's);
// then "params" of the block and of the target, which tgt-admin sends
// after the keys.
func tgtConfLU(l *tgtLU, bo tgtOpts, bmulti []tgtItem, to tgtOpts, tmulti []tgtItem, fs *findings, who string) {
	pick := func(k string) (string, int, bool) {
		if v, line, ok := bo.get(k); ok {
			return v, line, true
		}
		return to.get(k)
	}
	set := map[string]tgtItem{}
	fromBlock := map[string]bool{}
	for _, k := range []string{"scsi_id", "scsi_sn", "vendor_id", "product_id", "product_rev", "removable", "readonly",
		"online", "sense_format", "lbppbe", "la_lba", "optimal_xfer_gran", "optimal_xfer_len", "path",
		"device-type", "bs-type", "bsopts", "bsoflags", "block-size", "write-cache", "allow-in-use"} {
		if v, line, ok := pick(k); ok {
			set[k] = tgtItem{key: k, value: v, line: line}
			_, fromBlock[k] = bo[k]
		}
	}
	// params: block ones (tgt-admin's order among the block's keys is
	// Perl hash order, i.e. random), then the target's.
	for gi, group := range [][]tgtItem{bmulti, tmulti} {
		for _, it := range group {
			if it.key == "mode_page" {
				fs.warn(it.line, "%s: mode_page %s not carried: halun's mode pages are its own", who, it.value)
				continue
			}
			for _, kv := range strings.Split(it.value, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if !ok || k == "" {
					fs.warn(it.line, "%s: params item %q is not key=value; tgtd ignored it", who, kv)
					continue
				}
				v = strings.Trim(v, `"`)
				if prev, dup := set[k]; dup && prev.value != v && prev.line != it.line {
					if gi == 0 && fromBlock[k] {
						fs.review(it.line, "%s: params %s=%s and %s %s (line %d) in one block: tgt-admin sends both in Perl hash order, which varies between runs; %s is assumed — check against `tgtadm --op show`", who, k, v, k, prev.value, prev.line, v)
					} else {
						fs.info(it.line, "%s: params %s=%s overrides %s %s (line %d): tgt-admin sends params last", who, k, v, k, prev.value, prev.line)
					}
				}
				switch k {
				case "thin_provisioning", "rotation_rate", "scsi_id", "scsi_sn", "vendor_id", "product_id", "product_rev",
					"removable", "readonly", "online", "sense_format", "lbppbe", "la_lba", "optimal_xfer_gran", "optimal_xfer_len",
					"path", "bsopts", "bsoflags", "swp", "mode_page":
					set[k] = tgtItem{key: k, value: v, line: it.line}
				default:
					fs.warn(it.line, "%s: params %s=%s: not a tgt LU parameter halun knows; not carried", who, k, v)
				}
			}
		}
	}
	if v, ok := set["scsi_id"]; ok {
		l.scsiID, l.scsiIDLine = tgtTruncate(v.value, 36, "scsi_id", v.line, fs, who), v.line
	}
	if v, ok := set["scsi_sn"]; ok {
		l.serial, l.serialLine = tgtTruncate(v.value, 36, "scsi_sn", v.line, fs, who), v.line
	}
	if v, ok := set["vendor_id"]; ok {
		l.vendor, l.vendorLine = tgtTruncate(v.value, 8, "vendor_id", v.line, fs, who), v.line
	}
	if v, ok := set["product_id"]; ok {
		l.product = tgtTruncate(v.value, 16, "product_id", v.line, fs, who)
	}
	if v, ok := set["product_rev"]; ok {
		l.rev = tgtTruncate(v.value, 4, "product_rev", v.line, fs, who)
	}
	if l.direct {
		var missing []string
		for _, k := range []string{"vendor_id", "product_id", "product_rev", "scsi_sn"} {
			if _, ok := set[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			fs.review(l.line, "%s: direct-store %s: tgt-admin copied %s from the device (sg_inq), which targets.conf does not record; the import assumes tgt's defaults — check them against the device, or import `tgtadm --op show` and set identity.vendor/product/revision from `sg_inq %s`", who, l.path, strings.Join(missing, ", "), l.path)
		}
		if _, ok := set["block-size"]; !ok {
			fs.info(l.line, "%s: direct-store %s: tgt-admin took the block size from the device (sg_readcap); 512 assumed, check", who, l.path)
		}
	}
	flag := func(k string, dst *bool) {
		if v, ok := set[k]; ok {
			switch v.value {
			case "1":
				*dst = true
			case "0":
				*dst = false
			default:
				fs.warn(v.line, "%s: %s %q: tgtd takes 0 or 1; ignored", who, k, v.value)
			}
		}
	}
	flag("readonly", &l.readOnly)
	flag("removable", &l.removable)
	if _, ok := set["thin_provisioning"]; ok {
		var th bool
		flag("thin_provisioning", &th)
		l.thin = &th
	}
	if v, ok := set["online"]; ok && v.value != "1" {
		fs.warn(v.line, "%s: online %s: the LUN was offline under tgt (NOT READY); halun serves it online", who, v.value)
	}
	if v, ok := set["swp"]; ok && v.value == "1" {
		l.readOnly = true
		fs.warn(v.line, "%s: swp=1 (software write protect) carried as read_only: true", who)
	}
	for _, k := range []string{"sense_format", "lbppbe", "la_lba", "optimal_xfer_gran", "optimal_xfer_len", "rotation_rate", "bsopts"} {
		if v, ok := set[k]; ok {
			fs.warn(v.line, "%s: %s %s not carried: halun has no setting for it", who, k, v.value)
		}
	}
	if v, ok := set["path"]; ok {
		fs.review(v.line, "%s: path %s replaces the backing store of %s under tgt; the import keeps %s — check", who, v.value, l.path, l.path)
	}
	if v, ok := set["allow-in-use"]; ok {
		fs.info(v.line, "%s: allow-in-use %s concerns tgt-admin only", who, v.value)
	}
	if v, ok := set["write-cache"]; ok {
		switch v.value {
		case "off":
			l.writeCacheOff = true
		case "on":
		default:
			fs.warn(v.line, "%s: write-cache %q is not on or off; tgt-admin ignored it (cache on)", who, v.value)
		}
	}
	l.deviceType = set["device-type"].value
	l.bsType = set["bs-type"].value
	l.bsFlags = set["bsoflags"].value
	if v, ok := set["block-size"]; ok {
		n, err := strconv.Atoi(v.value)
		if err != nil {
			fs.review(v.line, "%s: block-size %q is not a number; 512 written", who, v.value)
		} else {
			l.blockSize, l.blockSizeLine = n, v.line
		}
	}
}

// tgtDiscovery converts discovery CHAP users.
func tgtDiscovery(in, out []tgtItem, fs *findings) *chap {
	if len(in) == 0 && len(out) == 0 {
		return nil
	}
	c := &chap{}
	if len(in) > 0 {
		c.username, c.secret = in[0].key, in[0].value
		for _, x := range in[1:] {
			fs.warn(x.line, "incomingdiscoveryuser %s: halun takes one discovery user; not carried", x.key)
		}
	}
	if len(out) > 0 {
		c.targetUsername, c.targetSecret = out[0].key, out[0].value
		for _, x := range out[1:] {
			fs.warn(x.line, "outgoingdiscoveryuser %s: tgt uses one; not carried", x.key)
		}
		if c.username == "" {
			fs.warn(out[0].line, "outgoingdiscoveryuser %s without incomingdiscoveryuser: mutual CHAP needs one-way CHAP first; not carried", out[0].key)
			return nil
		}
	}
	return c
}

// buildTGT turns tgt targets into halun targets and volumes. live says
// the LUNs come from a running tgtd (show output) rather than a config.
func buildTGT(m *model, tts []*tgtTarget, o Options, fs *findings, live bool) {
	names := volumeNames{}
	byPath := map[string]string{} // path -> "target LUN" that has it
	seen := map[string]int{}
	for _, tt := range tts {
		iqn, err := config.NormalizeName(tt.iqn)
		if err != nil {
			fs.review(tt.line, "target %q: not a valid iSCSI name for halun (%v); not imported", tt.iqn, err)
			continue
		}
		if prev, dup := seen[iqn]; dup {
			fs.review(tt.line, "target %s defined again (first at line %d); not imported twice", iqn, prev)
			continue
		}
		seen[iqn] = tt.line
		who := fmt.Sprintf("target %s (tid %d)", iqn, tt.tid)
		t := &target{iqn: iqn, at: tt.line, notes: tt.notes}
		for _, l := range tt.luns {
			lwho := fmt.Sprintf("%s LUN %d", who, l.lun)
			key := filepath.Clean(l.path)
			if prev, dup := byPath[key]; dup {
				fs.review(l.line, "%s: %s is also the backing store of %s; under tgt the two LUNs had different identities on one file, and a halun volume has one path and one identity — LUN not imported", lwho, l.path, prev)
				continue
			}
			v := tgtVolume(l, o, fs, names, m, lwho, live)
			if v == nil {
				continue
			}
			byPath[key] = lwho
			t.luns = append(t.luns, lunMap{lun: l.lun, volume: v.name})
		}
		if len(t.luns) == 0 {
			fs.warn(tt.line, "%s: no disk LUN to import; the target is kept with no LUNs", who)
		}
		var ps paramSet
		for _, p := range tt.params {
			if strings.HasPrefix(p.key, "state") {
				fs.warn(p.line, "%s: %s %s not carried: halun has no target state setting", who, p.key, p.value)
				continue
			}
			if !iscsiParam(&ps, p.key, p.value, p.line, fs, who) {
				fs.warn(p.line, "%s: %s %s not carried", who, p.key, p.value)
			}
		}
		t.params = ps.finish(fs, who)
		tgtCHAP(t, tt, fs, who, live)
		tgtAccess(t, tt, fs, who, live)
		m.targets = append(m.targets, t)
	}
	if len(m.targets) == 0 {
		fs.review(0, "no target imported")
	}
	tgtCollisions(m, fs)
	fs.info(0, "LUN 0 of every tgt target is tgt's controller (peripheral type 0x0c, product \"Controller\"), which halun has no equivalent of; it is not imported, and the disks keep their LUN numbers")
	fs.info(0, "write_cache: true for LUNs without `write-cache off` or bsoflags sync/direct: tgt reported a volatile write cache (WCE) and wrote through the page cache, as halun does with write_cache: true (SYNCHRONIZE CACHE and FUA still flush)")
	fs.info(0, "iSCSI keys left unset take halun's defaults, not tgt's (tgt: InitialR2T Yes, ImmediateData Yes, MaxRecvDataSegmentLength 8192, MaxBurstLength 262144, FirstBurstLength 65536)")
}

// tgtCollisions reports volumes that tgt gave one designator: LUNs with
// the same scsi_id share the T10 vendor ID and NAA-6 designators (and
// scsi_ids that differ only in non-hex characters share the NAA-6 one).
// Initiators took them for one disk; halun refuses such a config.
func tgtCollisions(m *model, fs *findings) {
	type res struct {
		v  *volume
		id identity.Identity
	}
	var done []res
	for _, v := range m.volumes {
		if v.serial == "" {
			continue
		}
		s := v.ident
		s.Serial = v.serial
		id, err := identity.Resolve(s)
		if err != nil {
			continue
		}
		for _, o := range done {
			if des, dup := identity.Collides(id, o.id); dup {
				fs.review(v.at, "volume %s (tid %d LUN %d) has the VPD 0x83 designator %s of volume %s (tid %d LUN %d): tgt sent both (same scsi_id, or same serial), so initiators that name disks by it (multipath) took them for one disk; halun refuses that — give one a different identity.device_id (its WWID changes) or serial",
					v.name, v.ident.TID, v.ident.LUN, des, o.v.name, o.v.ident.TID, o.v.ident.LUN)
				break
			}
		}
		done = append(done, res{v, id})
	}
}

// tgtVolume builds the volume of one tgt LUN, keeping its identity
// exactly: style tgt with its tid and LUN, scsi_sn as the serial, scsi_id
// and vendor/product/revision when set.
func tgtVolume(l *tgtLU, o Options, fs *findings, names volumeNames, m *model, who string, live bool) *volume {
	switch l.deviceType {
	case "", "disk":
	default:
		fs.warn(l.line, "%s: device-type %s: halun serves disks only; LUN not imported", who, l.deviceType)
		return nil
	}
	switch l.bsType {
	case "", "rdwr", "aio", "mmap":
	case "null":
		fs.warn(l.line, "%s: backing store type null (no data) has no halun equivalent; LUN not imported", who)
		return nil
	default:
		fs.review(l.line, "%s: backing store type %s (%s) is not a file or block device halun can open; LUN not imported", who, l.bsType, l.path)
		return nil
	}
	if l.path == "" {
		fs.review(l.line, "%s: no backing store path; LUN not imported", who)
		return nil
	}
	v := &volume{name: names.take(nameFromPath(l.path)), blockSize: 512, at: l.line}
	switch l.blockSize {
	case 0, 512:
	case 4096:
		v.blockSize = 4096
	default:
		fs.review(cmpLine(l.blockSizeLine, l.line), "%s: block size %d: halun has 512 and 4096 only; 512 written — initiators would see a different block size", who, l.blockSize)
	}
	backing(v, l.path, 0, o, fs, l.line, who)
	if v.size < 0 && l.sizeHint != "" {
		fs.info(l.line, "%s: tgt showed \"Size: %s\" (decimal megabytes, rounded): use the exact size of %s", who, l.sizeHint, l.path)
	}
	v.readOnly, v.removable = l.readOnly, l.removable
	if l.thin != nil {
		v.thin = boolPtr(*l.thin)
	} else {
		v.thin = boolPtr(false)
	}
	// tgt reports a volatile write cache (WCE) unless write-cache off
	// turned it off, and writes through the page cache unless bsoflags
	// asks for sync or direct I/O.
	syncIO := strings.Contains(l.bsFlags, "sync") || strings.Contains(l.bsFlags, "direct")
	switch {
	case syncIO:
		fs.info(l.line, "%s: bsoflags %s: tgt wrote with O_%s; halun writes through (write_cache: false)", who, l.bsFlags, strings.ToUpper(strings.ReplaceAll(l.bsFlags, ":", "|O_")))
	case l.bsFlags != "":
		fs.warn(l.line, "%s: bsoflags %s not carried", who, l.bsFlags)
	}
	v.writeCache = !l.writeCacheOff && !syncIO
	// Identity.
	src := fmt.Sprintf("from %s line %d (%s)", m.sourceName(fs), l.line, who)
	v.notes = append(v.notes, src)
	serial := l.serial
	if serial == "" {
		serial = identity.TGTDefaultSerial(l.tid, uint64(l.lun))
	}
	spec := identity.Spec{Style: identity.StyleTGT, TID: l.tid, LUN: uint64(l.lun),
		Vendor: strings.TrimRight(l.vendor, " "), Product: strings.TrimRight(l.product, " "), Revision: strings.TrimRight(l.rev, " ")}
	if l.scsiID != "" && l.scsiID != identity.TGTDefaultDeviceID(l.tid, uint64(l.lun)) {
		spec.DeviceID = l.scsiID
	}
	v.ident = spec
	if err := checkSerial(serial); err != nil {
		fs.review(cmpLine(l.serialLine, l.line), "%s: scsi_sn %v: halun refuses it as a serial, so the output needs a serial and VPD 0x80 would change", who, err)
		v.notes = append(v.notes, fmt.Sprintf("tgt's scsi_sn %q cannot be a halun serial: VPD 0x80 changes.", serial))
		m.volumes = append(m.volumes, v)
		return v
	}
	v.serial = serial
	spec.Serial = serial
	id, err := identity.Resolve(spec)
	if err != nil {
		fs.review(l.line, "%s: the identity cannot be reproduced: %v", who, err)
		m.volumes = append(m.volumes, v)
		return v
	}
	v.notes = append(v.notes,
		fmt.Sprintf("Identity kept from tgt (tid %d, LUN %d): standard INQUIRY vendor/product/revision,", l.tid, l.lun),
		"VPD 0x80 and the logical-unit designators of VPD 0x83 (T10 vendor ID, NAA 3, NAA 6) are",
		"byte for byte tgt's. WWID "+id.WWID()+".")
	if live && l.vendor == "" {
		v.notes = append(v.notes, "Vendor/product/revision are tgt's defaults (IET, VIRTUAL-DISK, 0001): the show output does not list them.")
	}
	m.volumes = append(m.volumes, v)
	return v
}

func cmpLine(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}

// tgtCHAP converts incoming/outgoing users.
func tgtCHAP(t *target, tt *tgtTarget, fs *findings, who string, live bool) {
	if len(tt.incoming) > 0 {
		u := tt.incoming[0]
		t.chap = &chap{username: u.key, secret: u.value}
		for _, x := range tt.incoming[1:] {
			fs.warn(x.line, "%s: incoming user %s: halun takes one CHAP user per target (or one per initiator entry); not carried — give it its own access.initiators entry with chap if it is one initiator's", who, x.key)
		}
		if live {
			fs.review(u.line, "%s: CHAP user %s: tgtadm --op show does not show secrets; set chap.secret (the password of `tgtadm --mode account --op new --user=%s`)", who, u.key, u.key)
		}
	}
	if len(tt.outgoing) > 0 {
		u := tt.outgoing[0]
		for _, x := range tt.outgoing[1:] {
			fs.warn(x.line, "%s: outgoing user %s: tgt used only the first; not carried", who, x.key)
		}
		if t.chap == nil {
			fs.warn(u.line, "%s: outgoing user %s without an incoming user: mutual CHAP needs one-way CHAP first; not carried", who, u.key)
			return
		}
		t.chap.targetUsername, t.chap.targetSecret = u.key, u.value
		if live {
			fs.review(u.line, "%s: mutual CHAP user %s: tgtadm --op show does not show secrets; set chap.target_secret", who, u.key)
		}
	}
}

// tgtAccess sets t's access. tgt lets an initiator in when its address
// matches an address ACL (ALL matches every address) or its name matches
// a name ACL (usr/iscsi/target.c: ip_acl, iqn_acl). halun decides by name
// only.
func tgtAccess(t *target, tt *tgtTarget, fs *findings, who string, live bool) {
	first := func(items []tgtItem) int {
		if len(items) > 0 {
			return items[0].line
		}
		return tt.line
	}
	all := tt.bindAll
	for _, a := range tt.addrs {
		if a.value == "ALL" {
			all = true
		}
	}
	if all {
		t.all = true
		why := "the ACL has ALL"
		if tt.bindAll && !live {
			why = "tgt-admin binds ALL when no initiator-address is given"
		}
		if len(tt.names) > 0 {
			fs.review(first(tt.names), "%s: initiator name %s did not restrict access under tgt (%s, and tgt lets in an initiator whose address or name matches), so every initiator could log in; access: all keeps that — list the initiators in access.initiators to restrict it", who, tgtValues(tt.names), why)
		}
		for _, a := range tt.addrs {
			if a.value != "ALL" {
				fs.info(a.line, "%s: initiator address %s is implied: %s", who, a.value, why)
			}
		}
		return
	}
	for _, n := range tt.names {
		iqn, err := config.NormalizeName(n.value)
		if err != nil {
			fs.review(n.line, "%s: initiator name %q is not a valid iSCSI name for halun; not carried", who, n.value)
			continue
		}
		dup := false
		for _, x := range t.initiators {
			dup = dup || x.iqn == iqn
		}
		if !dup {
			t.initiators = append(t.initiators, initiatorACL{iqn: iqn, luns: t.luns, at: n.line})
		}
	}
	for _, a := range tt.addrs {
		fs.review(a.line, "%s: initiator address %s: halun decides access by initiator name only; initiators that got in by this address lose access unless listed by name in access.initiators", who, a.value)
	}
	if len(t.initiators) == 0 {
		fs.review(first(tt.addrs), "%s: no initiator is allowed by name; nobody could log in and the target is written commented out", who)
	}
}

func tgtValues(items []tgtItem) string {
	v := make([]string, len(items))
	for i, it := range items {
		v[i] = it.value
	}
	return strings.Join(v, ", ")
}
