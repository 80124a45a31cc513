package coord

import "fmt"

// checkNode reports whether s can be a node name: a DNS label, as pki
// requires (lower-case letters, digits and inner '-', at most 63
// characters).
func checkNode(s string) error {
	ok := s != "" && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%q is not a node name: 1..63 lower-case letters, digits or inner '-'", s)
	}
	return nil
}

// checkVolume reports whether s can be a volume name, with the rule of
// the configuration (internal/config): 1..64 letters, digits, '.', '_'
// or '-', not starting with '.' or '-'.
func checkVolume(s string) error {
	ok := s != "" && len(s) <= 64 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%q is not a volume name: 1..64 letters, digits, '.', '_' or '-', not starting with '.' or '-'", s)
	}
	return nil
}
