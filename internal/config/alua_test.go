package config

import (
	"errors"
	"strings"
	"testing"
)

// TestALUAValid: portal_groups[].alua and targets[].alua decode, with
// active/optimized, not preferred and implicit ALUA as the defaults.
func TestALUAValid(t *testing.T) {
	tests := []struct {
		name, old, new string
		state          string
		preferred      bool
		explicit       bool
	}{
		{"default", "", "", ALUAActiveOptimized, false, false},
		{"null alua", `{tag: 1, portals:`, `{tag: 1, alua: ~, portals:`, ALUAActiveOptimized, false, false},
		{"empty alua", `{tag: 1, portals:`, `{tag: 1, alua: {}, portals:`, ALUAActiveOptimized, false, false},
		{"active-optimized", `{tag: 1, portals:`, `{tag: 1, alua: {state: active-optimized}, portals:`, ALUAActiveOptimized, false, false},
		{"active-nonoptimized", `{tag: 1, portals:`, `{tag: 1, alua: {state: active-nonoptimized}, portals:`, ALUAActiveNonOptimized, false, false},
		{"standby", `{tag: 1, portals:`, `{tag: 1, alua: {state: standby}, portals:`, ALUAStandby, false, false},
		{"unavailable", `{tag: 1, portals:`, `{tag: 1, alua: {state: unavailable}, portals:`, ALUAUnavailable, false, false},
		{"transitioning", `{tag: 1, portals:`, `{tag: 1, alua: {state: transitioning}, portals:`, ALUATransitioning, false, false},
		{"preferred only", `{tag: 1, portals:`, `{tag: 1, alua: {preferred: true}, portals:`, ALUAActiveOptimized, true, false},
		{"block style", `  - {tag: 1, portals: ["127.0.0.1:3260"]}`, "  - tag: 1\n    portals: [\"127.0.0.1:3260\"]\n    alua:\n      state: standby\n      preferred: true", ALUAStandby, true, false},
		{"explicit", "access: {all: true}", "access: {all: true}\n    alua: {explicit: true}", ALUAActiveOptimized, false, true},
		{"explicit false", "access: {all: true}", "access: {all: true}\n    alua: {explicit: false}", ALUAActiveOptimized, false, false},
		{"target alua null", "access: {all: true}", "access: {all: true}\n    alua:", ALUAActiveOptimized, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.old != "" {
				src = edit(t, tt.old, tt.new)
			}
			c, err := Parse("halun.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			a := c.PortalGroups[0].ALUA
			if a.State != tt.state || a.Preferred != tt.preferred || c.Targets[0].ALUA.Explicit != tt.explicit {
				t.Errorf("got %+v, explicit %v", a, c.Targets[0].ALUA.Explicit)
			}
		})
	}
}

// TestALUAInvalid: every mistake is named with file:line and field.
func TestALUAInvalid(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"unknown state", `{tag: 1, portals:`, `{tag: 1, alua: {state: passive}, portals:`,
			`3: portal_groups[0].alua.state: "passive" is not an ALUA state: active-optimized, active-nonoptimized, standby, unavailable, transitioning`},
		{"misspelt state", `{tag: 1, portals:`, `{tag: 1, alua: {state: stanby}, portals:`, `3: portal_groups[0].alua.state: "stanby" is not an ALUA state: active-optimized, active-nonoptimized, standby, unavailable, transitioning; did you mean standby?`},
		{"state with underscore", `{tag: 1, portals:`, `{tag: 1, alua: {state: active_optimized}, portals:`, `3: portal_groups[0].alua.state: "active_optimized" is not an ALUA state`},
		{"state upper case", `{tag: 1, portals:`, `{tag: 1, alua: {state: Standby}, portals:`, `3: portal_groups[0].alua.state: "Standby" is not an ALUA state`},
		{"state a list", `{tag: 1, portals:`, `{tag: 1, alua: {state: [standby]}, portals:`, "3: portal_groups[0].alua.state: want a string, got a list"},
		{"state empty", `{tag: 1, portals:`, `{tag: 1, alua: {state: }, portals:`, "3: portal_groups[0].alua.state: want a string"},
		{"preferred not a bool", `{tag: 1, portals:`, `{tag: 1, alua: {preferred: maybe}, portals:`, "3: portal_groups[0].alua.preferred:"},
		{"unknown group key", `{tag: 1, portals:`, `{tag: 1, alua: {prefered: true}, portals:`, "3: portal_groups[0].alua.prefered: unknown field; did you mean preferred?"},
		{"explicit on the group", `{tag: 1, portals:`, `{tag: 1, alua: {explicit: true}, portals:`, "3: portal_groups[0].alua.explicit: unknown field"},
		{"group alua a list", `{tag: 1, portals:`, `{tag: 1, alua: [standby], portals:`, "3: portal_groups[0].alua: want a mapping"},
		{"explicit not a bool", "access: {all: true}", "access: {all: true}\n    alua: {explicit: sometimes}", "10: targets[0].alua.explicit:"},
		{"state on the target", "access: {all: true}", "access: {all: true}\n    alua: {state: standby}", "10: targets[0].alua.state: a target's ALUA state is its portal groups'"},
		{"unknown target key", "access: {all: true}", "access: {all: true}\n    alua: {explict: true}", "10: targets[0].alua.explict: unknown field; did you mean explicit?"},
		{"target alua a scalar", "access: {all: true}", "access: {all: true}\n    alua: explicit", "10: targets[0].alua: want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("halun.yaml", []byte(edit(t, tt.old, tt.new)))
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

// TestSetPortalGroupALUA: the write-back of `halun alua set` keeps the
// file as written, whatever the portal group's layout.
func TestSetPortalGroupALUA(t *testing.T) {
	t.Run("golden", func(t *testing.T) {
		d := loadCommented(t)
		if err := d.SetPortalGroupALUA(1, ALUAStandby); err != nil {
			t.Fatal(err)
		}
		out := d.Bytes()
		if d.Reencoded {
			t.Errorf("the edit fell back to re-encoding the whole file")
		}
		c, err := Parse("edited.yaml", out)
		if err != nil {
			t.Fatalf("edited config is invalid: %v\n%s", err, out)
		}
		if c.PortalGroups[0].ALUA.State != ALUAStandby {
			t.Errorf("state %q", c.PortalGroups[0].ALUA.State)
		}
		golden(t, "set-alua.yaml", out)
		// A second change edits the state in place.
		if err := d.SetPortalGroupALUA(1, ALUAActiveOptimized); err != nil {
			t.Fatal(err)
		}
		if d.Reencoded || strings.Count(string(d.Bytes()), "alua") != 1 || !strings.Contains(string(d.Bytes()), "alua: {state: active-optimized}") {
			t.Errorf("second change:\n%s", d.Bytes())
		}
	})
	layouts := []struct {
		name, in, want string
	}{
		{"flow group", `  - {tag: 1, portals: ["127.0.0.1:3260"]}   # front`,
			`  - {tag: 1, portals: ["127.0.0.1:3260"], alua: {state: standby}}   # front`},
		{"flow group with alua", `  - {tag: 1, alua: {state: unavailable, preferred: true}, portals: ["127.0.0.1:3260"]}`,
			`  - {tag: 1, alua: {state: standby, preferred: true}, portals: ["127.0.0.1:3260"]}`},
		{"block alua", "  - tag: 1\n    portals: [\"127.0.0.1:3260\"]\n    alua:\n      state: active-optimized   # keep\n      preferred: true",
			"  - tag: 1\n    portals: [\"127.0.0.1:3260\"]\n    alua:\n      state: standby   # keep\n      preferred: true"},
		{"block alua without state", "  - tag: 1\n    portals: [\"127.0.0.1:3260\"]\n    alua:\n      preferred: true   # keep",
			"  - tag: 1\n    portals: [\"127.0.0.1:3260\"]\n    alua:\n      preferred: true   # keep\n      state: standby"},
		{"quoted tag", `  - {tag: "1", portals: ["127.0.0.1:3260"]}`,
			`  - {tag: "1", portals: ["127.0.0.1:3260"], alua: {state: standby}}`},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			src := edit(t, `  - {tag: 1, portals: ["127.0.0.1:3260"]}`, l.in)
			d, err := ParseDocument("halun.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.SetPortalGroupALUA(1, ALUAStandby); err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(src, l.in, l.want, 1)
			if got := string(d.Bytes()); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			c, err := Parse("halun.yaml", d.Bytes())
			if err != nil || c.PortalGroups[0].ALUA.State != ALUAStandby {
				t.Errorf("edited config: %v", err)
			}
		})
	}
	d, err := ParseDocument("halun.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPortalGroupALUA(9, ALUAStandby); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}
	if err := d.SetPortalGroupALUA(1, "passive"); err == nil || !strings.Contains(err.Error(), "not one of") {
		t.Errorf("unknown state: %v", err)
	}
}
