package config

import (
	"errors"
	"fmt"
	"strings"
)

// maxNameLen is RFC 3720 §3.2.6.1's limit on iSCSI names, in bytes.
const maxNameLen = 223

// NormalizeName checks an iSCSI name against RFC 3720 §3.2.6 (and RFC 3980
// for naa.) and returns it in normal form, lower case, as names are compared.
// Accepted forms:
//
//	iqn.YYYY-MM.reversed.domain[:anything]   e.g. iqn.2003-01.org.example:disk1
//	eui.<16 hex digits>                      e.g. eui.02004567a425678d
//	naa.<16 or 32 hex digits>                e.g. naa.52004567ba64678d
//
// Only ASCII names are accepted: halun does not implement stringprep for
// the rest of Unicode.
func NormalizeName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty iSCSI name")
	}
	if len(s) > maxNameLen {
		return "", fmt.Errorf("iSCSI name is %d bytes, longer than %d", len(s), maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", errors.New("iSCSI name has non-ASCII characters; only ASCII names are supported")
		}
	}
	n := strings.ToLower(s)
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
			return "", fmt.Errorf("iSCSI name has character %q; allowed are letters, digits, '-', '.' and ':' (RFC 3720 §3.2.6.2)", c)
		}
	}
	switch {
	case strings.HasPrefix(n, "iqn."):
		return n, checkIQN(n[4:])
	case strings.HasPrefix(n, "eui."):
		if h := n[4:]; len(h) != 16 || !isHex(h) {
			return "", errors.New("eui. name needs exactly 16 hex digits (an EUI-64), e.g. eui.02004567a425678d")
		}
		return n, nil
	case strings.HasPrefix(n, "naa."):
		if h := n[4:]; len(h) != 16 && len(h) != 32 || !isHex(h) {
			return "", errors.New("naa. name needs 16 or 32 hex digits (RFC 3980)")
		}
		return n, nil
	}
	return "", errors.New("iSCSI name must start with iqn., eui. or naa.")
}

// checkIQN checks what follows "iqn.": YYYY-MM.reversed.domain[:unique].
func checkIQN(s string) error {
	const form = "want iqn.YYYY-MM.reversed.domain[:unique], e.g. iqn.2003-01.org.example:disk1"
	if len(s) < 8 || s[4] != '-' || s[7] != '.' || !isDigits(s[:4]) || !isDigits(s[5:7]) {
		return fmt.Errorf("iqn. name without a valid date: %s", form)
	}
	if m := s[5:7]; m < "01" || m > "12" {
		return fmt.Errorf("iqn. name has month %s, not 01..12", m)
	}
	authority, unique, hasUnique := strings.Cut(s[8:], ":")
	if authority == "" {
		return fmt.Errorf("iqn. name without a naming authority: %s", form)
	}
	for _, label := range strings.Split(authority, ".") {
		if label == "" {
			return fmt.Errorf("iqn. name has an empty label in naming authority %q", authority)
		}
	}
	if hasUnique && unique == "" {
		return fmt.Errorf("iqn. name ends in ':' with nothing after it")
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}
