package importer

import (
	"fmt"
	"strings"

	"github.com/halun/halun/internal/config"
)

// IET's /etc/initiators.allow and /etc/initiators.deny: lines of
// "TARGET|ALL INITIATOR[, INITIATOR...]" where an initiator is an IQN, an
// IP address or network, or ALL. As in tcpd, an initiator is let in if
// initiators.allow lists it for the target, else kept out if
// initiators.deny does, else let in.

type ietRule struct {
	target string // name or "ALL"
	items  []string
	line   int
	file   string
}

type ietACL struct {
	allow, deny []ietRule
	present     bool
}

func parseIETACLs(o Options, fs *findings) (*ietACL, error) {
	acl := &ietACL{}
	for _, f := range []struct {
		data []byte
		name string
		dst  *[]ietRule
	}{{o.IETAllow, cmpOr(o.IETAllowName, "initiators.allow"), &acl.allow}, {o.IETDeny, cmpOr(o.IETDenyName, "initiators.deny"), &acl.deny}} {
		if f.data == nil {
			continue
		}
		acl.present = true
		el := &errList{file: f.name}
		for _, ll := range splitLines(f.data) {
			if strings.HasPrefix(ll.text, "#") {
				continue
			}
			tgt, rest, _ := strings.Cut(ll.text, " ")
			if t2, r2, ok := strings.Cut(ll.text, "\t"); ok && len(t2) < len(tgt) {
				tgt, rest = t2, r2
			}
			var items []string
			for _, it := range strings.Split(rest, ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			if len(items) == 0 {
				el.add(ll.line, "%q names no initiator; want TARGET INITIATOR[, INITIATOR...]", ll.text)
				continue
			}
			*f.dst = append(*f.dst, ietRule{target: tgt, items: items, line: ll.line, file: f.name})
		}
		if err := el.err(); err != nil {
			return nil, err
		}
	}
	if !acl.present {
		fs.info(0, "no initiators.allow/initiators.deny given (--iet-allow, --iet-deny); if the IET host had them, import them too, or access is opened to every initiator")
	}
	return acl, nil
}

// matching returns the items of rules that apply to target name.
func matching(rules []ietRule, name string) (items []string, lines []ietRule) {
	for _, r := range rules {
		if strings.EqualFold(r.target, "ALL") || strings.EqualFold(r.target, name) {
			items = append(items, r.items...)
			lines = append(lines, r)
		}
	}
	return items, lines
}

func isIQNLike(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "iqn.") || strings.HasPrefix(l, "eui.") || strings.HasPrefix(l, "naa.")
}

// apply sets t's access from the rules for target name.
func (acl *ietACL) apply(t *target, name string, fs *findings) {
	allow, allowRules := matching(acl.allow, name)
	deny, denyRules := matching(acl.deny, name)
	ruleLine := func(rules []ietRule) (string, int) {
		if len(rules) == 0 {
			return "", 0
		}
		return rules[0].file, rules[0].line
	}
	at := func(rules []ietRule, l Level, format string, args ...any) {
		f, line := ruleLine(rules)
		if f == "" {
			fs.add(t.at, l, format, args...)
			return
		}
		fs.list = append(fs.list, Finding{File: f, Line: line, Level: l, Msg: fmt.Sprintf(format, args...)})
	}
	who := "target " + t.iqn
	has := func(items []string, s string) bool {
		for _, it := range items {
			if strings.EqualFold(it, s) {
				return true
			}
		}
		return false
	}
	if len(allow) == 0 && len(deny) == 0 || has(allow, "ALL") {
		t.all = true
		return
	}
	var iqns []string
	for _, it := range allow {
		if isIQNLike(it) {
			if n, err := config.NormalizeName(it); err == nil {
				iqns = appendOnce(iqns, n)
				continue
			}
			at(allowRules, Review, "%s: allowed initiator %q is not a valid iSCSI name; not carried", who, it)
			continue
		}
		at(allowRules, Review, "%s: allowed address %q: halun decides access by initiator name only; initiators from it lose access unless listed by name", who, it)
	}
	if len(deny) == 0 {
		t.all = true
		at(allowRules, Info, "%s: initiators.allow lists initiators but initiators.deny keeps nobody out; every initiator may log in, as under IET", who)
		return
	}
	if !has(deny, "ALL") {
		// Everyone but the denied ones: halun has no deny list.
		t.all = true
		at(denyRules, Review, "%s: initiators.deny keeps out %s; halun has no deny list, so they are let in (access: all) — list the allowed initiators instead", who, strings.Join(deny, ", "))
		return
	}
	for _, n := range iqns {
		t.initiators = append(t.initiators, initiatorACL{iqn: n, luns: t.luns, at: t.at})
	}
	if len(iqns) == 0 {
		at(allowRules, Review, "%s: no initiator is allowed by name; nobody could log in and the target is written commented out", who)
	}
	for _, it := range deny {
		if !strings.EqualFold(it, "ALL") {
			at(denyRules, Info, "%s: deny entry %q is implied: only the allowed initiators get in", who, it)
		}
	}
}
