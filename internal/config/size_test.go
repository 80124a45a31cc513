package config

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"123456", 123456, ""},
		{"512B", 512, ""},
		{"20GiB", 20 << 30, ""},
		{"512 MiB", 512 << 20, ""},
		{"1TB", 1_000_000_000_000, ""},
		{"1tib", 1 << 40, ""},
		{"4KiB", 4096, ""},
		{"3kb", 3000, ""},
		{"8PiB", 8 << 50, ""},
		{"0", 0, ""},
		{"", 0, "is not a size"},
		{"GiB", 0, "is not a size"},
		{"-1", 0, "is not a size"},
		{"1.5GiB", 0, "unknown unit"},
		{"10K", 0, "ambiguous"},
		{"10g", 0, "ambiguous"},
		{"10 bytes", 0, "unknown unit"},
		{"9223372036854775808", 0, "too large"},
		{"8192PiB", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSize(%q) = %d, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, n := range []int64{0, 1, 512, 1000, 4096, 1 << 30, 20 << 30, 3 << 40, 123456} {
		s := FormatSize(n)
		back, err := ParseSize(s)
		if err != nil || back != n {
			t.Errorf("FormatSize(%d) = %q, parses back as %d, %v", n, s, back, err)
		}
	}
	if s := FormatSize(1 << 30); s != "1GiB" {
		t.Errorf("FormatSize(1GiB) = %q", s)
	}
}
