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
	tgtBlock  = regexp.MustCompile(`(?m)^[ \t]*<target[ \t]+[^>]*>`)
	tgtShow   = regexp.MustCompile(`(?m)^Target \d+: `)
)

// Detect tells the format of a config from its content: a JSON object is
// targetcli's saveconfig.json, HANDLER/TARGET_DRIVER blocks are scst.conf,
// "Target N: IQN" lines are tgtadm's show output, <target IQN> blocks are
// tgt's targets.conf, Target stanzas and Lun lines are ietd.conf.
func Detect(data []byte) (Format, error) {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	switch {
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
	return "", errors.New("cannot tell the format (not a saveconfig.json, scst.conf, ietd.conf, targets.conf or tgtadm show output); say it with --format")
}
