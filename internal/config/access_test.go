package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aclBase is a valid config with per-initiator access, CHAP at every level
// and a product id; the cases below edit it. Line numbers matter.
const aclBase = `portal_groups:
  - {tag: 1, portals: ["127.0.0.1:3260"]}
volumes:
  - {name: v1, backend: memory, size: 1MiB, product_id: "vdisk one"}
  - {name: v2, backend: memory, size: 1MiB}
discovery:
  chap: {user: disc, secret: discovery-secret-1}
targets:
  - iqn: iqn.2003-01.org.example:t1
    luns: [{lun: 0, volume: v1}]
    chap: {user: tuser, secret: target-secret-12}
    access:
      initiators:
        - iqn: IQN.1994-05.com.example:A
          luns: [{lun: 3, volume: v2}, {lun: 0, volume: v1}]
          chap: {user: a, secret: a-secret-123456, target_user: san, target_secret: san-secret-12345}
        - iqn: iqn.1994-05.com.example:b
`

func aclEdit(t *testing.T, old, new string) string {
	t.Helper()
	if strings.Count(aclBase, old) != 1 {
		t.Fatalf("aclBase must contain %q exactly once", old)
	}
	return strings.Replace(aclBase, old, new, 1)
}

func TestAccessParse(t *testing.T) {
	c, err := Parse("halun.yaml", []byte(aclBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Volumes[0].Identity.Product != "vdisk one" || c.Volumes[1].Identity.Product != "" {
		t.Errorf("product ids %q %q", c.Volumes[0].Identity.Product, c.Volumes[1].Identity.Product)
	}
	if c.Discovery.CHAP == nil || c.Discovery.CHAP.User != "disc" || c.Discovery.CHAP.Secret != "discovery-secret-1" {
		t.Errorf("discovery CHAP %v", c.Discovery.CHAP)
	}
	tg := c.Targets[0]
	if tg.CHAP == nil || tg.CHAP.User != "tuser" || tg.CHAP.Mutual() {
		t.Errorf("target CHAP %v", tg.CHAP)
	}
	if tg.Access.All || len(tg.Access.Initiators) != 2 {
		t.Fatalf("access %+v", tg.Access)
	}
	a := tg.Access.Initiator("iqn.1994-05.com.example:a")
	if a == nil || a.IQN != "iqn.1994-05.com.example:a" {
		t.Fatalf("initiator names are not normalised: %+v", tg.Access.Initiators)
	}
	if !a.OwnLUNs || len(a.LUNs) != 2 || a.LUNs[0] != (LUN{LUN: 3, Volume: "v2"}) {
		t.Errorf("initiator LUN map %+v", a.LUNs)
	}
	if !a.CHAP.Mutual() || a.CHAP.TargetUser != "san" || a.CHAP.TargetSecret != "san-secret-12345" {
		t.Errorf("initiator CHAP %v", a.CHAP)
	}
	b := tg.Access.Initiator("IQN.1994-05.COM.EXAMPLE:B")
	if b == nil || b.OwnLUNs || b.CHAP != nil {
		t.Errorf("entry b %+v", b)
	}
	if tg.Access.Initiator("iqn.1994-05.com.example:c") != nil {
		t.Error("unknown initiator found")
	}
	// Secrets stay out of formatted output.
	for _, s := range []string{fmt.Sprint(*a.CHAP), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", *a.CHAP), fmt.Sprintf("%v", c.Targets)} {
		if strings.Contains(s, "secret-1") || strings.Contains(s, "a-secret") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestAccessEmptyLUNMap(t *testing.T) {
	c, err := Parse("h.yaml", []byte(aclEdit(t, "        - iqn: iqn.1994-05.com.example:b\n", "        - iqn: iqn.1994-05.com.example:b\n          luns: []\n")))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Targets[0].Access.Initiator("iqn.1994-05.com.example:b")
	if !b.OwnLUNs || len(b.LUNs) != 0 {
		t.Errorf("luns: [] must give an empty view, got %+v", b)
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.secret"), []byte("file-secret-0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "halun.yaml")
	src := aclEdit(t, "secret: a-secret-123456", "secret_file: a.secret")
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Targets[0].Access.Initiators[0].CHAP
	if a.Secret != "file-secret-0001" || a.SecretFile != "a.secret" {
		t.Errorf("secret from file: %q from %q", a.Secret, a.SecretFile)
	}

	src = aclEdit(t, "secret: a-secret-123456", "secret_file: short")
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(cfgPath)
	want := cfgPath + ":16: targets[0].access.initiators[0].chap.secret_file: the secret is 5 bytes; CHAP secrets need at least 12"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("want %q, got %v", want, err)
	}
	if err != nil && strings.Contains(err.Error(), "short") && !strings.Contains(err.Error(), "secret_file") {
		t.Errorf("error shows the secret: %v", err)
	}
}

// TestAccessInvalid checks every access and CHAP rule with file:line.
func TestAccessInvalid(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"product_id too long", `product_id: "vdisk one"`, `product_id: "0123456789abcdefX"`, `4: volumes[0].product_id: "0123456789abcdefX": a product_id has 1..16 characters`},
		{"product_id empty", `product_id: "vdisk one"`, `product_id: ""`, `4: volumes[0].product_id: "": a product_id has 1..16 characters`},
		{"product_id control", `product_id: "vdisk one"`, `product_id: "a\tb"`, `4: volumes[0].product_id: "a\tb": a product_id is printable ASCII`},
		{"product_id non-ascii", `product_id: "vdisk one"`, `product_id: "disk é"`, `4: volumes[0].product_id: "disk é": a product_id is printable ASCII`},
		{"access neither", "    access:\n      initiators:", "    access: {}\n    x:\n      initiators:", "12: targets[0].access.all: missing; required"},
		{"access all false alone", "    access:\n      initiators:\n", "    access: {all: false}\n    x:\n      initiators:\n", "12: targets[0].access.all: false lets no initiator in"},
		{"access all and initiators", "      initiators:\n", "      all: true\n      initiators:\n", "15: targets[0].access.initiators: all: true already lets every initiator in"},
		{"initiators empty", "      initiators:\n        - iqn: IQN", "      initiators: []\n    x:\n        - iqn: IQN", "13: targets[0].access.initiators: empty; lets no initiator in"},
		{"initiators not a list", "      initiators:\n        - iqn: IQN", "      initiators: {iqn: a}\n    x:\n        - iqn: IQN", "13: targets[0].access.initiators: want a list, got a mapping"},
		{"initiator iqn missing", "        - iqn: iqn.1994-05.com.example:b", "        - {}", "17: targets[0].access.initiators[1].iqn: missing; required"},
		{"initiator iqn invalid", "iqn.1994-05.com.example:b", "iqn.1994.com.example:b", `17: targets[0].access.initiators[1].iqn: "iqn.1994.com.example:b": iqn. name without a valid date`},
		{"initiator duplicate (case-insensitive)", "iqn.1994-05.com.example:b", "iqn.1994-05.com.example:a", "17: targets[0].access.initiators[1].iqn: initiator iqn.1994-05.com.example:a is already listed at targets[0].access.initiators[0] (line 14)"},
		{"initiator unknown field", "        - iqn: iqn.1994-05.com.example:b", "        - {iqn: iqn.1994-05.com.example:b, lun: []}", "17: targets[0].access.initiators[1].lun: unknown field; did you mean luns?"},
		{"initiator lun duplicate", "{lun: 0, volume: v1}]\n          chap", "{lun: 3, volume: v1}]\n          chap", "15: targets[0].access.initiators[0].luns[1].lun: LUN 3 is already mapped at targets[0].access.initiators[0].luns[0]"},
		{"initiator lun out of range", "{lun: 3, volume: v2}", "{lun: 16384, volume: v2}", "15: targets[0].access.initiators[0].luns[0].lun: 16384 is not in 0..16383"},
		{"initiator lun volume undefined", "{lun: 3, volume: v2}", "{lun: 3, volume: v9}", `15: targets[0].access.initiators[0].luns[0].volume: volume "v9" is not defined in volumes`},
		{"initiator lun volume twice", "{lun: 3, volume: v2}", "{lun: 3, volume: v1}", `15: targets[0].access.initiators[0].luns[1].volume: volume "v1" is already mapped at targets[0].access.initiators[0].luns[0]`},
		{"chap user missing", "{user: tuser, secret: target-secret-12}", "{secret: target-secret-12}", "11: targets[0].chap.user: missing; required"},
		{"chap user control", "user: tuser,", "user: \"t\\x01\",", "11: targets[0].chap.user: a CHAP name is 1..255 bytes"},
		{"chap secret missing", "{user: tuser, secret: target-secret-12}", "{user: tuser}", "11: targets[0].chap.secret: missing; required (or secret_file"},
		{"chap secret short", "secret: target-secret-12", "secret: elevenbytes", "11: targets[0].chap.secret: the secret is 11 bytes; CHAP secrets need at least 12 (RFC 7143 §12.1.3)"},
		{"chap secret long", "secret: target-secret-12", "secret: " + strings.Repeat("s", 256), "11: targets[0].chap.secret: the secret is 256 bytes; at most 255"},
		{"chap secret control", "secret: target-secret-12", `secret: "target-secret\n12"`, "11: targets[0].chap.secret: the secret has control characters"},
		{"chap secret and file", "secret: target-secret-12}", "secret: target-secret-12, secret_file: /x}", "11: targets[0].chap.secret_file: give either secret or secret_file, not both"},
		{"chap secret file missing", "secret: target-secret-12}", "secret_file: " + missing + "}", "11: targets[0].chap.secret_file: cannot read secret file"},
		{"chap secret file is a directory", "secret: target-secret-12}", "secret_file: /}", "11: targets[0].chap.secret_file: secret file / is not a regular file"},
		{"chap unknown field", "{user: tuser,", "{user: tuser, password: x,", "11: targets[0].chap.password: unknown field"},
		{"mutual without target secret", "target_user: san, target_secret: san-secret-12345", "target_user: san", "16: targets[0].access.initiators[0].chap.target_user: mutual CHAP needs target_secret or target_secret_file too"},
		{"mutual without target user", "target_user: san, target_secret", "target_secret", "16: targets[0].access.initiators[0].chap.target_user: missing; required for mutual CHAP"},
		{"mutual secret short", "target_secret: san-secret-12345", "target_secret: short", "16: targets[0].access.initiators[0].chap.target_secret: the secret is 5 bytes"},
		{"mutual secret equals initiator secret", "target_secret: san-secret-12345", "target_secret: a-secret-123456", "16: targets[0].access.initiators[0].chap.target_secret: the target secret equals the initiator secret"},
		{"discovery chap short secret", "secret: discovery-secret-1", "secret: disc", "7: discovery.chap.secret: the secret is 4 bytes"},
		{"discovery unknown field", "  chap: {user: disc", "  chap_: {user: disc", "7: discovery.chap_: unknown field; did you mean chap?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := aclEdit(t, tt.old, tt.new)
			c, err := Parse("halun.yaml", []byte(src))
			if err == nil {
				t.Fatalf("accepted:\n%s", src)
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
				if strings.HasPrefix(e.Error(), want) {
					return
				}
			}
			t.Errorf("want an error starting %q, got:\n%v", want, err)
		})
	}
}
