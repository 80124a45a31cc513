package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPortalEditsKeepComments adds and removes portals on the commented
// config and compares the result with a golden file.
func TestPortalEditsKeepComments(t *testing.T) {
	cases := []struct {
		name string
		edit func(d *Document) error
	}{
		{"add-portal", func(d *Document) error { return d.AddPortal(1, "[::1]:3260") }},
		{"add-portal-group", func(d *Document) error { return d.AddPortal(2, "10.0.0.1:3260") }},
		{"remove-portal", func(d *Document) error {
			if err := d.AddPortal(1, "[::1]:3260"); err != nil {
				return err
			}
			return d.RemovePortal("127.0.0.1:3260")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEdit(t, c.name, c.edit, "# small on purpose") })
	}
	// Adding a group and removing its only portal gives the file back.
	t.Run("round trip", func(t *testing.T) {
		orig, err := os.ReadFile(filepath.Join("testdata", "write", "commented.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		d := loadCommented(t)
		if err := d.AddPortal(2, "10.0.0.1:3260"); err != nil {
			t.Fatal(err)
		}
		if err := d.RemovePortal("10.0.0.1:3260"); err != nil {
			t.Fatal(err)
		}
		if got := string(d.Bytes()); got != string(orig) || d.Reencoded {
			t.Errorf("got:\n%s\nwant:\n%s", got, orig)
		}
	})
}

const portalsBase = `# portals
portal_groups:
  - tag: 1   # front
    portals: ["127.0.0.1:3260", "[::1]:3260"]   # both stacks
  # the back network
  - tag: 2
    portals:
      - "10.0.0.1:3260"   # first
      - "10.0.0.2:3260"
volumes:
  - {name: v1, backend: memory, size: 1MiB}
targets:
  - iqn: iqn.2003-01.org.example:t1   # every group
    luns: [{lun: 0, volume: v1}]
    access: {all: true}
`

// TestPortalEditLayouts checks the text each edit produces on the layouts
// portal lists are written in.
func TestPortalEditLayouts(t *testing.T) {
	cases := []struct {
		name      string
		old, new  string // replace old with new in portalsBase first
		edit      func(d *Document) error
		from, to  string // the edit replaces from with to
		reencoded bool
	}{
		{name: "append to flow list",
			edit: func(d *Document) error { return d.AddPortal(1, "[fe80::1%eth0]:3260") },
			from: `portals: ["127.0.0.1:3260", "[::1]:3260"]   # both stacks`,
			to:   `portals: ["127.0.0.1:3260", "[::1]:3260", "[fe80::1%eth0]:3260"]   # both stacks`},
		{name: "append to spaced flow list",
			old: `["127.0.0.1:3260", "[::1]:3260"]`, new: `[ "127.0.0.1:3260" ]`,
			edit: func(d *Document) error { return d.AddPortal(1, "192.0.2.1:3260") },
			from: `[ "127.0.0.1:3260" ]`, to: `[ "127.0.0.1:3260", "192.0.2.1:3260" ]`},
		{name: "single quotes",
			old: `["127.0.0.1:3260", "[::1]:3260"]`, new: `['127.0.0.1:3260']`,
			edit: func(d *Document) error { return d.AddPortal(1, "192.0.2.1:3260") },
			from: `['127.0.0.1:3260']`, to: `['127.0.0.1:3260', '192.0.2.1:3260']`},
		{name: "plain",
			old: `["127.0.0.1:3260", "[::1]:3260"]`, new: `[127.0.0.1:3260]`,
			edit: func(d *Document) error { return d.AddPortal(1, "192.0.2.1:3260") },
			from: `[127.0.0.1:3260]`, to: `[127.0.0.1:3260, 192.0.2.1:3260]`},
		{name: "append to block list",
			edit: func(d *Document) error { return d.AddPortal(2, "10.0.0.3:3260") },
			from: "      - \"10.0.0.2:3260\"\n", to: "      - \"10.0.0.2:3260\"\n      - \"10.0.0.3:3260\"\n"},
		{name: "new group",
			edit: func(d *Document) error { return d.AddPortal(7, ":3261") },
			from: "      - \"10.0.0.2:3260\"\n", to: "      - \"10.0.0.2:3260\"\n  - tag: 7\n    portals: [\":3261\"]\n"},
		{name: "new group among flow groups",
			old:  "  # the back network\n  - tag: 2\n    portals:\n      - \"10.0.0.1:3260\"   # first\n      - \"10.0.0.2:3260\"\n",
			new:  "  - {tag: 2, portals: [\"10.0.0.1:3260\"]}   # back\n",
			edit: func(d *Document) error { return d.AddPortal(3, "10.0.1.1:3260") },
			from: "  - {tag: 2, portals: [\"10.0.0.1:3260\"]}   # back\n",
			to:   "  - {tag: 2, portals: [\"10.0.0.1:3260\"]}   # back\n  - {tag: 3, portals: [\"10.0.1.1:3260\"]}\n"},
		{name: "append in a flow group",
			old:  "  # the back network\n  - tag: 2\n    portals:\n      - \"10.0.0.1:3260\"   # first\n      - \"10.0.0.2:3260\"\n",
			new:  "  - {tag: 2, portals: [\"10.0.0.1:3260\"]}   # back\n",
			edit: func(d *Document) error { return d.AddPortal(2, "10.0.0.9:3260") },
			from: `- {tag: 2, portals: ["10.0.0.1:3260"]}`, to: `- {tag: 2, portals: ["10.0.0.1:3260", "10.0.0.9:3260"]}`},
		{name: "remove first of flow list",
			edit: func(d *Document) error { return d.RemovePortal("127.0.0.1:3260") },
			from: `["127.0.0.1:3260", "[::1]:3260"]`, to: `["[::1]:3260"]`},
		{name: "remove last of flow list, spelled differently",
			edit: func(d *Document) error { return d.RemovePortal("[0:0::1]:3260") },
			from: `["127.0.0.1:3260", "[::1]:3260"]`, to: `["127.0.0.1:3260"]`},
		{name: "remove middle of flow list",
			old: `["127.0.0.1:3260", "[::1]:3260"]`, new: `["127.0.0.1:3260", '192.0.2.1:3260', "[::1]:3260"]`,
			edit: func(d *Document) error { return d.RemovePortal("192.0.2.1:3260") },
			from: `["127.0.0.1:3260", '192.0.2.1:3260', "[::1]:3260"]`, to: `["127.0.0.1:3260", "[::1]:3260"]`},
		{name: "remove from block list",
			edit: func(d *Document) error { return d.RemovePortal("10.0.0.1:3260") },
			from: "      - \"10.0.0.1:3260\"   # first\n", to: ""},
		{name: "remove a group",
			old: "      - \"10.0.0.1:3260\"   # first\n", new: "",
			edit: func(d *Document) error { return d.RemovePortal("10.0.0.2:3260") },
			from: "  # the back network\n  - tag: 2\n    portals:\n      - \"10.0.0.2:3260\"\n", to: ""},
		{name: "flow list over two lines",
			old: `["127.0.0.1:3260", "[::1]:3260"]   # both stacks`, new: "[\"127.0.0.1:3260\",\n                \"[::1]:3260\"]",
			edit: func(d *Document) error { return d.AddPortal(1, "192.0.2.1:3260") },
			from: "[\"127.0.0.1:3260\",\n                \"[::1]:3260\"]",
			to:   "\n      - \"127.0.0.1:3260\"\n      - \"[::1]:3260\"\n      - \"192.0.2.1:3260\"", reencoded: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := portalsBase
			if c.old != "" {
				if strings.Count(src, c.old) != 1 {
					t.Fatalf("base must contain %q once", c.old)
				}
				src = strings.Replace(src, c.old, c.new, 1)
			}
			if _, err := Parse("halun.yaml", []byte(src)); err != nil {
				t.Fatalf("source is invalid: %v\n%s", err, src)
			}
			d, err := ParseDocument("halun.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.edit(d); err != nil {
				t.Fatal(err)
			}
			got := string(d.Bytes())
			if _, err := Parse("halun.yaml", d.Bytes()); err != nil {
				t.Errorf("edited config is invalid: %v\n%s", err, got)
			}
			if d.Reencoded != c.reencoded {
				t.Errorf("re-encoded %v, want %v:\n%s", d.Reencoded, c.reencoded, got)
			}
			if c.reencoded {
				// The layout is lost; the content and the comments are not.
				if !strings.Contains(got, "192.0.2.1:3260") || !strings.Contains(got, "# the back network") {
					t.Errorf("re-encoded config:\n%s", got)
				}
				return
			}
			if strings.Count(src, c.from) != 1 {
				t.Fatalf("source must contain %q once", c.from)
			}
			if want := strings.Replace(src, c.from, c.to, 1); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestPortalEditErrors(t *testing.T) {
	d, err := ParseDocument("halun.yaml", []byte(portalsBase))
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, target error, text string) {
		t.Helper()
		if err == nil || (target != nil && !errors.Is(err, target)) || !strings.Contains(err.Error(), text) {
			t.Errorf("%s: %v, want an error saying %q", what, err, text)
		}
	}
	check("same group", d.AddPortal(1, "127.0.0.1:3260"), ErrExists, "in portal group 1")
	check("other group", d.AddPortal(1, "10.0.0.2:3260"), ErrExists, "a portal belongs to one group, remove it there first")
	check("other spelling", d.AddPortal(2, "[0::1]:3260"), ErrExists, "in portal group 1")
	check("bad address", d.AddPortal(1, "10.0.0.1"), nil, "not host:port")
	check("IPv6 without brackets", d.AddPortal(1, "::1:3260"), nil, "brackets")
	check("tag 0", d.AddPortal(0, "10.0.0.5:3260"), nil, "1..65535")
	check("missing", d.RemovePortal("10.9.9.9:3260"), ErrNotFound, "10.9.9.9:3260")
	if string(d.Bytes()) != portalsBase {
		t.Errorf("refused edits changed the document:\n%s", d.Bytes())
	}

	// A group a target names cannot lose its last portal.
	named := strings.Replace(portalsBase, "luns: [{lun: 0, volume: v1}]", "portal_groups: [1, 2]\n    luns: [{lun: 0, volume: v1}]", 1)
	named += "  - iqn: iqn.2003-01.org.example:t2\n    portal_groups: [2]\n    luns: [{lun: 0, volume: v1}]\n    access: {all: true}\n"
	if d, err = ParseDocument("halun.yaml", []byte(named)); err != nil {
		t.Fatal(err)
	}
	if err := d.RemovePortal("10.0.0.1:3260"); err != nil {
		t.Fatal(err)
	}
	check("group named by targets", d.RemovePortal("10.0.0.2:3260"), nil,
		"last portal of portal group 2, which iqn.2003-01.org.example:t1, iqn.2003-01.org.example:t2 list in portal_groups")
	if err := d.RemovePortal("127.0.0.1:3260"); err != nil {
		t.Fatal(err)
	}
	check("group 1 named by t1", d.RemovePortal("[::1]:3260"), nil, "which iqn.2003-01.org.example:t1 lists in portal_groups")

	// The config's last portal stays.
	one := strings.Replace(portalsBase, "  # the back network\n  - tag: 2\n    portals:\n      - \"10.0.0.1:3260\"   # first\n      - \"10.0.0.2:3260\"\n", "", 1)
	one = strings.Replace(one, `["127.0.0.1:3260", "[::1]:3260"]`, `["127.0.0.1:3260"]`, 1)
	if d, err = ParseDocument("halun.yaml", []byte(one)); err != nil {
		t.Fatal(err)
	}
	check("last portal", d.RemovePortal("127.0.0.1:3260"), nil, "the config's only portal")
}
