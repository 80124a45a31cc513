package importer

import (
	"strconv"
	"strings"
)

// The RFC 7143 operational keys halun's config takes, with their ranges
// (as internal/config checks them).
const (
	minDataLength = 512
	maxDataLength = 1<<24 - 1
)

// fixedKeys are keys halun negotiates itself, with the value it uses; a
// source setting the same value loses nothing.
var fixedKeys = map[string]string{
	"maxconnections":      "1",
	"errorrecoverylevel":  "0",
	"datapduinorder":      "yes",
	"datasequenceinorder": "yes",
}

// paramSet collects a target's params in source order, keyed by the
// iSCSI name.
type paramSet struct {
	list []param
	seen map[string]int // key -> index in list
	// burst lengths as numbers, to check FirstBurstLength <= MaxBurstLength
	first, max         uint64
	firstLine, maxLine int
}

func (ps *paramSet) set(key, value string) {
	if ps.seen == nil {
		ps.seen = map[string]int{}
	}
	if i, ok := ps.seen[key]; ok {
		ps.list[i].value = value
		return
	}
	ps.seen[key] = len(ps.list)
	ps.list = append(ps.list, param{key: key, value: value})
}

// finish checks what spans keys and returns the params to emit.
func (ps *paramSet) finish(fs *findings, who string) []param {
	first, max := ps.first, ps.max
	if first == 0 {
		first = 65536 // halun's default
	}
	if max == 0 {
		max = 1048576
	}
	if first > max {
		fs.warn(ps.firstLine, "%s: FirstBurstLength %d exceeds MaxBurstLength %d; FirstBurstLength set to %d", who, first, max, max)
		ps.set("FirstBurstLength", strconv.FormatUint(max, 10))
	}
	return ps.list
}

// iscsiParam converts one source key/value (iSCSI spelling: Yes/No,
// numbers, digest lists) into ps. It reports keys halun cannot take and
// returns false for keys that are not RFC 7143 operational keys at all, so
// the caller can report them in its own words.
func iscsiParam(ps *paramSet, key, value string, line int, fs *findings, who string) bool {
	v := strings.TrimSpace(value)
	switch k := strings.ToLower(key); k {
	case "initialr2t", "immediatedata":
		b, ok := iscsiBool(v)
		if !ok {
			fs.warn(line, "%s: %s %q is not Yes or No; not carried", who, key, v)
			return true
		}
		name := "InitialR2T"
		if k == "immediatedata" {
			name = "ImmediateData"
		}
		ps.set(name, strconv.FormatBool(b))
	case "maxrecvdatasegmentlength", "maxburstlength", "firstburstlength", "maxoutstandingr2t":
		name := map[string]string{
			"maxrecvdatasegmentlength": "MaxRecvDataSegmentLength",
			"maxburstlength":           "MaxBurstLength",
			"firstburstlength":         "FirstBurstLength",
			"maxoutstandingr2t":        "MaxOutstandingR2T",
		}[k]
		lo, hi := uint64(minDataLength), uint64(maxDataLength)
		if k == "maxoutstandingr2t" {
			lo, hi = 1, 65535
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fs.warn(line, "%s: %s %q is not a number; not carried", who, key, v)
			return true
		}
		if n < lo || n > hi {
			c := min(max(n, lo), hi)
			fs.warn(line, "%s: %s %d is outside halun's range %d..%d; %d used", who, name, n, lo, hi, c)
			n = c
		}
		ps.set(name, strconv.FormatUint(n, 10))
		switch k {
		case "firstburstlength":
			ps.first, ps.firstLine = n, line
		case "maxburstlength":
			ps.max, ps.maxLine = n, line
		}
	case "headerdigest", "datadigest":
		name := "HeaderDigest"
		if k == "datadigest" {
			name = "DataDigest"
		}
		var out []string
		for _, w := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(w)) {
			case "none":
				out = appendOnce(out, "None")
			case "crc32c":
				out = appendOnce(out, "CRC32C")
			default:
				fs.warn(line, "%s: %s value %q is not CRC32C or None; ignored", who, key, w)
			}
		}
		if len(out) > 0 {
			ps.set(name, "["+strings.Join(out, ", ")+"]")
		}
	case "maxconnections", "errorrecoverylevel", "datapduinorder", "datasequenceinorder":
		if strings.EqualFold(v, fixedKeys[k]) {
			fs.info(line, "%s: %s %s is what halun negotiates", who, key, v)
		} else {
			fs.warn(line, "%s: %s %s not carried; halun negotiates %s", who, key, v, fixedKeys[k])
		}
	case "defaulttime2wait", "defaulttime2retain", "maxxmitdatasegmentlength", "ifmarker", "ofmarker",
		"ifmarkint", "ofmarkint", "authmethod", "targetalias", "initiatoralias", "targetname", "initiatorname",
		"targetaddress", "targetportalgrouptag", "sessiontype", "sendtargets", "rdmaextensions",
		"initiatorrecvdatasegmentlength", "targetrecvdatasegmentlength", "maxxmitdatasegmentlen":
		fs.info(line, "%s: %s %s not carried; halun does not configure it", who, key, v)
	default:
		return false
	}
	return true
}

func iscsiBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes", "1", "true":
		return true, true
	case "no", "0", "false":
		return false, true
	}
	return false, false
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
