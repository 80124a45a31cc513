package importer

import (
	"bytes"
	"errors"
	"regexp"
)

var (
	scstBlock = regexp.MustCompile(`(?m)^[ \t]*(HANDLER|TARGET_DRIVER|DEVICE_GROUP)[ \t]+\S+[ \t]*\{`)
	ietStanza = regexp.MustCompile(`(?mi)^[ \t]*Target[ \t]+\S+[ \t]*\r?$`)
	ietLun    = regexp.MustCompile(`(?mi)^[ \t]*Lun[ \t]+\d+[ \t]+\S`)
	crmISCSI  = regexp.MustCompile(`(?m)^primitive[ \t]+\S+[ \t]+ocf:heartbeat:iSCSI(LogicalUnit|Target)\b`)
	cibISCSI  = regexp.MustCompile(`<primitive\b[^>]*\btype="iSCSI(LogicalUnit|Target)"`)
	tgtBlock  = regexp.MustCompile(`(?m)^[ \t]*<target[ \t]+[^>]*>`)
	tgtShow   = regexp.MustCompile(`(?m)^Target \d+: `)
)

// Detect tells the format of a config from its content: a JSON object is
// targetcli's saveconfig.json, HANDLER/TARGET_DRIVER blocks are scst.conf,
// "Target N: IQN" lines are tgtadm's show output, <target IQN> blocks are
// tgt's targets.conf, Target stanzas and Lun lines are ietd.conf,
// and a Pacemaker configuration
// with iSCSI resources — `crm configure show` (a primitive line of
// ocf:heartbeat:iSCSI…) or the CIB XML (<cib, or a <primitive of type
// iSCSILogicalUnit or iSCSITarget) — is pacemaker.
func Detect(data []byte) (Format, error) {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(t, []byte("<")) && (bytes.Contains(data, []byte("<cib")) || cibISCSI.Match(data)):
		return FormatPacemaker, nil
	case crmISCSI.Match(data):
		return FormatPacemaker, nil
	case bytes.HasPrefix(t, []byte("{")):
		return FormatTargetcli, nil
	case scstBlock.Match(data):
		return FormatSCST, nil
	case tgtShow.Match(data):
		return FormatTGTAdm, nil
	case tgtBlock.Match(data):
		return FormatTGT, nil
	case ietStanza.Match(data) || ietLun.Match(data):
		return FormatIETD, nil
	}
	return "", errors.New("cannot tell the format (not a saveconfig.json, scst.conf, ietd.conf, targets.conf, tgtadm show output or Pacemaker configuration); say it with --format")
}
