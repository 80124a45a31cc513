package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/halun/halun/internal/config"
)

// Format is a source config format.
type Format string

const (
	FormatIETD      Format = "ietd"      // IET's ietd.conf
	FormatSCST      Format = "scst"      // scstadmin's scst.conf
	FormatTargetcli Format = "targetcli" // LIO targetcli's saveconfig.json
	FormatTGT       Format = "tgt"       // tgt's targets.conf (tgt-admin)
	FormatTGTAdm    Format = "tgtadm"    // tgtadm --op show --mode target
	FormatPacemaker Format = "pacemaker" // crm configure show or the CIB XML
)

// Formats lists the accepted formats.
var Formats = []Format{FormatIETD, FormatSCST, FormatTargetcli, FormatTGT, FormatTGTAdm, FormatPacemaker}

func (f Format) long() string {
	switch f {
	case FormatIETD:
		return "iSCSI Enterprise Target ietd.conf"
	case FormatSCST:
		return "SCST scst.conf"
	case FormatTargetcli:
		return "LIO targetcli saveconfig.json"
	case FormatPacemaker:
		return "Pacemaker iSCSITarget/iSCSILogicalUnit resources"
	case FormatTGT:
		return "tgt targets.conf"
	case FormatTGTAdm:
		return "tgtadm --op show --mode target output"
	}
	return string(f)
}

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	switch strings.ToLower(s) {
	case "iet", "ietd.conf":
		return FormatIETD, nil
	case "scst.conf", "scstadmin":
		return FormatSCST, nil
	case "lio", "saveconfig", "saveconfig.json", "json":
		return FormatTargetcli, nil
	case "targets.conf", "tgt-admin", "stgt":
		return FormatTGT, nil
	case "tgtadm-show", "tgt-show", "show":
		return FormatTGTAdm, nil
	case "crm", "crmsh", "cib", "cib.xml", "pcs", "pcmk":
		return FormatPacemaker, nil
	}
	return "", fmt.Errorf("unknown format %q: use ietd, scst, targetcli, tgt, tgtadm or pacemaker", s)
}

// Options tune a conversion.
type Options struct {
	// Format of the input; empty detects it from the content.
	Format Format
	// DataDir becomes node.data_dir; default config.DefaultDataDir.
	DataDir string
	// Stat reports on files the source config names, for the size of file
	// volumes the source does not record and to tell block devices from
	// files. Nil uses os.Stat; tests pass a fake.
	Stat func(path string) (fs.FileInfo, error)
	// ACL files of IET, when given: initiators.allow and initiators.deny.
	// Their names are used in findings.
	IETAllow, IETDeny         []byte
	IETAllowName, IETDenyName string
	// SCSTVersion is the SCST release the scst.conf came from (e.g.
	// "3.6"): it tells the INQUIRY revision SCST reported for devices
	// whose prod_rev_lvl scst.conf leaves at the default.
	SCSTVersion string
}

// Result is a converted config.
type Result struct {
	Format Format
	// YAML is the halun config. It passes config.Parse unless a finding
	// of level Review says what must be edited first (e.g. an unknown
	// volume size).
	YAML []byte
	// Findings is the import report: everything not carried, changed or
	// to be reviewed, in source order.
	Findings []Finding
	// ParseErr is config.Parse's verdict on YAML, nil when it is valid.
	ParseErr error
}

// SyntaxError is input that cannot be read as its format at all.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Convert converts data, the content of the file called name, to a halun
// config. An error means the input is unreadable as its format; anything
// halun cannot carry is a Finding in the Result instead.
func Convert(name string, data []byte, o Options) (res *Result, err error) {
	defer func() {
		// Bad input gets an answer, never a crash.
		if r := recover(); r != nil {
			res, err = nil, &SyntaxError{File: name, Msg: fmt.Sprintf("cannot import (internal error: %v)", r)}
		}
	}()
	f := o.Format
	if f == "" {
		if f, err = Detect(data); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if o.DataDir == "" {
		o.DataDir = config.DefaultDataDir
	}
	if o.SCSTVersion != "" {
		if _, err := SCSTRevision(o.SCSTVersion); err != nil {
			return nil, err
		}
	}
	if o.Stat == nil {
		o.Stat = os.Stat
	}
	fs := &findings{file: name}
	var m *model
	switch f {
	case FormatIETD:
		m, err = convertIETD(name, data, o, fs)
	case FormatSCST:
		m, err = convertSCST(name, data, o, fs)
	case FormatTargetcli:
		m, err = convertTargetcli(name, data, o, fs)
	case FormatPacemaker:
		m, err = convertPacemaker(name, data, o, fs)
	case FormatTGT:
		m, err = convertTGTConf(name, data, o, fs)
	case FormatTGTAdm:
		m, err = convertTGTShow(name, data, o, fs)
	default:
		return nil, fmt.Errorf("%s: unknown format %q", name, f)
	}
	if err != nil {
		return nil, err
	}
	m.format, m.source, m.dataDir = f, name, o.DataDir
	if len(m.portalGroups) == 0 {
		m.portalGroups = []portalGroup{{tag: 1, portals: []string{":3260"}}}
	}
	checkCHAP(m, fs)
	out := render(m)
	res = &Result{Format: f, YAML: out}
	if _, perr := config.Parse(name+" (imported)", out); perr != nil {
		res.ParseErr = perr
		var es config.Errors
		if errors.As(perr, &es) {
			for _, e := range es {
				fs.review(0, "the output needs an edit before halun accepts it: %s", e)
			}
		} else {
			fs.review(0, "the output needs an edit before halun accepts it: %v", perr)
		}
	}
	sortFindings(fs.list)
	res.Findings = fs.list
	return res, nil
}

// checkCHAP reports CHAP credentials halun refuses: secrets outside
// 12..255 bytes and mutual CHAP with one secret both ways. The output
// keeps them, so that `halun config check` points at each.
func checkCHAP(m *model, fs *findings) {
	check := func(c *chap, line int, who string) {
		if c.empty() {
			return
		}
		for _, s := range []struct{ what, v string }{{"secret", c.secret}, {"target secret", c.targetSecret}} {
			if s.v != "" && (len(s.v) < config.MinCHAPSecret || len(s.v) > config.MaxCHAPSecret) {
				fs.review(line, "%s: the CHAP %s is %d bytes; halun requires %d..%d (RFC 7143 §12.1.3) — choose a new one and set it on the initiators too",
					who, s.what, len(s.v), config.MinCHAPSecret, config.MaxCHAPSecret)
			}
		}
		if c.secret == "" {
			fs.review(line, "%s: CHAP user %s has no secret", who, c.username)
		}
		if c.targetSecret != "" && c.targetSecret == c.secret {
			fs.review(line, "%s: mutual CHAP uses one secret both ways, which halun refuses; choose a different target secret", who)
		}
	}
	check(m.discovery, 0, "discovery")
	for _, t := range m.targets {
		check(t.chap, t.at, "target "+t.iqn)
		for _, in := range t.initiators {
			check(in.chap, in.at, "target "+t.iqn+" initiator "+in.iqn)
		}
	}
}
