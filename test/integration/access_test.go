package integration

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/server"
	"github.com/halun/halun/test/harness"
)

// Access control by initiator name (DESIGN problem 2): discovery filtering,
// login refusal with 0202, per-initiator LUN maps, and the failure where a
// new initiator reuses another's ISID or session handle.

const (
	aclTarget  = "iqn.2026-11.io.halun.test:acl"
	openTarget = "iqn.2026-11.io.halun.test:open"
	bOnly      = "iqn.2026-11.io.halun.test:b-only"
	iqnA       = "iqn.2026-11.io.halun.test:host-a"
	iqnB       = "iqn.2026-11.io.halun.test:host-b"
	iqnC       = "iqn.2026-11.io.halun.test:host-c"
)

// freeAddr returns host:port with a port that was free a moment ago.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startConfig builds a node from YAML (memory volumes) and serves it until
// the test ends.
func startConfig(t *testing.T, yaml string) *server.Node {
	t.Helper()
	return startConfigLog(t, yaml, nil)
}

// startConfigLog is startConfig logging to log (nil: harness.TestLogger).
func startConfigLog(t *testing.T, yaml string, log *slog.Logger) *server.Node {
	t.Helper()
	// State the daemon keeps (reservations) goes to a scratch data dir.
	cfg, err := config.ParseWith(t.Name()+".yaml", []byte(yaml), config.Overrides{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	return harness.ServeInProcess(t, cfg, harness.InProcessOptions{Log: log}).Node
}

// aclConfig: target acl lets A (its own LUN map: 0 → v1, 3 → v2) and B (the
// target's LUNs: 0 → v1) in; target open lets everyone in; b-only only B.
func aclConfig(addr string) string {
	return fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q]}
volumes:
  - {name: v1, backend: memory, size: 4MiB, serial: acl-v1-0001}
  - {name: v2, backend: memory, size: 4MiB, serial: acl-v2-0002}
  - {name: v3, backend: memory, size: 4MiB, serial: acl-v3-0003}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v1}]
    access:
      initiators:
        - iqn: %s
          luns: [{lun: 0, volume: v1}, {lun: 3, volume: v2}]
        - iqn: %s
  - iqn: %s
    luns: [{lun: 0, volume: v3}]
    access: {all: true}
  - iqn: %s
    luns: [{lun: 0, volume: v2}]
    access:
      initiators: [{iqn: %s}]
`, addr, aclTarget, strings.ToUpper(iqnA), iqnB, openTarget, bOnly, iqnB)
}

func names(ts []initiator.DiscoveredTarget) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func wantLoginStatus(t *testing.T, err error, class, detail uint8) {
	t.Helper()
	var le *initiator.LoginError
	if !errors.As(err, &le) || le.Class != class || le.Detail != detail {
		t.Fatalf("login: %v; want status %02x%02x", err, class, detail)
	}
}

// TestAccessDiscoveryFiltering: SendTargets lists only the targets the
// initiator may log in to, for All and for a named target.
func TestAccessDiscoveryFiltering(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, aclConfig(addr))
	for _, tc := range []struct {
		initiator string
		want      []string
	}{
		{iqnA, []string{aclTarget, openTarget}},
		{strings.ToUpper(iqnA), []string{aclTarget, openTarget}},
		{iqnB, []string{aclTarget, bOnly, openTarget}},
		{iqnC, []string{openTarget}},
	} {
		got, err := initiator.Discover(ctxT(t), addr, tc.initiator)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%s discovers %v, want %v", tc.initiator, names(got), tc.want)
		}
	}
	got, err := initiator.SendTargets(ctxT(t), addr, iqnA, bOnly)
	if err != nil || len(got) != 0 {
		t.Errorf("SendTargets=%s as A: %v, %v; want nothing", bOnly, got, err)
	}
	got, err = initiator.SendTargets(ctxT(t), addr, iqnB, bOnly)
	if err != nil || len(got) != 1 || len(got[0].Portals) != 1 || got[0].Portals[0].TPGT != 1 {
		t.Errorf("SendTargets=%s as B: %+v, %v", bOnly, got, err)
	}
}

// TestAccessLoginRefused0202: an initiator not listed is refused with
// status 0202 (authorization failure); names compare case-insensitively.
func TestAccessLoginRefused0202(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, aclConfig(addr))
	_, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnC, TargetName: aclTarget})
	wantLoginStatus(t, err, 2, 2)
	_, err = initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnA, TargetName: bOnly, SkipSecurityStage: true})
	wantLoginStatus(t, err, 2, 2)
	s, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: "IQN.2026-11.IO.HALUN.TEST:HOST-A", TargetName: aclTarget})
	if err != nil {
		t.Fatalf("A in upper case: %v", err)
	}
	s.Close()
	s, err = initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnC, TargetName: openTarget})
	if err != nil {
		t.Fatalf("C on the open target: %v", err)
	}
	s.Close()
}

func luns(t *testing.T, s *initiator.Session) []uint64 {
	t.Helper()
	l, err := s.ReportLUNs(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func serialOf(t *testing.T, s *initiator.Session, lun uint64) string {
	t.Helper()
	b, err := s.Inquiry(ctxT(t), lun, true, 0x80, 255)
	if err != nil {
		t.Fatalf("VPD 0x80 of LUN %d: %v", lun, err)
	}
	return string(b[4:])
}

// scsiStatus runs cdb and returns status, sense key and ASC.
func scsiStatus(t *testing.T, s *initiator.Session, lun uint64, cdb, out []byte, readLen int) (status, key, asc uint8) {
	t.Helper()
	r, err := s.Execute(ctxT(t), lun, cdb, out, readLen)
	if err != nil {
		t.Fatalf("% x: %v", cdb, err)
	}
	k, a, _, _ := initiator.ParseSense(r.Sense)
	return r.Status, k, a
}

// TestAccessPerInitiatorLUNMaps: REPORT LUNS shows each initiator its own
// map, numbered as mapped; a LUN outside it is LOGICAL UNIT NOT SUPPORTED.
func TestAccessPerInitiatorLUNMaps(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, aclConfig(addr))
	a := dialAs(t, addr, iqnA, pdu.ISID{})
	b := dialAs(t, addr, iqnB, pdu.ISID{})
	if got := luns(t, a); !slices.Equal(got, []uint64{0, 3}) {
		t.Errorf("A sees LUNs %v, want [0 3]", got)
	}
	if got := luns(t, b); !slices.Equal(got, []uint64{0}) {
		t.Errorf("B sees LUNs %v, want [0]", got)
	}
	if s := serialOf(t, a, 3); s != "acl-v2-0002" {
		t.Errorf("A's LUN 3 is %q, want v2", s)
	}
	if s := serialOf(t, b, 0); s != "acl-v1-0001" {
		t.Errorf("B's LUN 0 is %q, want v1", s)
	}
	if st, key, asc := scsiStatus(t, b, 3, make([]byte, 6), nil, 0); st != 2 || key != 5 || asc != 0x25 {
		t.Errorf("TEST UNIT READY on B's unmapped LUN 3: status %#x key %#x asc %#x, want LOGICAL UNIT NOT SUPPORTED", st, key, asc)
	}
	// Data written by A through LUN 3 is v2's, not v1's.
	firstUA(t, a, 3)
	firstUA(t, b, 0)
	data := randomBytes(t, blockSize)
	if err := a.Write(ctxT(t), 3, 0, data, blockSize); err != nil {
		t.Fatal(err)
	}
	got, err := b.Read(ctxT(t), 0, 0, 1, blockSize)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == string(data) {
		t.Error("A's write to its LUN 3 (v2) landed on v1")
	}
}

func dialAs(t *testing.T, addr, name string, isid pdu.ISID) *initiator.Session {
	t.Helper()
	s, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: name, TargetName: aclTarget, ISID: isid})
	if err != nil {
		t.Fatalf("login as %s: %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// firstUA returns the ASC/ASCQ of the unit attention a session's first
// command on lun reports (0, 0 if none).
func firstUA(t *testing.T, s *initiator.Session, lun uint64) (uint8, uint8) {
	t.Helper()
	r, err := s.Execute(ctxT(t), lun, make([]byte, 6), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, asc, ascq, _ := initiator.ParseSense(r.Sense)
	if r.Status != 2 || key != 6 {
		return 0, 0
	}
	return asc, ascq
}

// TestAccessISIDReuse models the "slot" failure: initiator B logs in with
// the ISID (and session handle) initiator A used. B must see only its own
// LUNs and inherit none of A's state: not its session, not its pending
// unit attentions, not its reservation.
func TestAccessISIDReuse(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	startConfig(t, aclConfig(addr))
	isid := pdu.ISID{0x80, 0x12, 0x34, 0x56, 0, 1}

	// A logs in with ISID X, consumes its POWER ON unit attention on v1
	// (its LUN 0), then a LUN reset from another of A's sessions leaves A a
	// pending BUS DEVICE RESET unit attention it never collects.
	a, err := initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnA, TargetName: aclTarget, ISID: isid})
	if err != nil {
		t.Fatal(err)
	}
	clearUnitAttention(t, a)
	tsihA := a.Negotiated().TSIH
	other := dialAs(t, addr, iqnA, pdu.ISID{0x80, 9, 9, 9, 9, 9})
	if _, err := other.LUNReset(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}

	// While A's session lives, B presents A's ISID with A's TSIH: that is
	// not B's session, so the login is refused (0x020a, session does not
	// exist) and A's session is untouched.
	_, err = initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnB, TargetName: aclTarget, ISID: isid, TSIH: tsihA})
	wantLoginStatus(t, err, 2, 0x0a)
	// B with A's ISID and a new session: a different I_T nexus, so A's
	// session is not reinstated (it keeps working).
	b1 := dialAs(t, addr, iqnB, isid)
	if err := a.Nop(ctxT(t)); err != nil {
		t.Fatalf("A's session ended when B logged in with A's ISID: %v", err)
	}
	if got := luns(t, b1); !slices.Equal(got, []uint64{0}) {
		t.Errorf("B with A's ISID sees LUNs %v, want [0]", got)
	}
	b1.Logout(ctxT(t))

	// A holds an SPC-2 reservation of v1 (both its LUN 0 and B's).
	if asc, _ := firstUA(t, a, 0); asc != 0x29 {
		t.Fatalf("A did not get the reset unit attention (asc %#x)", asc)
	}
	if st, _, _ := scsiStatus(t, a, 0, []byte{0x16, 0, 0, 0, 0, 0}, nil, 0); st != 0 {
		t.Fatalf("RESERVE(6) by A: status %#x", st)
	}
	// A leaves a unit attention pending (a second reset), then logs out:
	// its nexus ends, and with it A's reservation and unit attentions.
	if _, err := other.LUNReset(ctxT(t), 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Logout(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	a.Close()

	// B logs in with A's ISID, and tries A's old TSIH too.
	_, err = initiator.Dial(ctxT(t), addr, initiator.Options{InitiatorName: iqnB, TargetName: aclTarget, ISID: isid, TSIH: tsihA})
	wantLoginStatus(t, err, 2, 0x0a)
	b := dialAs(t, addr, iqnB, isid)
	if got := luns(t, b); !slices.Equal(got, []uint64{0}) {
		t.Errorf("B with A's ISID sees LUNs %v, want only its own [0]", got)
	}
	if st, key, asc := scsiStatus(t, b, 3, make([]byte, 6), nil, 0); st != 2 || key != 5 || asc != 0x25 {
		t.Errorf("B reaches A's LUN 3: status %#x key %#x asc %#x", st, key, asc)
	}
	// B's first command reports B's own new nexus (POWER ON, 29/00), not
	// A's pending reset (29/03).
	if asc, ascq := firstUA(t, b, 0); asc != 0x29 || ascq != 0x00 {
		t.Errorf("B's first unit attention %#x/%#x, want 29/00 (its own power on), not A's reset", asc, ascq)
	}
	// A's reservation went with A's nexus: B may write.
	if err := b.Write(ctxT(t), 0, 0, randomBytes(t, blockSize), blockSize); err != nil {
		t.Errorf("B's write after A left: %v", err)
	}
	// And while A holds a reservation again, B with A's ISID is another
	// nexus: RESERVATION CONFLICT.
	a2 := dialAs(t, addr, iqnA, isid)
	clearUnitAttention(t, a2)
	if st, _, _ := scsiStatus(t, a2, 0, []byte{0x16, 0, 0, 0, 0, 0}, nil, 0); st != 0 {
		t.Fatalf("RESERVE(6) by A again: status %#x", st)
	}
	if st, _, _ := scsiStatus(t, b, 0, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, nil, blockSize); st != 0x18 {
		t.Errorf("B (A's ISID) reads A's reserved LU: status %#x, want RESERVATION CONFLICT", st)
	}
}
