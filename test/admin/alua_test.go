package admin_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/initiator"
)

// aluaConfig has two portal groups and one target with explicit ALUA;
// ini1 and ini2 each have their own view over a different volume, so
// nothing passes between them through a shared logical unit.
const aluaConfig = `# ALUA test: two paths, two initiators
node:
  data_dir: %[1]s
portal_groups:
  - tag: 1                       # the front path
    portals: ["%[2]s"]
  - tag: 2
    portals: ["%[3]s"]
    alua: { state: active-nonoptimized }   # the back path
volumes:
  - { name: a0, backend: memory, size: 1MiB, serial: alua000000000000 }
  - { name: b0, backend: memory, size: 1MiB, serial: alua000000000001 }
targets:
  - iqn: ` + targetA + `
    alua: { explicit: true }      # initiators may set states
    luns:
      - { lun: 0, volume: a0 }
    access:
      initiators:
        - iqn: ` + ini1 + `
        - iqn: ` + ini2 + `
          luns:
            - { lun: 0, volume: b0 }
`

// aluaNode is an in-process node that can be stopped and started again on
// the same config file.
type aluaNode struct {
	*node
	addr2 string
	stop  func()
}

func startALUANode(t *testing.T, path string) *aluaNode {
	t.Helper()
	nd, stop := serveConfig(t, path)
	an := &aluaNode{node: nd, stop: stop}
	for _, a := range nd.n.Server.Addrs() {
		switch a.Tag {
		case 1:
			an.addr = a.Addr
		case 2:
			an.addr2 = a.Addr
		}
	}
	return an
}

// aluaPath is one initiator's session through one portal group, with the
// unit attentions it has seen.
type aluaPath struct {
	name string
	tpgt uint16
	s    *initiator.Session
	ua   uaLog
}

func (an *aluaNode) path(t *testing.T, ini string, tpgt uint16) *aluaPath {
	addr := an.addr
	if tpgt == 2 {
		addr = an.addr2
	}
	t.Helper()
	s, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: ini, TargetName: targetA})
	if err != nil {
		t.Fatalf("login %s via %s: %v", ini, addr, err)
	}
	t.Cleanup(func() { s.Close() })
	p := &aluaPath{name: fmt.Sprintf("%s via group %d", ini, tpgt), tpgt: tpgt, s: s}
	// Consume POWER ON; a group in standby answers NOT READY.
	if err := p.ua.do(func() error { return s.TestUnitReady(ctxT(t), 0) }); err != nil {
		if key, _, _ := sense(err); key != 0x02 {
			t.Fatalf("%s: TEST UNIT READY: %v", p.name, err)
		}
	}
	p.ua = uaLog{}
	return p
}

// rtpg returns REPORT TARGET PORT GROUPS' data, after the unit
// attentions pending (recorded).
func (p *aluaPath) rtpg(t *testing.T) []byte {
	t.Helper()
	cdb := make([]byte, 12)
	cdb[0], cdb[1] = 0xa3, 0x0a
	cdb[9] = 0xff
	var r *initiator.Response
	if err := p.ua.do(func() (err error) {
		r, err = p.s.Execute(ctxT(t), 0, cdb, nil, 255)
		if err == nil {
			err = r.Err()
		}
		return
	}); err != nil {
		t.Fatalf("%s: REPORT TARGET PORT GROUPS: %v", p.name, err)
	}
	return r.Data
}

// states decodes RTPG data to group → state (and preferred, as 0x80).
func states(t *testing.T, d []byte) map[uint16]byte {
	t.Helper()
	out := map[uint16]byte{}
	if len(d) < 4 {
		t.Fatalf("RTPG data % x", d)
	}
	for i := 4; i+12 <= len(d); i += 12 {
		out[uint16(d[i+2])<<8|uint16(d[i+3])] = d[i] & 0x8f
	}
	return out
}

// stateChanged sends TEST UNIT READY until a status other than a unit
// attention and reports whether ASYMMETRIC ACCESS STATE CHANGED was
// among them.
func (p *aluaPath) stateChanged(t *testing.T) bool {
	t.Helper()
	p.ua = uaLog{}
	p.ua.do(func() error { return p.s.TestUnitReady(ctxT(t), 0) })
	return p.ua.has(0x2a06)
}

// checkState checks what every path sees of group 1 in state want:
// RTPG (identical for every path), media access, and the commands every
// state answers.
func checkState(t *testing.T, when string, want byte, paths ...*aluaPath) {
	t.Helper()
	ctx := ctxT(t)
	var first []byte
	for _, p := range paths {
		d := p.rtpg(t)
		if st := states(t, d); st[1]&0x0f != want {
			t.Errorf("%s: %s: RTPG group 1 state %d, want %d (%v)", when, p.name, st[1]&0x0f, want, st)
		}
		if first == nil {
			first = d
		} else if !bytes.Equal(d, first) {
			t.Errorf("%s: %s: RTPG % x differs from %s's % x", when, p.name, d, paths[0].name, first)
		}
		if err := p.ua.do(func() error { _, err := p.s.Inquiry(ctx, 0, false, 0, 96); return err }); err != nil {
			t.Errorf("%s: %s: INQUIRY: %v", when, p.name, err)
		}
		if err := p.ua.do(func() error { _, err := p.s.ReportLUNs(ctx); return err }); err != nil {
			t.Errorf("%s: %s: REPORT LUNS: %v", when, p.name, err)
		}
	}
	for _, p := range paths {
		_, err := p.s.Read(ctx, 0, 0, 1, bs)
		key, asc, _ := sense(err)
		switch {
		case p.tpgt != 1 && err != nil:
			t.Errorf("%s: %s: READ through group 2: %v", when, p.name, err)
		case p.tpgt != 1:
		case want == 2 && (key != 0x02 || asc != 0x040b):
			t.Errorf("%s: %s: READ in standby: %v, want NOT READY 04h/0Bh", when, p.name, err)
		case want == 0 && err != nil:
			t.Errorf("%s: %s: READ active/optimized: %v", when, p.name, err)
		}
	}
}

// TestALUASharedAcrossInitiators: ALUA states from the config, changed by
// a reload, by the API, by the CLI and by an initiator's SET TARGET PORT
// GROUPS, are the same for two initiators with different views; every
// change reaches both with ASYMMETRIC ACCESS STATE CHANGED without ending
// a session; the CLI's change is written to the config, and a restart
// comes up in it.
func TestALUASharedAcrossInitiators(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, fmt.Sprintf(aluaConfig, dir, freeAddr(t), freeAddr(t)))
	an := startALUANode(t, cfgPath)
	ctx := ctxT(t)
	p1, p2 := an.path(t, ini1, 1), an.path(t, ini2, 1)
	p2b := an.path(t, ini2, 2) // ini2's second path
	all := []*aluaPath{p1, p2, p2b}

	// The config's states and explicit ALUA.
	if inq, err := p1.s.Inquiry(ctx, 0, false, 0, 96); err != nil || inq[5]&0x30 != 0x30 {
		t.Errorf("TPGS: % x %v, want explicit and implicit (11b)", inq[:8], err)
	}
	if st := states(t, p2.rtpg(t)); len(st) != 2 || st[1] != 0 || st[2] != 1 {
		t.Errorf("RTPG at start: %v, want group 1 active/optimized, 2 active/non-optimized", st)
	}
	checkState(t, "start", 0, all...)

	// A reload of a config that sets group 1 to standby.
	text, _ := os.ReadFile(cfgPath)
	edited := strings.Replace(string(text), "  - tag: 1                       # the front path\n",
		"  - tag: 1                       # the front path\n    alua: { state: standby, preferred: true }\n", 1)
	writeConfig(t, cfgPath, edited)
	res, err := an.client.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.SessionsEnded != 0 || !strings.Contains(strings.Join(res.Changes, "\n"), "portal group 1: ALUA state standby (was active-optimized)") {
		t.Errorf("reload: %+v", res)
	}
	for _, p := range all {
		if !p.stateChanged(t) {
			t.Errorf("reload: %s saw no ASYMMETRIC ACCESS STATE CHANGED (%v)", p.name, p.ua.seen)
		}
	}
	checkState(t, "reload to standby", 2, all...)
	if st := states(t, p1.rtpg(t)); st[1] != 0x82 {
		t.Errorf("preferred standby group 1: %#x", st[1])
	}
	// A reload that changes nothing of ALUA raises nothing.
	if _, err := an.client.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.stateChanged(t) {
			t.Errorf("a reload without ALUA changes raised ASYMMETRIC ACCESS STATE CHANGED for %s", p.name)
		}
	}

	// The API sets it back to active/optimized.
	if _, err := an.client.SetALUA(ctx, 1, admin.ALUAActiveOptimized); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if !p.stateChanged(t) {
			t.Errorf("API: %s saw no ASYMMETRIC ACCESS STATE CHANGED", p.name)
		}
	}
	checkState(t, "API to active/optimized", 0, all...)

	// ini1 sets group 2 to standby with SET TARGET PORT GROUPS: ini2
	// sees it on both its paths, and its path through group 2 is refused.
	param := []byte{0, 0, 0, 0, 0x02, 0, 0, 2}
	stpg := []byte{0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, byte(len(param)), 0, 0}
	if r, err := p1.s.Execute(ctx, 0, stpg, param, 0); err != nil || r.Err() != nil {
		t.Fatalf("SET TARGET PORT GROUPS: %v %v", err, r.Err())
	}
	if p1.stateChanged(t) {
		t.Error("the initiator that sent SET TARGET PORT GROUPS got the unit attention too")
	}
	for _, p := range []*aluaPath{p2, p2b} {
		if !p.stateChanged(t) {
			t.Errorf("STPG: %s saw no ASYMMETRIC ACCESS STATE CHANGED", p.name)
		}
		if st := states(t, p.rtpg(t)); st[2] != 2 {
			t.Errorf("STPG: %s: RTPG group 2 %d, want standby", p.name, st[2])
		}
	}
	if _, err := p2b.s.Read(ctx, 0, 0, 1, bs); func() bool { k, a, _ := sense(err); return k != 2 || a != 0x040b }() {
		t.Errorf("READ through group 2 in standby: %v", err)
	}

	// The CLI sets group 1 to standby, and writes it to the config; the
	// API sets group 2 back to what the config says, over the
	// initiator's change.
	if out, err := halunCLI(t, an.sock, "alua", "set", "--group", "1", "--state", "standby"); err != nil {
		t.Fatalf("halun alua set: %v\n%s", err, out)
	}
	for _, p := range all {
		if !p.stateChanged(t) {
			t.Errorf("CLI: %s saw no ASYMMETRIC ACCESS STATE CHANGED", p.name)
		}
	}
	if _, err := an.client.SetALUA(ctx, 2, admin.ALUAActiveNonOptimized); err != nil {
		t.Fatal(err)
	}
	if st := states(t, p2b.rtpg(t)); st[2] != 1 {
		t.Errorf("API over STPG: group 2 %d, want active/non-optimized", st[2])
	}
	checkState(t, "CLI to standby", 2, all...)
	ps, err := an.client.Portals(ctx)
	if err != nil || len(ps) != 2 || ps[0].ALUA != admin.ALUAStandby || ps[1].ALUA != admin.ALUAActiveNonOptimized {
		t.Errorf("portals %+v %v", ps, err)
	}
	for _, p := range all {
		select {
		case <-p.s.Done():
			t.Errorf("%s ended: %v", p.name, p.s.Err())
		default:
		}
	}
	written, _ := os.ReadFile(cfgPath)
	for _, want := range []string{"alua: { state: standby, preferred: true }", "# the front path", "# the back path", "# initiators may set states", "alua: { state: active-nonoptimized }"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("written config lacks %q:\n%s", want, written)
		}
	}

	// A restart comes up in the written state.
	an.stop()
	an = startALUANode(t, cfgPath)
	p1, p2 = an.path(t, ini1, 1), an.path(t, ini2, 1)
	checkState(t, "after restart", 2, p1, p2)
	if st := states(t, p2.rtpg(t)); st[1] != 0x82 || st[2] != 1 {
		t.Errorf("RTPG after restart: %v", st)
	}
}
