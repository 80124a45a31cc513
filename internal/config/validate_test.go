package config

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid config; the cases below edit it.
const base = `node: {name: san1, data_dir: /d}
portal_groups:
  - {tag: 1, portals: ["127.0.0.1:3260"]}
volumes:
  - {name: v1, backend: memory, size: 1MiB}
targets:
  - iqn: iqn.2003-01.org.example:t1
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`

// edit replaces the single occurrence of old in base.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if strings.Count(base, old) != 1 {
		t.Fatalf("base must contain %q exactly once", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse("halun.yaml", []byte(base)); err != nil {
		t.Fatal(err)
	}
}

// TestInvalid checks that every rule refuses the config with an error naming
// file:line and the field.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // "line: field: message fragment"
	}{
		// YAML itself.
		{"syntax: unclosed flow mapping", "access: {all: true}", "access: {all: true", "9: YAML syntax: did not find expected ',' or '}'"},
		{"syntax: bad indentation", "    luns: [{lun: 0, volume: v1}]", "     luns: [{lun: 0, volume: v1}]", "8: YAML syntax: mapping values are not allowed"},
		{"syntax: tab", "    access: {all: true}", "\taccess: {all: true}", "9: YAML syntax: found character that cannot start any token"},
		{"syntax: unknown anchor", "volume: v1}]", "volume: *nope}]", "8: YAML syntax: unknown anchor 'nope' referenced"},
		{"duplicate key", "{name: san1,", "{name: san1, name: san2,", "1: node.name: duplicate key (first at line 1)"},
		{"merge key", "  - {name: v1, backend: memory, size: 1MiB}", "  - &v {name: v1, backend: memory, size: 1MiB}\n  - {<<: *v, name: v2}", "6: volumes[1]: merge keys (<<) are not supported"},
		{"second document", "    access: {all: true}\n", "    access: {all: true}\n---\nnode: {}\n", "10: a second YAML document"},
		{"root not a mapping", base, "- a\n- b\n", "1: want a mapping"},

		// Typo protection.
		{"unknown top-level field", "volumes:", "volume:", "4: volume: unknown field; did you mean volumes?"},
		{"unknown node field", "data_dir: /d", "dta_dir: /d", "1: node.dta_dir: unknown field; did you mean data_dir?"},
		{"sanitize_rate too low", "size: 1MiB}", "size: 1MiB, sanitize_rate: 64KiB}", "5: volumes[0].sanitize_rate: 64KiB: at least 1MiB (per second)"},
		{"sanitize_rate not a size", "size: 1MiB}", "size: 1MiB, sanitize_rate: fast}", "5: volumes[0].sanitize_rate:"},
		{"unknown volume field", "size: 1MiB}", "size: 1MiB, thni: true}", "5: volumes[0].thni: unknown field; did you mean thin?"},
		{"unknown lun field", "{lun: 0, volume: v1}", "{lun: 0, volume: v1, vol: v1}", "8: targets[0].luns[0].vol: unknown field; did you mean volume?"},
		{"unknown param", "access: {all: true}", "access: {all: true}\n    params: {MaxBurst: 4096}", "10: targets[0].params.MaxBurst: unknown field; did you mean MaxBurstLength?"},
		{"param case", "access: {all: true}", "access: {all: true}\n    params: {initialr2t: false}", "10: targets[0].params.initialr2t: unknown field; did you mean InitialR2T?"},
		{"wrong kind", "volumes:\n  - {name: v1, backend: memory, size: 1MiB}", "volumes: {name: v1}", "4: volumes: want a list, got a mapping"},

		// node.
		{"node name", "name: san1", "name: san/1", `1: node.name: "san/1" is not a valid name`},
		{"data_dir empty", "data_dir: /d", "data_dir: ''", `1: node.data_dir: "" is not a usable path`},

		// portal_groups.
		{"no portal groups", "portal_groups:\n  - {tag: 1, portals: [\"127.0.0.1:3260\"]}\n", "", "1: portal_groups: missing; required"},
		{"tag missing", "{tag: 1, portals:", "{portals:", "3: portal_groups[0].tag: missing; required"},
		{"tag 0", "tag: 1,", "tag: 0,", "3: portal_groups[0].tag: 0 is not in 1..65535"},
		{"tag too big", "tag: 1,", "tag: 65536,", "3: portal_groups[0].tag: 65536 is not in 1..65535"},
		{"tag not a number", "tag: 1,", "tag: one,", `3: portal_groups[0].tag: "one" is not a decimal whole number`},
		{"portals missing", `, portals: ["127.0.0.1:3260"]`, "", "3: portal_groups[0].portals: missing; required"},
		{"portals empty", `["127.0.0.1:3260"]`, "[]", "3: portal_groups[0].portals: empty"},
		{"portal without port", `"127.0.0.1:3260"`, `"127.0.0.1"`, `3: portal_groups[0].portals[0]: "127.0.0.1" is not host:port`},
		{"ipv6 without brackets", `"127.0.0.1:3260"`, `"::1:3260"`, `3: portal_groups[0].portals[0]: "::1:3260" is not host:port`},
		{"ipv4 in brackets", `"127.0.0.1:3260"`, `"[127.0.0.1]:3260"`, `3: portal_groups[0].portals[0]: "[127.0.0.1]:3260": IPv4 address in brackets`},
		{"port 0", `"127.0.0.1:3260"`, `"127.0.0.1:0"`, `3: portal_groups[0].portals[0]: "127.0.0.1:0": port "0" is not 1..65535`},
		{"bad host", `"127.0.0.1:3260"`, `"no_such host:3260"`, `3: portal_groups[0].portals[0]: "no_such host:3260": "no_such host" is neither`},
		{"bad ipv4", `"127.0.0.1:3260"`, `"127.0.0.256:3260"`, `3: portal_groups[0].portals[0]: "127.0.0.256:3260": "127.0.0.256" is neither`},
		{"duplicate tag", `  - {tag: 1, portals: ["127.0.0.1:3260"]}`, "  - {tag: 1, portals: [\"127.0.0.1:3260\"]}\n  - {tag: 1, portals: [\"127.0.0.2:3260\"]}",
			"4: portal_groups[1].tag: tag 1 is already used by portal_groups[0] (line 3)"},
		{"duplicate portal across groups", `  - {tag: 1, portals: ["127.0.0.1:3260"]}`, "  - {tag: 1, portals: [\"127.0.0.1:3260\"]}\n  - {tag: 2, portals: [\"127.0.0.1:3260\"]}",
			"4: portal_groups[1].portals[0]: portal 127.0.0.1:3260 is already listed at portal_groups[0].portals[0] (line 3)"},
		{"duplicate ipv6 portal spelled differently", `["127.0.0.1:3260"]`, `["[::1]:3260", "[0:0::1]:3260"]`,
			"3: portal_groups[0].portals[1]: portal [::1]:3260 is already listed"},
		{"alua as a scalar", `{tag: 1, portals:`, `{tag: 1, alua: standby, portals:`, "3: portal_groups[0].alua: want a mapping such as alua: {state: standby, preferred: false}"},

		// volumes.
		{"volume name missing", "{name: v1, backend", "{backend", "5: volumes[0].name: missing; required"},
		{"volume name invalid", "{name: v1,", "{name: ../v1,", `5: volumes[0].name: "../v1" is not a valid name`},
		{"volume name duplicate", "  - {name: v1, backend: memory, size: 1MiB}", "  - {name: v1, backend: memory, size: 1MiB}\n  - {name: v1, backend: memory, size: 1MiB}",
			`6: volumes[1].name: volume "v1" is already defined at volumes[0] (line 5)`},
		{"backend missing", "backend: memory, ", "", "5: volumes[0].backend: missing; required (file, block or memory)"},
		{"backend unknown", "backend: memory", "backend: nfs", `5: volumes[0].backend: "nfs" is not file, block or memory`},
		{"file without path", "backend: memory", "backend: file", "5: volumes[0].path: missing; required for a file volume"},
		{"block without path", "backend: memory, size: 1MiB", "backend: block", "5: volumes[0].path: missing; required for a block volume"},
		{"memory with path", "backend: memory", "backend: memory, path: /x", "5: volumes[0].path: a memory volume has no path"},
		{"block path relative", "backend: memory, size: 1MiB", "backend: block, path: sdb", `5: volumes[0].path: "sdb": a block device path must be absolute`},
		{"block with size", "backend: memory", "backend: block, path: /dev/sdb", "5: volumes[0].size: a block volume's size is the device's"},
		{"file without size", "backend: memory, size: 1MiB", "backend: file, path: a.img", "5: volumes[0].size: missing; required for a file volume"},
		{"size ambiguous unit", "size: 1MiB", "size: 10K", `5: volumes[0].size: "10K": unit "K" is ambiguous; write KiB`},
		{"size unknown unit", "size: 1MiB", "size: 10 parsecs", `5: volumes[0].size: "10 parsecs": unknown unit "parsecs"`},
		{"size not a number", "size: 1MiB", "size: big", `5: volumes[0].size: "big" is not a size`},
		{"size negative", "size: 1MiB", "size: -512", `5: volumes[0].size: "-512" is not a size`},
		{"size fraction", "size: 1MiB", "size: 1.5GiB", `5: volumes[0].size: "1.5GiB": unknown unit ".5GiB"`},
		{"size zero", "size: 1MiB", "size: 0", "5: volumes[0].size: must not be 0"},
		{"size overflow", "size: 1MiB", "size: 9000000PiB", "5: volumes[0].size: 9000000PiB is too large"},
		{"size not a multiple", "size: 1MiB", "size: 1000", "5: volumes[0].size: 1000 is not a multiple of block_size 512"},
		{"size not a multiple of 4096", "size: 1MiB", "size: 1KB, block_size: 4096", "5: volumes[0].size: 1KB (1000 bytes) is not a multiple of block_size 4096"},
		{"block_size", "size: 1MiB", "size: 1MiB, block_size: 1000", "5: volumes[0].block_size: 1000 is not 512 or 4096"},
		{"serial with space", "size: 1MiB", "size: 1MiB, serial: 'a b'", `5: volumes[0].serial: "a b": a serial is printable ASCII without spaces`},
		{"serial too long", "size: 1MiB", "size: 1MiB, serial: " + strings.Repeat("x", 65), "5: volumes[0].serial: \"xxx"},
		{"serial empty", "size: 1MiB", "size: 1MiB, serial: ''", `5: volumes[0].serial: "": a serial has 1..64 characters`},
		{"serial duplicate (case-insensitive)", "  - {name: v1, backend: memory, size: 1MiB}", "  - {name: v1, backend: memory, size: 1MiB, serial: AB12}\n  - {name: v2, backend: memory, size: 1MiB, serial: ab12}",
			`6: volumes[1].serial: serial "ab12" is already the serial of volumes[0] (line 5); two volumes would have one SCSI identity`},
		{"path duplicate", "  - {name: v1, backend: memory, size: 1MiB}", "  - {name: v1, backend: file, path: a.img, size: 1MiB}\n  - {name: v2, backend: file, path: /d/./a.img, size: 1MiB}",
			"6: volumes[1].path: /d/a.img is already the path of volumes[0] (line 5)"},
		{"flag not a bool", "size: 1MiB", "size: 1MiB, thin: maybe", `5: volumes[0].thin: want true or false, got "maybe"`},
		{"flag yes is not a volume bool", "size: 1MiB", "size: 1MiB, read_only: yes", `5: volumes[0].read_only: want true or false, got "yes"`},

		// targets.
		{"no targets", "targets:\n  - iqn: iqn.2003-01.org.example:t1\n    luns: [{lun: 0, volume: v1}]\n    access: {all: true}\n", "", "1: targets: missing; required"},
		{"targets empty", "targets:\n  - iqn: iqn.2003-01.org.example:t1\n    luns: [{lun: 0, volume: v1}]\n    access: {all: true}\n", "targets: []\n", "6: targets: empty; at least one target is required"},
		{"portal groups empty", "portal_groups:\n  - {tag: 1, portals: [\"127.0.0.1:3260\"]}\n", "portal_groups: []\n", "2: portal_groups: empty; at least one portal group is required"},
		{"x- keys hold anchors only", "volumes:", "x-size: &sz 1MiB\nx-typo: {a: b}\nvolume:", "6: volume: unknown field; did you mean volumes?"},
		{"iqn missing", "  - iqn: iqn.2003-01.org.example:t1\n    luns", "  - luns", "7: targets[0].iqn: missing; required"},
		{"iqn no date", "iqn.2003-01.org.example:t1", "iqn.org.example:t1", `7: targets[0].iqn: "iqn.org.example:t1": iqn. name without a valid date`},
		{"iqn month 13", "iqn.2003-01.org.example:t1", "iqn.2003-13.org.example:t1", "7: targets[0].iqn: \"iqn.2003-13.org.example:t1\": iqn. name has month 13"},
		{"iqn no authority", "iqn.2003-01.org.example:t1", "iqn.2003-01.:t1", "7: targets[0].iqn: \"iqn.2003-01.:t1\": iqn. name without a naming authority"},
		{"iqn bad character", "iqn.2003-01.org.example:t1", "iqn.2003-01.org.example:t_1", `7: targets[0].iqn: "iqn.2003-01.org.example:t_1": iSCSI name has character '_'`},
		{"iqn empty suffix", "iqn.2003-01.org.example:t1", "'iqn.2003-01.org.example:'", "7: targets[0].iqn: \"iqn.2003-01.org.example:\": iqn. name ends in ':'"},
		{"eui length", "iqn.2003-01.org.example:t1", "eui.0123", `7: targets[0].iqn: "eui.0123": eui. name needs exactly 16 hex digits`},
		{"naa length", "iqn.2003-01.org.example:t1", "naa.0123456789abcdef01", `7: targets[0].iqn: "naa.0123456789abcdef01": naa. name needs 16 or 32 hex digits`},
		{"unknown name type", "iqn.2003-01.org.example:t1", "wwn.0123", `7: targets[0].iqn: "wwn.0123": iSCSI name must start with iqn., eui. or naa.`},
		{"iqn duplicate after lower-casing", "    access: {all: true}\n", "    access: {all: true}\n  - iqn: IQN.2003-01.ORG.EXAMPLE:T1\n    access: {all: true}\n",
			"10: targets[1].iqn: target iqn.2003-01.org.example:t1 is already defined at targets[0] (line 7)"},
		{"alias control character", "    luns:", "    alias: \"a\\tb\"\n    luns:", "8: targets[0].alias: an alias is up to 255 bytes"},
		{"target portal_groups empty", "    luns:", "    portal_groups: []\n    luns:", "8: targets[0].portal_groups: empty; omit it to use every portal group"},
		{"target portal group undefined", "    luns:", "    portal_groups: [1, 2]\n    luns:", "8: targets[0].portal_groups[1]: portal group 2 is not defined in portal_groups"},
		{"target portal group twice", "    luns:", "    portal_groups: [1, 1]\n    luns:", "8: targets[0].portal_groups[1]: portal group 1 listed twice"},
		{"lun 16384", "{lun: 0,", "{lun: 16384,", "8: targets[0].luns[0].lun: 16384 is not in 0..16383"},
		{"lun negative", "{lun: 0,", "{lun: -1,", "8: targets[0].luns[0].lun: -1 is not in 0..16383"},
		{"lun missing", "{lun: 0, volume", "{volume", "8: targets[0].luns[0].lun: missing; required"},
		{"lun volume missing", "{lun: 0, volume: v1}", "{lun: 0}", "8: targets[0].luns[0].volume: missing; required"},
		{"lun duplicate", "[{lun: 0, volume: v1}]", "\n      - {lun: 0, volume: v1}\n      - {lun: 0, volume: v2}", "10: targets[0].luns[1].lun: LUN 0 is already mapped at targets[0].luns[0] (line 9)"},
		{"lun volume undefined", "volume: v1}]", "volume: v9}]", `8: targets[0].luns[0].volume: volume "v9" is not defined in volumes`},
		{"lun volume twice", "[{lun: 0, volume: v1}]", "\n      - {lun: 0, volume: v1}\n      - {lun: 1, volume: v1}", `10: targets[0].luns[1].volume: volume "v1" is already mapped at targets[0].luns[0] (line 9)`},
		{"access missing", "    access: {all: true}\n", "", "7: targets[0].access: missing; required"},
		{"access all false", "{all: true}", "{all: false}", "9: targets[0].access.all: false lets no initiator in"},
		{"access all missing", "{all: true}", "{}", "9: targets[0].access.all: missing; required"},
		{"access all with initiators", "{all: true}", "{all: true, initiators: []}", "9: targets[0].access.initiators: all: true already lets every initiator in"},
		{"chap without user", "    access: {all: true}", "    access: {all: true}\n    chap: {}", "10: targets[0].chap.user: missing; required"},

		// params, RFC 7143 §13.
		{"MaxRecvDataSegmentLength low", "{all: true}", "{all: true}\n    params: {MaxRecvDataSegmentLength: 511}", "10: targets[0].params.MaxRecvDataSegmentLength: 511 is not in 512..16777215"},
		{"MaxRecvDataSegmentLength high", "{all: true}", "{all: true}\n    params: {MaxRecvDataSegmentLength: 16777216}", "10: targets[0].params.MaxRecvDataSegmentLength: 16777216 is not in 512..16777215"},
		{"MaxBurstLength low", "{all: true}", "{all: true}\n    params: {MaxBurstLength: 100}", "10: targets[0].params.MaxBurstLength: 100 is not in 512..16777215"},
		{"FirstBurstLength low", "{all: true}", "{all: true}\n    params: {FirstBurstLength: 511}", "10: targets[0].params.FirstBurstLength: 511 is not in 512..16777215"},
		{"FirstBurstLength over MaxBurstLength", "{all: true}", "{all: true}\n    params: {MaxBurstLength: 65536, FirstBurstLength: 131072}", "10: targets[0].params.FirstBurstLength: 131072 exceeds MaxBurstLength 65536"},
		{"FirstBurstLength over default MaxBurstLength", "{all: true}", "{all: true}\n    params: {FirstBurstLength: 2097152}", "10: targets[0].params.FirstBurstLength: 2097152 exceeds MaxBurstLength 1048576 (the default)"},
		{"MaxBurstLength under default FirstBurstLength", "{all: true}", "{all: true}\n    params: {MaxBurstLength: 10000}", "10: targets[0].params.MaxBurstLength: 10000 is less than FirstBurstLength 262144 (the default)"},
		{"MaxOutstandingR2T 0", "{all: true}", "{all: true}\n    params: {MaxOutstandingR2T: 0}", "10: targets[0].params.MaxOutstandingR2T: 0 is not in 1..65535"},
		{"MaxOutstandingR2T 65536", "{all: true}", "{all: true}\n    params: {MaxOutstandingR2T: 65536}", "10: targets[0].params.MaxOutstandingR2T: 65536 is not in 1..65535"},
		{"InitialR2T not a bool", "{all: true}", "{all: true}\n    params: {InitialR2T: maybe}", `10: targets[0].params.InitialR2T: want true/false or Yes/No, got "maybe"`},
		{"digest unknown", "{all: true}", "{all: true}\n    params: {HeaderDigest: MD5}", `10: targets[0].params.HeaderDigest: "MD5" is not CRC32C or None`},
		{"digest twice", "{all: true}", "{all: true}\n    params: {DataDigest: [None, none]}", "10: targets[0].params.DataDigest: None listed twice"},
		{"MaxConnections", "{all: true}", "{all: true}\n    params: {MaxConnections: 4}", "10: targets[0].params.MaxConnections: halun negotiates MaxConnections=1"},
		{"ErrorRecoveryLevel", "{all: true}", "{all: true}\n    params: {ErrorRecoveryLevel: 1}", "10: targets[0].params.ErrorRecoveryLevel: halun implements ErrorRecoveryLevel 0 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("halun.yaml", []byte(edit(t, tt.old, tt.new)))
			if err == nil {
				t.Fatalf("accepted:\n%s", edit(t, tt.old, tt.new))
			}
			if c != nil {
				t.Errorf("returned a config along with the error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, not Errors: %v", err, err)
			}
			want := "halun.yaml:" + tt.want
			for _, e := range es {
				if strings.HasPrefix(e.Error(), want) || strings.Contains(e.Error(), want) {
					return
				}
			}
			t.Errorf("want an error starting %q, got:\n%v", want, err)
		})
	}
}

func TestErrorsInFileOrder(t *testing.T) {
	src := edit(t, "size: 1MiB", "size: 1000, block_size: 7")
	src = strings.Replace(src, "tag: 1,", "tag: 0,", 1)
	_, err := Parse("h.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) || len(es) < 2 {
		t.Fatalf("want several errors, got %v", err)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Line < es[i-1].Line {
			t.Errorf("errors out of order:\n%v", err)
		}
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "extra:\n")
	for i := 0; i < 500; i++ {
		b.WriteString("  k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + ": 1\n")
	}
	src := strings.Replace(b.String(), "extra:\n", "", 1)
	_, err := Parse("h.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("want Errors, got %v", err)
	}
	if len(es) > maxErrors {
		t.Errorf("%d errors reported, cap is %d", len(es), maxErrors)
	}
}

func TestBillionLaughs(t *testing.T) {
	src := `a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
portal_groups: [{tag: 1, portals: *g}]
targets: [*g, *g, *g, *g]
`
	if _, err := Parse("h.yaml", []byte(src)); err == nil {
		t.Fatal("accepted")
	}
}
