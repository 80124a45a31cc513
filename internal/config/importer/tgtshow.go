package importer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The output of `tgtadm --lld iscsi --op show --mode target` (tgt 1.0.85,
// usr/target.c tgt_target_show_all): per target a "Target TID: IQN" line,
// then indented sections — "System information:" (Driver, State, Nop
// interval/count), "I_T nexus information:" (live sessions), "LUN
// information:" with a "LUN: N" block per logical unit (Type, SCSI ID,
// SCSI SN, Size, Online, Removable media, Prevent removal, Readonly, SWP,
// Thin-provisioning, Backing store type/path/flags), "Account
// information:" (user names, "(outgoing)" for the mutual one; never the
// secrets) and "ACL information:" (addresses, ALL, then initiator names).
//
// It has what tgt really served: the tids and LUN numbers and the
// effective scsi_id and scsi_sn, so the import reproduces the identity
// exactly. It lacks the vendor, product and revision (not shown: tgt's
// defaults are assumed), the write-cache mode page, CHAP secrets, the
// iSCSI keys (`--op show --mode target --tid N` lists them) and the
// discovery accounts (`--op show --mode sys`).

var (
	showTarget = regexp.MustCompile(`^Target (\d+): (.*)$`)
	showSize   = regexp.MustCompile(`^(\d+ MB), Block size: (\d+)$`)
)

// convertTGTShow converts tgtadm's show output.
func convertTGTShow(name string, data []byte, o Options, fs *findings) (*model, error) {
	el := &errList{file: name}
	var tts []*tgtTarget
	var cur *tgtTarget
	var lu *tgtLU
	section := ""
	seenTID := map[uint32]int{}
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		raw = strings.TrimSuffix(raw, "\r")
		text := strings.TrimRight(raw, " \t")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if m := showTarget.FindStringSubmatch(text); m != nil {
			tid, err := strconv.ParseUint(m[1], 10, 31)
			if err != nil || tid == 0 {
				el.add(line, "Target %s: not a target id 1..%d", m[1], 1<<31-1)
				cur = nil
				continue
			}
			if prev, dup := seenTID[uint32(tid)]; dup {
				el.add(line, "Target %d listed twice (first at line %d)", tid, prev)
				cur = nil
				continue
			}
			seenTID[uint32(tid)] = line
			cur = &tgtTarget{iqn: strings.TrimSpace(m[2]), tid: uint32(tid), line: line}
			tts = append(tts, cur)
			section, lu = "", nil
			continue
		}
		if raw[0] != ' ' && raw[0] != '\t' {
			el.add(line, "%q: want \"Target N: IQN\" or an indented line of `tgtadm --op show --mode target`", text)
			continue
		}
		if cur == nil {
			el.add(line, "%q before the first \"Target N: IQN\" line", strings.TrimSpace(text))
			continue
		}
		t := strings.TrimSpace(text)
		switch t {
		case "System information:", "I_T nexus information:", "LUN information:", "Account information:", "ACL information:":
			section, lu = t, nil
			continue
		}
		who := fmt.Sprintf("target %s (tid %d)", cur.iqn, cur.tid)
		switch section {
		case "System information:":
			k, v, ok := strings.Cut(t, ": ")
			if !ok {
				k, v = strings.TrimSuffix(t, ":"), ""
			}
			switch k {
			case "Driver":
				if v != "iscsi" {
					fs.review(line, "%s: driver %s: halun serves iSCSI over TCP only; imported as an iSCSI target", who, v)
				}
			case "State":
				if v != "ready" {
					fs.warn(line, "%s: state %s under tgt; halun serves the target", who, v)
				}
			case "Nop interval", "Nop count":
				fs.info(line, "%s: %s %s not carried; halun's NOP-In settings are node-wide", who, k, v)
			default:
				fs.warn(line, "%s: system information %q not understood; not carried", who, t)
			}
		case "I_T nexus information:":
			if strings.HasPrefix(t, "Initiator: ") {
				ini, _, _ := strings.Cut(strings.TrimPrefix(t, "Initiator: "), " alias:")
				cur.notes = append(cur.notes, "connected under tgt when the show output was taken: "+ini)
			}
		case "LUN information:":
			// The SCSI ID and SN are shown as stored, trailing spaces
			// included (they are part of the identity).
			k, v, ok := strings.Cut(strings.TrimLeft(raw, " \t"), ":")
			if !ok {
				el.add(line, "%q: want \"Key: value\" in a LUN block", t)
				continue
			}
			v = strings.TrimPrefix(v, " ")
			if k != "SCSI ID" && k != "SCSI SN" {
				v = strings.TrimRight(v, " \t")
			}
			if k == "LUN" {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					el.add(line, "LUN %q is not a number", v)
					lu = nil
					continue
				}
				for _, prev := range cur.luns {
					if uint64(prev.lun) == n {
						el.add(line, "%s: LUN %d listed twice (first at line %d)", who, n, prev.line)
					}
				}
				lu = &tgtLU{tid: cur.tid, lun: int(min(n, 1<<30)), line: line}
				if n > 16383 {
					fs.review(line, "%s LUN %d: halun's LUNs are 0..16383; not imported", who, n)
					lu = nil
					continue
				}
				cur.luns = append(cur.luns, lu)
				continue
			}
			if lu == nil {
				if len(cur.luns) == 0 {
					el.add(line, "%q before the first \"LUN: N\" line", t)
				}
				continue
			}
			showLUKey(lu, k, v, line, el, fs, who)
		case "Account information:":
			u, out := strings.CutSuffix(t, " (outgoing)")
			it := tgtItem{key: u, line: line}
			if out {
				cur.outgoing = append(cur.outgoing, it)
			} else {
				cur.incoming = append(cur.incoming, it)
			}
		case "ACL information:":
			if isIQNLike(t) {
				cur.names = append(cur.names, tgtItem{value: t, line: line})
			} else {
				cur.addrs = append(cur.addrs, tgtItem{value: t, line: line})
			}
		default:
			el.add(line, "%q outside a section of target %s", t, cur.iqn)
		}
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	if len(tts) == 0 {
		return nil, Errors{&SyntaxError{File: name, Msg: "no \"Target N: IQN\" line: not the output of `tgtadm --op show --mode target`"}}
	}
	// Drop the controllers (LUN 0, type controller): reported once.
	for _, t := range tts {
		var luns []*tgtLU
		for _, l := range t.luns {
			if l.deviceType == "controller" {
				continue
			}
			luns = append(luns, l)
		}
		t.luns = luns
	}
	m := &model{header: []string{
		"Imported from `tgtadm --op show --mode target`: tids, LUNs, scsi_id and scsi_sn as tgtd served them.",
		"tgtd listened where its --iscsi portal= option said (default every address, port 3260);",
		"the portal group below assumes that default.",
	}}
	fs.info(0, "tgtd's portal is not in the show output (tgtd --iscsi portal=ADDR:PORT); the output listens on :3260 — adjust portal_groups if tgtd ran with another portal")
	fs.warn(0, "the show output does not list vendor_id, product_id and product_rev: tgt's defaults (IET, VIRTUAL-DISK, 0001) are assumed, so a `--params vendor_id=…,product_id=…,product_rev=…` set at runtime or from targets.conf is not visible here — if one was, set identity.vendor/product/revision (or import targets.conf), or standard INQUIRY changes")
	fs.info(0, "the show output does not list the write-cache mode page: write_cache: true (tgt's default, WCE on) is assumed; a `write-cache off` LUN needs write_cache: false")
	fs.info(0, "the show output has no iSCSI keys (`tgtadm --op show --mode target --tid N` lists them) and no discovery accounts (`--op show --mode sys`); set them in the output if tgt had any")
	buildTGT(m, tts, o, fs, true)
	return m, nil
}

// showLUKey applies one "Key: value" line of a LUN block.
func showLUKey(lu *tgtLU, k, v string, line int, el *errList, fs *findings, who string) {
	who = who + " LUN " + strconv.Itoa(lu.lun)
	yes := func() bool {
		switch v {
		case "Yes":
			return true
		case "No":
			return false
		}
		el.add(line, "%s: %s %q is not Yes or No", who, k, v)
		return false
	}
	switch k {
	case "Type":
		lu.deviceType = v
		if v == "controller" && lu.lun != 0 {
			fs.warn(line, "%s: a controller LUN; not imported", who)
		}
	case "SCSI ID":
		lu.scsiID, lu.scsiIDLine = v, line
	case "SCSI SN":
		lu.serial, lu.serialLine = v, line
		if v == "" {
			// An empty scsi_sn: tgt sent 36 spaces in VPD 0x80.
			lu.serial = " "
		}
	case "Size":
		m := showSize.FindStringSubmatch(v)
		if m == nil {
			el.add(line, "%s: Size %q: want \"N MB, Block size: N\"", who, v)
			return
		}
		lu.sizeHint = m[1]
		bs, _ := strconv.Atoi(m[2])
		lu.blockSize, lu.blockSizeLine = bs, line
	case "Online":
		if !yes() {
			fs.warn(line, "%s: offline under tgt (NOT READY); halun serves it online", who)
		}
	case "Removable media":
		lu.removable = yes()
	case "Prevent removal":
		if yes() {
			fs.info(line, "%s: medium removal was prevented by an initiator at the time (runtime state, not carried)", who)
		}
	case "Readonly":
		lu.readOnly = yes() || lu.readOnly
	case "SWP":
		if yes() {
			lu.readOnly = true
			fs.warn(line, "%s: SWP (software write protect) carried as read_only: true", who)
		}
	case "Thin-provisioning":
		th := yes()
		lu.thin = &th
	case "Backing store type":
		lu.bsType = v
	case "Backing store path":
		if v != "None" {
			lu.path = v
		}
	case "Backing store flags":
		lu.bsFlags = v
	default:
		fs.warn(line, "%s: %s: %s not understood; not carried", who, k, v)
	}
}
