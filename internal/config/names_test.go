package config

import (
	"strings"
	"testing"
)

// TestNormalizeName checks RFC 3720 §3.2.6 name syntax.
func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"iqn.2003-01.org.example:storage.disk1", "iqn.2003-01.org.example:storage.disk1", ""},
		{"iqn.2001-04.com.example", "iqn.2001-04.com.example", ""},
		{"iqn.1994-05.com.redhat:5c3b7f3e8a1", "iqn.1994-05.com.redhat:5c3b7f3e8a1", ""},
		{"iqn.1991-05.com.microsoft:host.domain", "iqn.1991-05.com.microsoft:host.domain", ""},
		{"IQN.2003-01.Org.Example:Disk-1", "iqn.2003-01.org.example:disk-1", ""},
		{"iqn.2003-01.org.example:a:b:c", "iqn.2003-01.org.example:a:b:c", ""},
		{"eui.02004567A425678D", "eui.02004567a425678d", ""},
		{"naa.52004567BA64678D", "naa.52004567ba64678d", ""},
		{"naa.62004567BA64678D0123456789ABCDEF", "naa.62004567ba64678d0123456789abcdef", ""},
		{"", "", "empty"},
		{"iqn." + strings.Repeat("a", 220), "", "longer than 223"},
		{"iqn.2003-01.org.exämple", "", "non-ASCII"},
		{"iqn.2003-01.org.example:disk 1", "", "character ' '"},
		{"iqn.2003-01.org.example:disk_1", "", "character '_'"},
		{"iqn.2003-1.org.example", "", "without a valid date"},
		{"iqn.03-01.org.example", "", "without a valid date"},
		{"iqn.2003-00.org.example", "", "month 00"},
		{"iqn.2003-01", "", "without a valid date"},
		{"iqn.2003-01.", "", "without a naming authority"},
		{"iqn.2003-01.org..example", "", "empty label"},
		{"iqn.2003-01.org.example:", "", "nothing after it"},
		{"eui.02004567A425678", "", "16 hex digits"},
		{"eui.02004567A425678G", "", "16 hex digits"},
		{"naa.1234", "", "16 or 32 hex digits"},
		{"wwn.0123", "", "must start with iqn., eui. or naa."},
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NormalizeName(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
