package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseValues(t *testing.T) {
	src := `node: {name: san1, data_dir: /var/lib/halun}
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260", "[::1]:3260", ":3261", "Storage.Example.com:3262"]
  - {tag: 7, portals: ["[fe80::1%eth0]:3260"]}
volumes:
  - name: vol1
    backend: file
    path: vol1.img
    size: 20GiB
    block_size: 4096
    serial: "0012"
    read_only: true
    removable: true
    write_cache: true
    sanitize_rate: 48MiB
  - {name: raw, backend: block, path: /dev/sdb}
  - {name: ram, backend: memory, size: 123456512, serial: 0012a, thin: false}
targets:
  - iqn: IQN.2003-01.Org.Example:Storage.Disk1
    alias: "Disk one"
    portal_groups: [7]
    luns: [{lun: 16383, volume: vol1}, {lun: 0, volume: raw}]
    access: {all: true}
    params:
      InitialR2T: No
      ImmediateData: true
      MaxRecvDataSegmentLength: 262144
      MaxBurstLength: 1048576
      FirstBurstLength: 1048576
      MaxOutstandingR2T: 64
      HeaderDigest: CRC32C, none
      DataDigest: [None]
  - iqn: eui.02004567A425678D
    luns: [{lun: 0, volume: ram}]
    access: {all: true}
`
	c, err := Parse("h.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node != (Node{Name: "san1", DataDir: "/var/lib/halun", NopInInterval: DefaultNopInInterval, NopInTimeout: DefaultNopInTimeout,
		ShutdownLogoutWait: DefaultShutdownLogoutWait, MaxConnections: DefaultMaxConnections, MaxConnectionsPerAddress: DefaultMaxConnectionsPerAddress,
		MaxBufferedData: DefaultMaxBufferedData, MaxSessionBufferedData: DefaultMaxSessionBufferedData}) {
		t.Errorf("node %+v", c.Node)
	}
	wantPortals := []Portal{{"127.0.0.1", 3260}, {"::1", 3260}, {"", 3261}, {"storage.example.com", 3262}}
	if !reflect.DeepEqual(c.PortalGroups[0].Portals, wantPortals) {
		t.Errorf("portals %+v", c.PortalGroups[0].Portals)
	}
	if got := c.PortalGroups[1].Portals[0].String(); got != "[fe80::1%eth0]:3260" {
		t.Errorf("zoned portal %s", got)
	}
	v := c.Volume("vol1")
	want := Volume{Pos: Pos{"h.yaml", 7, "volumes[0]"}, Name: "vol1", Backend: BackendFile, Path: "/var/lib/halun/vol1.img",
		Size: 20 << 30, BlockSize: 4096, Serial: "0012", Thin: true, ReadOnly: true, Removable: true, WriteCache: true, SanitizeRate: 48 << 20}
	if !reflect.DeepEqual(*v, want) {
		t.Errorf("vol1\n got %+v\nwant %+v", *v, want)
	}
	if v.Blocks() != 20<<30/4096 {
		t.Errorf("blocks %d", v.Blocks())
	}
	if r := c.Volume("raw"); r.Size != 0 || r.Thin || r.BlockSize != 512 || r.Path != "/dev/sdb" {
		t.Errorf("raw %+v", r)
	}
	if r := c.Volume("ram"); r.Size != 123456512 || r.Thin || r.Path != "" || r.Serial != "0012a" {
		t.Errorf("ram %+v", r)
	}
	tg := c.Target("iqn.2003-01.org.example:storage.disk1")
	if tg == nil || tg.IQN != "iqn.2003-01.org.example:storage.disk1" || tg.Alias != "Disk one" {
		t.Fatalf("target %+v", tg)
	}
	if !reflect.DeepEqual(tg.PortalGroups, []uint16{7}) {
		t.Errorf("portal groups %v", tg.PortalGroups)
	}
	if !reflect.DeepEqual(tg.LUNs, []LUN{{16383, "vol1"}, {0, "raw"}}) {
		t.Errorf("luns %v", tg.LUNs)
	}
	e := tg.Params.Effective()
	wantP := ParamValues{InitialR2T: false, ImmediateData: true, MaxRecvDataSegmentLength: 262144, MaxBurstLength: 1048576,
		FirstBurstLength: 1048576, MaxOutstandingR2T: 64, HeaderDigest: []string{"CRC32C", "None"}, DataDigest: []string{"None"}}
	if !reflect.DeepEqual(e, wantP) {
		t.Errorf("params\n got %+v\nwant %+v", e, wantP)
	}
	t2 := c.Target("EUI.02004567a425678d")
	if t2 == nil || t2.IQN != "eui.02004567a425678d" {
		t.Fatalf("eui target %+v", t2)
	}
	if !reflect.DeepEqual(t2.PortalGroups, []uint16{1, 7}) {
		t.Errorf("omitted portal_groups should mean all, got %v", t2.PortalGroups)
	}
	if t2.Params.InitialR2T != nil || t2.Params.MaxBurstLength != nil {
		t.Errorf("unset params should stay nil: %+v", t2.Params)
	}
	if !reflect.DeepEqual(t2.Params.Effective(), DefaultParams) {
		t.Errorf("unset params: %+v", t2.Params.Effective())
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("h.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Volumes[0]
	if v.BlockSize != 512 || !v.Thin || v.ReadOnly || v.Removable || v.WriteCache || v.Serial != "" {
		t.Errorf("volume defaults %+v", v)
	}
	c, err = Parse("h.yaml", []byte(strings.Replace(base, "node: {name: san1, data_dir: /d}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.DataDir != DefaultDataDir {
		t.Errorf("data_dir default %q", c.Node.DataDir)
	}
}

func TestAliases(t *testing.T) {
	src := `portal_groups: [{tag: 1, portals: ["127.0.0.1:3260"]}]
volumes:
  - {name: a, backend: memory, size: &sz 64MiB}
  - {name: b, backend: memory, size: *sz}
targets:
  - iqn: iqn.2003-01.org.example:a
    luns: [{lun: 0, volume: a}]
    access: &open {all: true}
    params: &fast {ImmediateData: true, MaxBurstLength: 1048576}
  - iqn: iqn.2003-01.org.example:b
    luns: [{lun: 0, volume: b}]
    access: *open
    params: *fast
`
	c, err := Parse("h.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Volumes[1].Size != 64<<20 || *c.Targets[1].Params.MaxBurstLength != 1048576 {
		t.Errorf("aliases not followed: %+v", c)
	}
}

func TestDefaultConfig(t *testing.T) {
	c, err := Default("", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != DefaultName || c.Node.DataDir != DefaultDataDir {
		t.Errorf("source %q data dir %q", c.Source, c.Node.DataDir)
	}
	if len(c.PortalGroups) != 1 || c.PortalGroups[0].Tag != 1 || c.PortalGroups[0].Portals[0].String() != DefaultListen {
		t.Errorf("portal groups %+v", c.PortalGroups)
	}
	want := Volume{Pos: c.Volumes[0].Pos, Name: "default", Backend: BackendFile, Path: filepath.Join(DefaultDataDir, "default.img"),
		Size: 1 << 30, BlockSize: 512, Thin: true}
	if len(c.Volumes) != 1 || !reflect.DeepEqual(c.Volumes[0], want) {
		t.Errorf("volumes %+v", c.Volumes)
	}
	if len(c.Targets) != 1 {
		t.Fatalf("targets %+v", c.Targets)
	}
	tg := c.Targets[0]
	if tg.IQN != "iqn.2026-11.io.halun:default" || !reflect.DeepEqual(tg.LUNs, []LUN{{0, "default"}}) ||
		!tg.Access.All || !reflect.DeepEqual(tg.PortalGroups, []uint16{1}) {
		t.Errorf("target %+v", tg)
	}

	c, err = Default("/srv/h", "[::1]:3261")
	if err != nil {
		t.Fatal(err)
	}
	if c.Volumes[0].Path != "/srv/h/default.img" || c.Node.DataDir != "/srv/h" || c.PortalGroups[0].Portals[0] != (Portal{"::1", 3261}) {
		t.Errorf("overridden default %+v", c)
	}
	if _, err := Parse("default.yaml", DefaultYAML()); err != nil {
		t.Errorf("default.yaml is not a valid config by itself: %v", err)
	}
}

func TestOverrides(t *testing.T) {
	tests := []struct {
		name, src string
		o         Overrides
		want      string // error, or "" for success
		check     func(*Config) bool
	}{
		{"listen replaces portals", base, Overrides{Listen: "0.0.0.0:3300"}, "", func(c *Config) bool {
			return reflect.DeepEqual(c.PortalGroups[0].Portals, []Portal{{"0.0.0.0", 3300}})
		}},
		{"bad listen names the flag", base, Overrides{Listen: "localhost"}, `--listen: portal_groups[0].portals[0]: "localhost" is not host:port`, nil},
		{"listen with two groups", strings.Replace(base, "  - {tag: 1", "  - {tag: 2, portals: [\":3270\"]}\n  - {tag: 1", 1),
			Overrides{Listen: ":3300"}, "--listen: the config has 2 portal groups", nil},
		{"data dir re-roots relative paths", strings.Replace(base, "backend: memory, size: 1MiB", "backend: file, path: v1.img, size: 1MiB", 1),
			Overrides{DataDir: "/other"}, "", func(c *Config) bool {
				return c.Node.DataDir == "/other" && c.Volumes[0].Path == "/other/v1.img"
			}},
		{"data dir without node section", strings.Replace(base, "node: {name: san1, data_dir: /d}\n", "", 1),
			Overrides{DataDir: "/x"}, "", func(c *Config) bool { return c.Node.DataDir == "/x" }},
		{"data dir makes paths collide", strings.Replace(base, "  - {name: v1, backend: memory, size: 1MiB}",
			"  - {name: v1, backend: file, path: a.img, size: 1MiB}\n  - {name: v2, backend: file, path: /y/a.img, size: 1MiB}", 1),
			Overrides{DataDir: "/y"}, "h.yaml:6: volumes[1].path: /y/a.img is already the path of volumes[0]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseWith("h.yaml", []byte(tt.src), tt.o)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(c) {
					t.Errorf("override not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("want error %q, got %v", tt.want, err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(base, "size: 1MiB", "size: 1MiB, block_size: 1000", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":5: volumes[0].block_size: 1000 is not 512 or 4096") {
		t.Errorf("got %v", err)
	}
	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestExamples checks that every committed example config is valid.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// TestNodeShutdownLogoutWait: node.shutdown_logout_wait is a duration of
// 1s..1h, 5s when absent.
func TestNodeShutdownLogoutWait(t *testing.T) {
	base := "node: { data_dir: /tmp/x WAIT }\nportal_groups: [{tag: 1, portals: [\"127.0.0.1:3260\"]}]\nvolumes: [{name: v, backend: memory, size: 1MiB}]\ntargets: [{iqn: \"iqn.2026-11.io.halun:t\", luns: [{lun: 0, volume: v}], access: {all: true}}]\n"
	cases := []struct {
		name, wait string
		want       time.Duration
		err        string
	}{
		{"default", "", DefaultShutdownLogoutWait, ""},
		{"explicit", ", shutdown_logout_wait: 30s", 30 * time.Second, ""},
		{"too short", ", shutdown_logout_wait: 100ms", 0, "h.yaml:1: node.shutdown_logout_wait: \"100ms\" is not a duration"},
		{"too long", ", shutdown_logout_wait: 2h", 0, "h.yaml:1: node.shutdown_logout_wait: \"2h\" is not a duration"},
	}
	for _, c := range cases {
		cfg, err := Parse("h.yaml", []byte(strings.Replace(base, " WAIT", c.wait, 1)))
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%s: error %v, want prefix %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Node.ShutdownLogoutWait != c.want {
			t.Errorf("%s: got %v, want %v", c.name, cfg.Node.ShutdownLogoutWait, c.want)
		}
	}
}

func TestNodeKeepalive(t *testing.T) {
	base := "node: { data_dir: /tmp/x, NOP }\nportal_groups: [{tag: 1, portals: [\"127.0.0.1:3260\"]}]\nvolumes: [{name: v, backend: memory, size: 1MiB}]\ntargets: [{iqn: \"iqn.2026-11.io.halun:t\", luns: [{lun: 0, volume: v}], access: {all: true}}]\n"
	cases := []struct {
		name, nop string
		interval  time.Duration
		timeout   time.Duration
		err       string
	}{
		{"explicit", "nop_in_interval: 2m, nop_in_timeout: 90s", 2 * time.Minute, 90 * time.Second, ""},
		{"not a duration", "nop_in_interval: often", 0, 0, "h.yaml:1: node.nop_in_interval: \"often\" is not a duration"},
		{"too short", "nop_in_timeout: 10ms", 0, 0, "h.yaml:1: node.nop_in_timeout: \"10ms\" is not a duration"},
	}
	for _, c := range cases {
		cfg, err := Parse("h.yaml", []byte(strings.Replace(base, "NOP", c.nop, 1)))
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("%s: error %v, want prefix %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Node.NopInInterval != c.interval || cfg.Node.NopInTimeout != c.timeout {
			t.Errorf("%s: got %v/%v", c.name, cfg.Node.NopInInterval, cfg.Node.NopInTimeout)
		}
	}
}
