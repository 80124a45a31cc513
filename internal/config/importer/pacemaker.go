package importer

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/identity"
)

// A Pacemaker cluster that serves iSCSI with the ocf:heartbeat resource
// agents (ClusterLabs/resource-agents heartbeat/iSCSITarget.in and
// heartbeat/iSCSILogicalUnit.in), read from either form of its CIB:
//
//   - `crm configure show`: statements such as
//     "primitive ID ocf:heartbeat:iSCSILogicalUnit params k=v k="v w" op …
//     meta …", a trailing backslash continuing a line, '#' comments;
//   - the CIB XML (`cibadmin -Q`, `pcs cluster cib`): <primitive id class
//     provider type> holding <instance_attributes><nvpair name value/>.
//
// Each iSCSITarget primitive is a target, each iSCSILogicalUnit a volume
// and a LUN of its target_iqn. The agents never write the SCSI identity
// down: they compute it from the resource id when scsi_id and scsi_sn are
// not set, and what they hand the target daemon depends on the
// implementation parameter. The importer computes it exactly as the agent
// does, so that the disk keeps its VPD 0x80 serial and VPD 0x83
// designators byte for byte.

// pcmkParam is one instance attribute of a primitive.
type pcmkParam struct {
	name, value string
	line        int
}

// pcmkPrimitive is one primitive resource.
type pcmkPrimitive struct {
	id     string
	agent  string // class:provider:type as written, or @template
	typ    string // the type, e.g. iSCSILogicalUnit
	line   int
	params []pcmkParam
	// stopped is set by meta target-role=Stopped.
	stopped bool
}

func (p *pcmkPrimitive) param(name string) (pcmkParam, bool) {
	var found pcmkParam
	ok := false
	for _, x := range p.params {
		if x.name == name {
			found, ok = x, true // the last one wins, as in the environment
		}
	}
	return found, ok
}

// value returns a parameter's value, or "" when it is not set.
func (p *pcmkPrimitive) value(name string) string {
	x, _ := p.param(name)
	return x.value
}

// lineOf is the line of a parameter, or the primitive's.
func (p *pcmkPrimitive) lineOf(name string) int {
	if x, ok := p.param(name); ok && x.line > 0 {
		return x.line
	}
	return p.line
}

// pcmkConf is what the importer reads of a CIB.
type pcmkConf struct {
	prims []*pcmkPrimitive
	// cloned maps a primitive id to the line of the clone or ms that
	// holds it: each instance then runs as ID:N.
	cloned map[string]int
}

func (c *pcmkConf) clone(child string, line int) {
	if c.cloned == nil {
		c.cloned = map[string]int{}
	}
	if _, ok := c.cloned[child]; !ok {
		c.cloned[child] = line
	}
}

// ---- crm configure show ----

// crmToken is one word of a crm statement, quotes and escapes removed.
type crmToken struct {
	text string
	line int
}

// crmStatements splits crm shell syntax into statements of words: a
// newline ends a statement unless a backslash escapes it; double quotes
// group words and may hold \" and \\.
func crmStatements(name string, data []byte, el *errList) [][]crmToken {
	var stmts [][]crmToken
	var cur []crmToken
	var word strings.Builder
	inWord := false
	line, wordLine := 1, 1
	flushWord := func() {
		if inWord {
			cur = append(cur, crmToken{text: word.String(), line: wordLine})
			word.Reset()
			inWord = false
		}
	}
	flushStmt := func() {
		flushWord()
		if len(cur) > 0 {
			stmts = append(stmts, cur)
			cur = nil
		}
	}
	s := string(data)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			flushStmt()
			line++
		case c == '\r' || c == ' ' || c == '\t':
			flushWord()
		case c == '#' && !inWord && len(cur) == 0:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i--
		case c == '\\':
			if i+1 < len(s) && s[i+1] == '\n' {
				flushWord()
				line++
				i++
				continue
			}
			if i+2 < len(s) && s[i+1] == '\r' && s[i+2] == '\n' {
				flushWord()
				line++
				i += 2
				continue
			}
			if !inWord {
				inWord, wordLine = true, line
			}
			if i+1 < len(s) {
				i++
				word.WriteByte(s[i])
			}
		case c == '"':
			if !inWord {
				inWord, wordLine = true, line
			}
			start := line
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\n' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				word.WriteByte(s[i])
			}
			if !closed {
				el.add(start, "unterminated quoted string")
				// Skip the rest of the statement's line.
				for i < len(s) && s[i] != '\n' {
					i++
				}
				i--
				word.Reset()
				inWord = false
				cur = nil
			}
		default:
			if !inWord {
				inWord, wordLine = true, line
			}
			word.WriteByte(c)
		}
	}
	flushStmt()
	return stmts
}

// crmSections are the words that start a part of a primitive statement.
var crmSections = map[string]bool{"params": true, "meta": true, "op": true, "utilization": true, "op_params": true, "op_meta": true}

// parseCRM reads `crm configure show` output.
func parseCRM(name string, data []byte, fs *findings) (*pcmkConf, error) {
	el := &errList{file: name}
	c := &pcmkConf{}
	for _, st := range crmStatements(name, data, el) {
		kw := st[0]
		switch kw.text {
		case "primitive":
			if len(st) < 3 {
				el.add(kw.line, "primitive wants an id and a resource agent")
				continue
			}
			p := &pcmkPrimitive{id: st[1].text, agent: st[2].text, line: kw.line}
			if i := strings.LastIndexByte(p.agent, ':'); i >= 0 {
				p.typ = p.agent[i+1:]
			} else {
				p.typ = p.agent
			}
			section := ""
			for _, tk := range st[3:] {
				if crmSections[tk.text] {
					section = tk.text
					continue
				}
				k, v, ok := strings.Cut(tk.text, "=")
				switch section {
				case "":
					el.add(tk.line, "primitive %s: %q before params, meta or op", p.id, tk.text)
				case "params":
					if !ok || k == "" {
						el.add(tk.line, "primitive %s: params: %q is not name=value", p.id, tk.text)
						continue
					}
					p.params = append(p.params, pcmkParam{name: k, value: v, line: tk.line})
				case "meta":
					if ok && k == "target-role" && strings.EqualFold(v, "Stopped") {
						p.stopped = true
					}
				}
			}
			c.prims = append(c.prims, p)
		case "clone", "ms":
			if len(st) >= 3 {
				c.clone(st[2].text, kw.line)
			}
			fs.info(kw.line, "%s %s: not imported (Pacemaker placement; halun's own clustering is configured separately)", kw.text, stmtID(st))
		case "node", "property", "rsc_defaults", "op_defaults", "location", "colocation", "order", "group",
			"rsc_template", "rsc_ticket", "fencing_topology", "tag", "role", "user", "acl_target", "acl_group", "alert", "bundle", "xml":
			fs.info(kw.line, "%s %s: not imported (Pacemaker cluster configuration)", kw.text, stmtID(st))
		default:
			fs.info(kw.line, "%q statement not imported", kw.text)
		}
	}
	return c, el.err()
}

func stmtID(st []crmToken) string {
	if len(st) < 2 {
		return ""
	}
	return strings.TrimSuffix(st[1].text, ":")
}

// ---- CIB XML ----

// parseCIB reads the CIB XML.
func parseCIB(name string, data []byte, fs *findings) (*pcmkConf, error) {
	el := &errList{file: name}
	c := &pcmkConf{}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	type frame struct {
		name string
		id   string
		line int
	}
	var stack []frame
	var cur *pcmkPrimitive
	inInstance, inMeta := false, false
	sawElement := false
	for {
		line, _ := d.InputPos()
		if line < 1 {
			line = 1
		}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				el.add(se.Line, "XML syntax: %s", se.Msg)
			} else {
				el.add(line, "XML: %v", err)
			}
			return nil, el.err()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			sawElement = true
			attr := func(n string) string {
				for _, a := range t.Attr {
					if a.Name.Local == n {
						return a.Value
					}
				}
				return ""
			}
			el0 := t.Name.Local
			id := attr("id")
			switch el0 {
			case "primitive":
				if cur != nil {
					el.add(line, "primitive %s inside primitive %s", id, cur.id)
					return nil, el.err()
				}
				cur = &pcmkPrimitive{id: id, line: line, typ: attr("type")}
				cur.agent = attr("class") + ":" + attr("provider") + ":" + cur.typ
				if attr("provider") == "" {
					cur.agent = attr("class") + ":" + cur.typ
				}
				if tmpl := attr("template"); tmpl != "" {
					cur.agent = "@" + tmpl
				}
				if id == "" {
					el.add(line, "primitive without an id")
				}
				for _, f := range stack {
					if f.name == "clone" || f.name == "master" || f.name == "bundle" {
						c.clone(id, f.line)
					}
				}
			case "instance_attributes":
				if cur != nil && len(stack) > 0 && stack[len(stack)-1].name == "primitive" {
					inInstance = true
					if ref := attr("id-ref"); ref != "" {
						fs.review(line, "primitive %s: instance_attributes id-ref=%q: parameters shared by reference are not resolved; copy them into the output by hand", cur.id, ref)
					}
				}
			case "meta_attributes":
				if cur != nil && len(stack) > 0 && stack[len(stack)-1].name == "primitive" {
					inMeta = true
				}
			case "rule":
				if cur != nil && (inInstance || inMeta) {
					fs.review(line, "primitive %s: a rule makes attributes conditional; every nvpair is read as if it applied", cur.id)
				}
			case "nvpair":
				if cur == nil {
					break
				}
				n, v := attr("name"), attr("value")
				switch {
				case inInstance:
					if ref := attr("id-ref"); ref != "" && n == "" {
						fs.review(line, "primitive %s: nvpair id-ref=%q is not resolved; copy the parameter into the output by hand", cur.id, ref)
						break
					}
					if n == "" {
						el.add(line, "primitive %s: nvpair without a name", cur.id)
						break
					}
					cur.params = append(cur.params, pcmkParam{name: n, value: v, line: line})
				case inMeta:
					if n == "target-role" && strings.EqualFold(v, "Stopped") {
						cur.stopped = true
					}
				}
			case "clone", "master", "group", "bundle", "rsc_colocation", "rsc_order", "rsc_location", "rsc_ticket", "template",
				"node", "cluster_property_set", "rsc_defaults", "op_defaults", "fencing-topology", "alerts", "acls":
				fs.info(line, "%s %s: not imported (Pacemaker cluster configuration)", el0, id)
			}
			stack = append(stack, frame{name: el0, id: id, line: line})
		case xml.EndElement:
			if len(stack) == 0 {
				break // the decoder reports unbalanced tags itself
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch top.name {
			case "primitive":
				if cur != nil {
					c.prims = append(c.prims, cur)
				}
				cur = nil
			case "instance_attributes":
				inInstance = false
			case "meta_attributes":
				inMeta = false
			}
		}
	}
	if !sawElement {
		el.add(1, "no XML element")
	}
	return c, el.err()
}

// ---- conversion ----

// The implementations the agents know.
const (
	implIET  = "iet"
	implTGT  = "tgt"
	implLIO  = "lio"
	implLIOT = "lio-t"
	implSCST = "scst"
)

var pcmkImpls = []string{implIET, implTGT, implLIO, implLIOT, implSCST}

// pcmkTarget is an iSCSITarget with what its LUs need from it.
type pcmkTarget struct {
	t    *target
	prim *pcmkPrimitive // nil for a target no iSCSITarget defines
	impl string         // explicit implementation, or ""
	tid  uint32         // its tid parameter, 0 when unset
	acl  bool           // allowed_initiators restricted it
}

// convertPacemaker converts either form of the CIB.
func convertPacemaker(name string, data []byte, o Options, fs *findings) (*model, error) {
	var c *pcmkConf
	var err error
	if isCIBXML(data) {
		c, err = parseCIB(name, data, fs)
	} else {
		c, err = parseCRM(name, data, fs)
	}
	if err != nil {
		return nil, err
	}
	m := &model{header: []string{
		"Pacemaker ran the iSCSITarget and iSCSILogicalUnit resources below; the resources",
		"around them (DRBD, file systems, addresses) and the constraints are not converted.",
	}}
	fs.info(0, "Pacemaker operations (op), meta attributes and constraints are cluster settings with no halun equivalent; they are not carried")
	pgs := &lioPortalGroups{}
	var targets []*pcmkTarget
	byIQN := map[string]*pcmkTarget{}
	var lus []*pcmkPrimitive
	for _, p := range c.prims {
		switch {
		case strings.HasPrefix(p.agent, "@"):
			fs.review(p.line, "primitive %s uses the template %s, whose parameters are not resolved; not imported", p.id, strings.TrimPrefix(p.agent, "@"))
		case p.typ == "iSCSITarget":
			if pt := pcmkConvTarget(p, pgs, byIQN, fs); pt != nil {
				targets = append(targets, pt)
			}
		case p.typ == "iSCSILogicalUnit":
			lus = append(lus, p)
		default:
			fs.info(p.line, "primitive %s (%s): not imported (not an iSCSI resource)", p.id, p.agent)
			continue
		}
		if l, ok := c.cloned[p.id]; ok && (p.typ == "iSCSITarget" || p.typ == "iSCSILogicalUnit") {
			fs.review(l, "primitive %s runs as a clone: each instance is %s:N, and the agent's defaults (scsi_id, scsi_sn) come from that instance name; the output assumes the plain id — check the identity against the node that served it", p.id, p.id)
		}
		if p.stopped {
			fs.warn(p.line, "primitive %s has target-role=Stopped; imported anyway", p.id)
		}
	}
	names := volumeNames{}
	byPath := map[string]*volume{}
	for _, p := range lus {
		pcmkConvLU(p, o, fs, m, names, byPath, byIQN, &targets)
	}
	for _, pt := range targets {
		slices.SortStableFunc(pt.t.luns, func(a, b lunMap) int { return a.lun - b.lun })
		m.targets = append(m.targets, pt.t)
	}
	m.portalGroups = pgs.groups
	if len(m.targets) == 0 {
		fs.review(0, "no iSCSITarget or iSCSILogicalUnit resource imported")
	}
	fs.info(0, "iSCSI keys the resources leave unset take halun's defaults, not those of the target daemon the cluster ran")
	return m, nil
}

// isCIBXML tells the CIB XML from crm syntax.
func isCIBXML(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\ufeff"), []byte("<"))
}

func pcmkImplValid(s string) bool { return slices.Contains(pcmkImpls, s) }

// pcmkConvTarget converts an iSCSITarget primitive.
func pcmkConvTarget(p *pcmkPrimitive, pgs *lioPortalGroups, byIQN map[string]*pcmkTarget, fs *findings) *pcmkTarget {
	who := "iSCSITarget " + p.id
	raw, ok := p.param("iqn")
	if !ok || raw.value == "" {
		fs.review(p.line, "%s: no iqn parameter; not imported", who)
		return nil
	}
	iqn, err := config.NormalizeName(raw.value)
	if err != nil {
		fs.review(raw.line, "%s: iqn %q is not a valid iSCSI name for halun (%v); not imported", who, raw.value, err)
		return nil
	}
	if prev := byIQN[iqn]; prev != nil {
		fs.review(p.line, "%s: target %s is already defined by %s (line %d); not imported twice", who, iqn, prev.prim.id, prev.prim.line)
		return nil
	}
	who = fmt.Sprintf("%s (target %s)", who, iqn)
	pt := &pcmkTarget{t: &target{iqn: iqn, at: p.line}, prim: p}
	pt.t.notes = append(pt.t.notes, fmt.Sprintf("from primitive %s (ocf:heartbeat:iSCSITarget)", p.id))
	impl := p.value("implementation")
	if _, set := p.param("implementation"); set && !pcmkImplValid(impl) {
		fs.warn(p.lineOf("implementation"), "%s: implementation %q is not one the agent knows (%s)", who, impl, strings.Join(pcmkImpls, ", "))
		impl = ""
	}
	pt.impl = impl
	if x, ok := p.param("tid"); ok && x.value != "" {
		n, err := strconv.ParseUint(x.value, 10, 32)
		if err != nil || n == 0 {
			fs.review(x.line, "%s: tid %q is not a target id 1..%d", who, x.value, uint32(1<<32-1))
		} else {
			pt.tid = uint32(n)
		}
		if impl != "" && impl != implTGT && impl != implIET {
			fs.info(x.line, "%s: tid is ignored by the agent under %s", who, impl)
		}
	}
	// Portals.
	portalsP, hasPortals := p.param("portals")
	portals := "0.0.0.0:3260"
	if hasPortals {
		portals = portalsP.value
	}
	var list []string
	for _, word := range strings.Fields(portals) {
		hp, ok := pcmkPortal(word, impl == implSCST)
		if !ok {
			fs.review(p.lineOf("portals"), "%s: portal %q is not a usable address; not carried", who, word)
			continue
		}
		list = append(list, hp)
	}
	switch {
	case impl == implIET || impl == implTGT:
		if hasPortals {
			fs.info(portalsP.line, "%s: the agent ignores portals under %s (the daemon listened where its own options said); the output listens on %s", who, impl, strings.Join(list, " "))
		}
	case impl == implSCST && hasPortals:
		fs.info(portalsP.line, "%s: SCST took only the address of each portal (allowed_portal), any port; the output uses port 3260 where none was given", who)
	case !hasPortals:
		fs.info(p.line, "%s: no portals parameter: the agent's default 0.0.0.0:3260, so the output listens on :3260", who)
	}
	if len(list) == 0 {
		list = []string{":3260"}
	}
	pt.t.portalGroups = pgs.tags(list, 1, p.lineOf("portals"), fs, who)
	if x, ok := p.param("iser_portals"); ok && x.value != "" {
		fs.warn(x.line, "%s: iser_portals %q not carried: halun serves iSCSI over TCP only", who, x.value)
	}
	// Access.
	allowed := strings.Fields(p.value("allowed_initiators"))
	line := p.lineOf("allowed_initiators")
	if len(allowed) == 0 {
		pt.t.all = true
		fs.info(line, "%s: no allowed_initiators: the agent let every initiator log in; access: all", who)
	}
	for _, a := range allowed {
		if strings.EqualFold(a, "ALL") {
			pt.t.all = true
			fs.info(line, "%s: allowed_initiators ALL: every initiator may log in; access: all", who)
			continue
		}
		n, err := config.NormalizeName(a)
		if err != nil || !(strings.HasPrefix(n, "iqn.") || strings.HasPrefix(n, "eui.") || strings.HasPrefix(n, "naa.")) {
			fs.review(line, "%s: allowed_initiators entry %q is not an iSCSI name (an address, a netmask or a pattern); halun's access lists initiator names, so it is not carried and that initiator cannot log in until it is listed by name", who, a)
			continue
		}
		if impl == implTGT {
			fs.review(line, "%s: allowed_initiators %s: tgt bound it with --initiator-address, which matches addresses, so this entry probably let no initiator in; it is carried as an initiator name — check", who, a)
		}
		pt.acl = true
		if !slices.ContainsFunc(pt.t.initiators, func(in initiatorACL) bool { return in.iqn == n }) {
			pt.t.initiators = append(pt.t.initiators, initiatorACL{iqn: n, at: line})
		}
	}
	if pt.t.all && len(pt.t.initiators) > 0 {
		pt.t.initiators = nil
		pt.acl = false
	}
	// CHAP.
	user, pass := p.value("incoming_username"), p.value("incoming_password")
	if user != "" || pass != "" {
		if impl == implLIO {
			fs.warn(p.lineOf("incoming_username"), "%s: CHAP user %s not carried: under lio the agent disables authentication (lio_node --disableauth), so initiators logged in without CHAP", who, user)
		} else {
			pt.t.chap = &chap{username: user, secret: pass}
			if user == "" {
				fs.review(p.lineOf("incoming_password"), "%s: incoming_password without incoming_username; set chap.user", who)
			}
		}
	}
	// Additional parameters: iSCSI keys.
	if x, ok := p.param("additional_parameters"); ok {
		var ps paramSet
		for _, kv := range strings.Fields(x.value) {
			k, v, _ := strings.Cut(kv, "=")
			if !iscsiParam(&ps, k, v, x.line, fs, who) {
				fs.warn(x.line, "%s: additional parameter %s not carried", who, kv)
			}
		}
		pt.t.params = ps.finish(fs, who)
	}
	for _, x := range p.params {
		switch x.name {
		case "iqn", "implementation", "tid", "portals", "iser_portals", "allowed_initiators", "incoming_username", "incoming_password", "additional_parameters":
		default:
			fs.warn(x.line, "%s: parameter %s=%q not carried", who, x.name, x.value)
		}
	}
	byIQN[iqn] = pt
	return pt
}

// pcmkPortal converts an agent portal, "ADDR:PORT" or "ADDR" (SCST), to
// halun's host:port.
func pcmkPortal(s string, addrOnly bool) (string, bool) {
	host, port := s, "3260"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return "", false
	}
	host = strings.Trim(host, "[]")
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if addrOnly {
		port = "3260"
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "::0" {
		return ":" + port, true
	}
	hp := net.JoinHostPort(host, port)
	if _, err := config.ParsePortal(hp); err != nil {
		return "", false
	}
	return hp, true
}

// pcmkDefaultSN is the agent's default scsi_sn: the first 8 hex digits of
// the MD5 of the resource id (`echo -n ID | md5sum`).
func pcmkDefaultSN(id string) string {
	sum := md5.Sum([]byte(id))
	return hex.EncodeToString(sum[:])[:8]
}

// pcmkDefaultID is the agent's default scsi_id: the resource id's first
// 16 characters (bash ${VAR:0:16}, which counts characters of the locale;
// ids are ASCII).
func pcmkDefaultID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// pcmkLUKeys are the iSCSILogicalUnit parameters the importer reads.
var pcmkLUKeys = map[string]bool{
	"implementation": true, "target_iqn": true, "lun": true, "path": true, "scsi_id": true, "scsi_sn": true,
	"vendor_id": true, "product_id": true, "liot_bstype": true, "scst_bstype": true, "block_size": true,
	"write_cache": true, "allowed_initiators": true, "additional_parameters": true, "lio_iblock": true,
	"backstore_name": true, "emulate_tpu": true, "emulate_3pc": true, "emulate_caw": true,
	"tgt_bstype": true, "tgt_bsoflags": true, "tgt_bsopts": true, "tgt_device_type": true,
}

// pcmkConvLU converts an iSCSILogicalUnit primitive into a volume and
// maps it in its target.
func pcmkConvLU(p *pcmkPrimitive, o Options, fs *findings, m *model, names volumeNames, byPath map[string]*volume,
	byIQN map[string]*pcmkTarget, targets *[]*pcmkTarget) {
	who := "iSCSILogicalUnit " + p.id
	for _, k := range []string{"target_iqn", "lun", "path"} {
		if p.value(k) == "" {
			fs.review(p.line, "%s: no %s parameter, which the agent requires; not imported", who, k)
			return
		}
	}
	iqn, err := config.NormalizeName(p.value("target_iqn"))
	if err != nil {
		fs.review(p.lineOf("target_iqn"), "%s: target_iqn %q is not a valid iSCSI name for halun (%v); not imported", who, p.value("target_iqn"), err)
		return
	}
	lun, err := strconv.Atoi(p.value("lun"))
	if err != nil || lun < 0 || lun > config.MaxLUN {
		fs.review(p.lineOf("lun"), "%s: lun %q is not a number 0..%d; not imported", who, p.value("lun"), config.MaxLUN)
		return
	}
	pt := byIQN[iqn]
	if pt == nil {
		pt = &pcmkTarget{t: &target{iqn: iqn, at: p.line}}
		pt.t.notes = append(pt.t.notes, "no iSCSITarget resource defines this target; its access is unknown")
		fs.review(p.lineOf("target_iqn"), "%s: no iSCSITarget resource defines target %s; it is created without access — list the initiators that may log in", who, iqn)
		byIQN[iqn] = pt
		*targets = append(*targets, pt)
	}
	for _, l := range pt.t.luns {
		if l.lun == lun {
			fs.review(p.lineOf("lun"), "%s: LUN %d of target %s is already taken by volume %s; not mapped", who, lun, iqn, l.volume)
			return
		}
	}
	// Implementation.
	impl := p.value("implementation")
	_, implSet := p.param("implementation")
	switch {
	case implSet && pcmkImplValid(impl):
	case implSet:
		fs.review(p.lineOf("implementation"), "%s: implementation %q is not one the agent knows (%s); the agent refused to start it — lio-t assumed", who, impl, strings.Join(pcmkImpls, ", "))
		impl = implLIOT
	case pt.impl != "":
		impl = pt.impl
		fs.review(p.line, "%s: no implementation parameter: the agent used the first of ietadm (iet), tgtadm (tgt), lio_node (lio), targetcli (lio-t), scstadmin (scst) installed on the node; "+
			"assumed %s, as the target's iSCSITarget says — set implementation=… in the source or check the identity on the old target", who, impl)
	default:
		impl = implLIOT
		fs.review(p.line, "%s: no implementation parameter: the agent used the first of ietadm (iet), tgtadm (tgt), lio_node (lio), targetcli (lio-t), scstadmin (scst) installed on the node, "+
			"which the configuration does not say; assumed lio-t, the most common today — the identity differs per implementation, so check it on the old target", who)
	}
	path := p.value("path")
	v := &volume{name: names.take(p.id), blockSize: 512, at: p.line}
	if prev := byPath[path]; prev != nil {
		fs.review(p.lineOf("path"), "%s: path %s is also exported by volume %s; one volume has one identity — the first is kept", who, path, prev.name)
		pt.t.luns = append(pt.t.luns, lunMap{lun: lun, volume: prev.name})
		return
	}
	if x, ok := p.param("block_size"); ok && x.value != "" {
		switch x.value {
		case "512", "4096":
			v.blockSize, _ = strconv.Atoi(x.value)
			if impl != implLIOT && impl != implSCST {
				fs.info(x.line, "%s: block_size is ignored by the agent under %s; 512 written", who, impl)
				v.blockSize = 512
			}
		default:
			fs.review(x.line, "%s: block_size %s: halun has 512 and 4096 only; 512 written — initiators would see a different block size", who, x.value)
		}
	}
	if x, ok := p.param("tgt_bstype"); ok && x.value == "rbd" && impl == implTGT {
		fs.review(x.line, "%s: tgt_bstype=rbd: path %s is a Ceph RBD image, which halun cannot open; map it (rbd map) and set path to the /dev/rbd device", who, path)
	}
	backing(v, path, 0, o, fs, p.lineOf("path"), who)
	if v.backend == "block" {
		v.thin = boolPtr(false)
	}
	pcmkCache(p, impl, v, fs, who)
	pcmkIdentity(p, impl, pt, lun, iqn, v, o, fs, who)
	pcmkLUAccess(p, impl, pt, lun, v, fs, who)
	for _, x := range p.params {
		if !pcmkLUKeys[x.name] {
			fs.warn(x.line, "%s: parameter %s=%q not carried", who, x.name, x.value)
		}
	}
	if x, ok := p.param("additional_parameters"); ok && x.value != "" {
		for _, kv := range strings.Fields(x.value) {
			k, _, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "scsi_id", "scsi_sn", "scsiid", "scsisn", "vendor_id", "product_id", "product_rev", "readonly", "removable", "iomode", "type":
				fs.review(x.line, "%s: additional parameter %s may have changed the identity or the access the agent set up; it is not carried — check the volume", who, kv)
			default:
				fs.warn(x.line, "%s: additional parameter %s not carried", who, kv)
			}
		}
	}
	for _, k := range []string{"emulate_tpu", "emulate_3pc", "emulate_caw", "tgt_bsoflags", "tgt_bsopts", "tgt_device_type"} {
		if x, ok := p.param(k); ok {
			fs.warn(x.line, "%s: %s=%s not carried", who, k, x.value)
		}
	}
	if x, ok := p.param("tgt_bstype"); ok && x.value != "rbd" {
		fs.info(x.line, "%s: tgt_bstype=%s is how tgt did I/O; halun uses its own", who, x.value)
	}
	for _, k := range []string{"lio_iblock", "backstore_name"} {
		if x, ok := p.param(k); ok {
			fs.info(x.line, "%s: %s=%s named the LIO storage object; it does not reach initiators", who, k, x.value)
		}
	}
	byPath[path] = v
	m.volumes = append(m.volumes, v)
	pt.t.luns = append(pt.t.luns, lunMap{lun: lun, volume: v.name})
}

// pcmkCache carries the LU's write cache mode.
func pcmkCache(p *pcmkPrimitive, impl string, v *volume, fs *findings, who string) {
	wc := p.value("write_cache") == "1"
	switch impl {
	case implLIOT:
		if wc && p.value("liot_bstype") == "fileio" {
			v.writeCache = true
			fs.info(p.lineOf("write_cache"), "%s: write_cache=1 (fileio write_back) carried as write_cache: true", who)
		} else if wc {
			fs.info(p.lineOf("write_cache"), "%s: write_cache=1 is ignored by the agent except for liot_bstype=fileio", who)
		}
	case implSCST:
		if wc {
			v.writeCache = true
			fs.info(p.lineOf("write_cache"), "%s: write_cache=1 (SCST write_through=0) carried as write_cache: true", who)
		}
	case implTGT:
		fs.warn(p.line, "%s: tgt reported a volatile write cache by default (WCE); halun writes through unless write_cache is set — data is safer, writes may be slower", who)
	default:
		if _, ok := p.param("write_cache"); ok {
			fs.info(p.lineOf("write_cache"), "%s: write_cache is ignored by the agent under %s", who, impl)
		}
	}
}

// pcmkIdentity computes the identity the agent gave the LU under impl.
func pcmkIdentity(p *pcmkPrimitive, impl string, pt *pcmkTarget, lun int, iqn string, v *volume, o Options, fs *findings, who string) {
	sn, snSet := p.param("scsi_sn")
	serial := sn.value
	snFrom := "scsi_sn"
	if !snSet {
		serial = pcmkDefaultSN(p.id)
		snFrom = fmt.Sprintf("the agent's default scsi_sn, md5(%q)[:8]", p.id)
	}
	idP, idSet := p.param("scsi_id")
	scsiID := idP.value
	if !idSet {
		scsiID = pcmkDefaultID(p.id)
	}
	vendor, product := p.value("vendor_id"), p.value("product_id")
	v.notes = append(v.notes, fmt.Sprintf("from primitive %s (ocf:heartbeat:iSCSILogicalUnit, implementation %s), line %d", p.id, impl, p.line))
	if serial == "" {
		fs.review(p.lineOf("scsi_sn"), "%s: scsi_sn is set empty, so the agent gave the target no serial and %s generated its own; copy it from the old target into serial (and check the identity), or the disk's identity changes", who, impl)
		return
	}
	if err := checkSerial(serial); err != nil {
		fs.review(p.lineOf("scsi_sn"), "%s: scsi_sn %v; not carried, so the disk's identity changes", who, err)
		return
	}
	s := identity.Spec{Serial: serial}
	what := ""
	switch impl {
	case implIET:
		s.Style = identity.StyleIET
		if scsiID == "" {
			s.Target, s.LUN = iqn, uint64(lun)
			fs.info(p.lineOf("scsi_id"), "%s: scsi_id is set empty, so IET 1.4.20 derived its ScsiId from the target name and LUN, as the output does; IET 1.4.19 and older used the file's inode — if the old host runs one of those, set identity.device_id_hex from VPD 0x83 there", who)
		}
		s.DeviceID = scsiID
		what = fmt.Sprintf("ietadm --params ScsiId=%s,ScsiSN=%s", scsiID, serial)
		for _, k := range []string{"vendor_id", "product_id"} {
			if x, ok := p.param(k); ok {
				fs.info(x.line, "%s: %s is ignored by the agent under iet (IET always says IET / VIRTUAL-DISK), and so here", who, k)
			}
		}
	case implTGT:
		s.Style = identity.StyleTGT
		s.DeviceID, s.Vendor, s.Product = scsiID, vendor, product
		s.TID, s.LUN = pt.tid, uint64(lun)
		if pt.tid == 0 {
			fs.review(p.line, "%s: target %s has no tid parameter, which tgt's NAA designators contain; set identity.tid to the target id (tgtadm --op show --mode target)", who, iqn)
		}
		if lun == 0 {
			fs.warn(p.lineOf("lun"), "%s: lun 0 under tgt: the agent refuses it (tgt keeps LUN 0 for its controller)", who)
		}
		what = "tgtadm --params scsi_id=" + scsiID + ",scsi_sn=" + serial
		if vendor != "" {
			what += ",vendor_id=" + vendor
		}
		if product != "" {
			what += ",product_id=" + product
		}
	case implLIO, implLIOT:
		s.Style = identity.StyleLIO
		bstype := "block"
		if impl == implLIOT {
			bstype = cmpOr(p.value("liot_bstype"), "block")
		}
		switch bstype {
		case "block":
		case "fileio":
			s.Product = "FILEIO"
		case "pscsi":
			fs.review(p.lineOf("liot_bstype"), "%s: liot_bstype=pscsi passed the device's own identity through; read it from the device (sg_inq -p 0x83) — the output uses halun's identity", who)
			return
		default:
			fs.review(p.lineOf("liot_bstype"), "%s: liot_bstype %q is not block, fileio or pscsi; the agent created no storage object", who, bstype)
			return
		}
		what = "vpd_unit_serial " + serial
		if impl == implLIOT && product != "" {
			if len(product) > 16 || strings.IndexFunc(product, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
				fs.warn(p.lineOf("product_id"), "%s: product_id %q: LIO's wwn/product_id takes 1..16 printable characters, so the write failed and the product stayed %s", who, product, cmpOr(s.Product, identity.LIOProduct))
			} else {
				s.Product = product
				what += ", wwn/product_id " + product
				fs.info(p.lineOf("product_id"), "%s: product_id %s carried: the agent writes it to wwn/product_id since 2021 (kernel 5.2 or later); with an older agent or kernel the product stayed %s — check INQUIRY on the old target", who, product, map[bool]string{true: "FILEIO", false: "IBLOCK"}[bstype == "fileio"])
			}
		} else if product != "" {
			fs.info(p.lineOf("product_id"), "%s: product_id is ignored by the agent under lio, and so here", who)
		}
		if x, ok := p.param("vendor_id"); ok {
			fs.info(x.line, "%s: vendor_id is ignored by the agent under %s (the vendor stays LIO-ORG), and so here", who, impl)
		}
		if x, ok := p.param("scsi_id"); ok {
			fs.info(x.line, "%s: scsi_id is ignored by the agent under %s (LIO derives every designator from the serial), and so here", who, impl)
		}
		if impl == implLIO {
			fs.info(p.line, "%s: lio-utils ran on kernels before 5.0, whose T10 vendor ID designator ended \"LIO-ORG\" with a NUL; the NAA designator, by which initiators name the disk, is identical", who)
		}
	case implSCST:
		s.Style = identity.StyleSCST
		s.Vendor = vendor
		if vendor == "" && p.value("scst_bstype") == "vdisk_fileio" {
			s.Vendor = identity.SCSTVendorFileIO
		}
		s.Product = pcmkDefaultID(p.id)
		// The agent opens the device under the resource id, so SCST
		// generated t10_dev_id and vend_specific_id from that name
		// (setup_id 0 unless the site set one); a product_id becomes
		// t10_dev_id afterwards, which vend_specific_id does not follow.
		gen := scstDefaultT10DevID(p.id, 0)
		s.DeviceID = gen
		what = "usn=" + serial
		if product != "" {
			what += ", t10_dev_id=" + product
			s.DeviceID, s.VendorSpecificID = product, gen
		}
		fs.info(p.line, "%s: SCST generated t10_dev_id %s from the device name (with setup_id 0; if the site set setup_id, compare /sys/kernel/scst_tgt/devices/%s/vend_specific_id on the old host)", who, gen, p.id)
		if o.SCSTVersion != "" {
			s.Revision, _ = SCSTRevision(o.SCSTVersion)
		} else {
			fs.review(p.line, "%s: SCST's revision (prod_rev_lvl) depends on the SCST release: rerun with --scst-version, or copy /sys/kernel/scst_tgt/devices/%s/prod_rev_lvl from the old host into identity.revision", who, p.id)
		}
		if x, ok := p.param("scst_bstype"); ok && x.value != "vdisk_blockio" && x.value != "vdisk_fileio" {
			fs.review(x.line, "%s: scst_bstype %q: the vendor of other handlers is not known here; set identity.vendor from /sys/kernel/scst_tgt/devices/%s/t10_vend_id", who, x.value, p.id)
		}
		if x, ok := p.param("scsi_id"); ok {
			fs.info(x.line, "%s: scsi_id is ignored by the agent under scst, and so here", who)
		}
	}
	v.serial = serial
	v.ident = s
	id, err := identity.Resolve(s)
	if err != nil {
		if impl != implSCST && !(impl == implTGT && pt.tid == 0) {
			fs.review(p.line, "%s: the identity the agent set (%s) cannot be reproduced: %v", who, what, strings.TrimPrefix(err.Error(), "identity: "))
		}
		v.notes = append(v.notes, fmt.Sprintf("identity: style %s with serial %s from %s; REVIEW: incomplete (see the report).", s.Style, serial, snFrom))
		return
	}
	fs.info(p.line, "%s: SCSI identity carried as the agent set it under %s (%s; serial from %s): style %s, WWID %s", who, impl, what, snFrom, s.Style, id.WWID())
	v.notes = append(v.notes,
		fmt.Sprintf("identity: as the agent set it under %s (%s), serial from %s;", impl, what, snFrom),
		"VPD 0x80 and 0x83 identical. WWID "+id.WWID()+".")
}

// pcmkLUAccess carries the LU's own allowed_initiators (LIO only): the
// agent maps the LU to each of those initiators.
func pcmkLUAccess(p *pcmkPrimitive, impl string, pt *pcmkTarget, lun int, v *volume, fs *findings, who string) {
	x, ok := p.param("allowed_initiators")
	if !ok || x.value == "" {
		return
	}
	if impl != implLIO && impl != implLIOT {
		fs.info(x.line, "%s: allowed_initiators is ignored by the agent under %s, and so here", who, impl)
		return
	}
	if pt.t.all {
		fs.review(x.line, "%s: allowed_initiators %q: LIO limited these initiators to the LUNs mapped to them, but the target lets every initiator in and halun cannot combine the two; they now see every LUN of the target", who, x.value)
		return
	}
	for _, a := range strings.Fields(x.value) {
		n, err := config.NormalizeName(a)
		if err != nil {
			fs.review(x.line, "%s: allowed_initiators entry %q is not an iSCSI name; not carried", who, a)
			continue
		}
		i := slices.IndexFunc(pt.t.initiators, func(in initiatorACL) bool { return in.iqn == n })
		if i >= 0 && !pt.t.initiators[i].own {
			continue // the target's ACL already maps every LUN to it
		}
		if i < 0 {
			pt.t.initiators = append(pt.t.initiators, initiatorACL{iqn: n, own: true, at: x.line})
			i = len(pt.t.initiators) - 1
		}
		pt.t.initiators[i].luns = append(pt.t.initiators[i].luns, lunMap{lun: lun, volume: v.name})
		fs.info(x.line, "%s: initiator %s, which only this resource allows, sees LUN %d only (its own LUN map)", who, n, lun)
	}
}
