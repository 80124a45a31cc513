// Package admin_test drives live reconfiguration end to end: an in-process
// node built from a config file with memory volumes, sessions of the
// project's initiator doing I/O, and changes made by reload and through the
// admin socket. Running the node in-process lets -race see both sides.
package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/server"
	"github.com/halun/halun/test/harness"
)

const (
	targetA = "iqn.2026-11.io.halun.test:a"
	targetB = "iqn.2026-11.io.halun.test:b"
	ini1    = "iqn.2026-11.io.halun.test:ini1"
	ini2    = "iqn.2026-11.io.halun.test:ini2"
	ini3    = "iqn.2026-11.io.halun.test:ini3"
	bs      = 512
)

const configTemplate = `# live reconfiguration test
node:
  data_dir: %[1]s   # serials live here

portal_groups:
  - tag: 1
    portals: ["%[2]s"]

volumes:
  - name: v0          # the busy disk
    backend: memory
    size: 8MiB
    serial: adm0000000000000
  - name: v1
    backend: memory
    size: 4MiB
    serial: adm0000000000001
  - name: v2
    backend: memory
    size: 4MiB
    serial: adm0000000000002

targets:
  # the target whose session must keep running
  - iqn: ` + targetA + `
    luns:
      - { lun: 0, volume: v0 }
    access:
      initiators:
        - iqn: ` + ini1 + `
        - iqn: ` + ini3 + `   # removed by the reload
%[3]s`

const targetBText = `  # an unrelated target, removed by the reload
  - iqn: ` + targetB + `
    luns:
      - { lun: 0, volume: v2 }
    access: { all: true }
`

// node is a running in-process halun node.
type node struct {
	n      *server.Node
	addr   string
	path   string
	sock   string
	client *admin.Client
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func startNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "halun.yaml")
	writeConfig(t, path, fmt.Sprintf(configTemplate, dir, freeAddr(t), targetBText))
	nd, _ := serveConfig(t, path)
	return nd
}

// serveConfig builds a node from the config file at path and serves it,
// iSCSI and the admin socket beside the file, until stop is called or the
// test ends. nd.addr is the first bound portal.
func serveConfig(t *testing.T, path string) (nd *node, stop func()) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(filepath.Dir(path), admin.SocketName)
	p := harness.ServeInProcess(t, cfg, harness.InProcessOptions{Source: path, AdminSocket: sock})
	return &node{n: p.Node, addr: p.Addr, path: path, sock: sock, client: admin.NewClient(sock)}, p.Stop
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (nd *node) login(t *testing.T, target, ini string) *initiator.Session {
	t.Helper()
	s, err := initiator.Dial(ctxT(t), nd.addr, initiator.Options{InitiatorName: ini, TargetName: target})
	if err != nil {
		t.Fatalf("login %s → %s: %v", ini, target, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sense returns the sense key and ASC/ASCQ of a CHECK CONDITION error.
func sense(err error) (key uint8, asc uint16, ok bool) {
	var se *initiator.SCSIError
	if !errors.As(err, &se) || se.Status != initiator.StatusCheckCondition {
		return 0, 0, false
	}
	return se.SenseKey, uint16(se.ASC)<<8 | uint16(se.ASCQ), true
}

// uaLog records unit attentions a session saw, by ASC/ASCQ.
type uaLog struct {
	mu   sync.Mutex
	seen map[uint16]int
}

func (u *uaLog) add(asc uint16) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen == nil {
		u.seen = map[uint16]int{}
	}
	u.seen[asc]++
}

func (u *uaLog) has(asc uint16) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[asc] > 0
}

// do runs op, retrying after unit attentions (which it records) as an
// initiator does; any other error is returned.
func (u *uaLog) do(op func() error) error {
	for i := 0; ; i++ {
		err := op()
		key, asc, ok := sense(err)
		if err == nil || !ok || key != 0x06 || i > 8 {
			return err
		}
		u.add(asc)
	}
}

// ioLoop writes and reads back LUN 0 of s until stop, failing on any
// error other than a unit attention.
func ioLoop(t *testing.T, s *initiator.Session, ua *uaLog, stop <-chan struct{}, ops *atomic.Int64) error {
	ctx := ctxT(t)
	buf := make([]byte, 8*bs)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		rand.Read(buf)
		lba := uint64(i%64) * 8
		if err := ua.do(func() error { return s.Write(ctx, 0, lba, buf, bs) }); err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
		var got []byte
		if err := ua.do(func() (err error) { got, err = s.Read(ctx, 0, lba, 8, bs); return }); err != nil {
			return fmt.Errorf("read %d: %w", i, err)
		}
		if !bytes.Equal(got, buf) {
			return fmt.Errorf("read %d: data differs from what was written", i)
		}
		ops.Add(1)
	}
}

// TestLiveReload keeps a session doing I/O while a reload adds a LUN to
// its target, removes an unrelated target and removes another initiator's
// access: the busy session never sees an error, sees REPORTED LUNS DATA
// HAS CHANGED and the new LUN; only the affected sessions end.
func TestLiveReload(t *testing.T) {
	nd := startNode(t)
	busy := nd.login(t, targetA, ini1)
	other := nd.login(t, targetB, ini2)
	dropped := nd.login(t, targetA, ini3)
	var ua uaLog
	ctx := ctxT(t)
	for _, s := range []*initiator.Session{busy, other, dropped} {
		if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
			t.Fatal(err)
		}
	}
	ua = uaLog{}

	stop := make(chan struct{})
	var ops atomic.Int64
	ioErr := make(chan error, 1)
	go func() { ioErr <- ioLoop(t, busy, &ua, stop, &ops) }()
	waitOps := func(n int64) {
		t.Helper()
		start := ops.Load()
		deadline := time.Now().Add(20 * time.Second)
		for ops.Load() < start+n {
			select {
			case err := <-ioErr:
				t.Fatalf("I/O stopped: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("I/O stalled at %d operations", ops.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitOps(20)

	sessions, err := nd.client.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 3 {
		t.Fatalf("sessions before reload: %+v", sessions)
	}

	// The new config: LUN 1 added to target A, ini3 removed from it,
	// target B removed.
	text, _ := os.ReadFile(nd.path)
	edited := strings.Replace(string(text), "      - { lun: 0, volume: v0 }\n", "      - { lun: 0, volume: v0 }\n      - { lun: 1, volume: v1 }\n", 1)
	edited = strings.Replace(edited, "        - iqn: "+ini3+"   # removed by the reload\n", "", 1)
	edited = strings.Replace(edited, targetBText, "", 1)
	if edited == string(text) {
		t.Fatal("config edit did nothing")
	}
	writeConfig(t, nd.path, edited)
	res, err := nd.client.Reload(ctx)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	t.Logf("reload: %q", res.Changes)
	if res.SessionsEnded != 2 {
		t.Errorf("reload ended %d sessions, want 2 (target B's and ini3's)", res.SessionsEnded)
	}
	waitOps(20)
	close(stop)
	if err := <-ioErr; err != nil {
		t.Fatalf("the busy session saw an error: %v", err)
	}
	if ops.Load() < 40 {
		t.Errorf("only %d I/O rounds", ops.Load())
	}

	// The busy session learns about the new LUN.
	var luns []uint64
	if err := ua.do(func() (err error) { luns, err = busy.ReportLUNs(ctx); return }); err != nil {
		t.Fatal(err)
	}
	if len(luns) != 2 {
		t.Errorf("REPORT LUNS after reload: %v, want LUN 0 and 1", luns)
	}
	if err := ua.do(func() error { return busy.TestUnitReady(ctx, 1) }); err != nil {
		t.Errorf("new LUN 1: %v", err)
	}
	if _, ok := any(scsi.NewTarget("x", nil)).(interface{ ReportedLUNsChanged() }); ok {
		if !ua.has(0x3f0e) {
			t.Errorf("the busy session never saw REPORTED LUNS DATA HAS CHANGED; unit attentions: %v", ua.seen)
		}
	} else {
		t.Log("scsi has no ReportedLUNsChanged yet: REPORTED LUNS DATA HAS CHANGED not checked")
	}

	// The affected sessions are gone, the others still listed.
	for _, s := range []*initiator.Session{other, dropped} {
		if err := s.TestUnitReady(ctx, 0); err == nil {
			t.Errorf("a session that lost its access still works")
		}
	}
	sessions, err = nd.client.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].Initiator != ini1 || sessions[0].Commands < 80 || sessions[0].WriteBytes == 0 || sessions[0].ReadBytes == 0 {
		t.Errorf("sessions after reload: %+v", sessions)
	}

	// A broken file changes nothing.
	writeConfig(t, nd.path, edited+"  - bogus: 1\n")
	if _, err := nd.client.Reload(ctx); err == nil || !strings.Contains(err.Error(), "halun.yaml:") {
		t.Errorf("reload of an invalid file: %v", err)
	}
	if ts, _ := nd.client.Targets(ctx); len(ts) != 1 || len(ts[0].LUNs) != 2 {
		t.Errorf("targets after a refused reload: %+v", ts)
	}
}

// TestAPIChanges makes changes through the admin socket with a session
// running: each is applied live and written back with the comments kept.
func TestAPIChanges(t *testing.T) {
	nd := startNode(t)
	s := nd.login(t, targetA, ini1)
	ctx := ctxT(t)
	var ua uaLog
	if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}
	c := nd.client
	must := func(res *admin.Result, err error) *admin.Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !res.Persisted {
			t.Errorf("change not persisted: %+v", res)
		}
		return res
	}
	must(c.AddVolume(ctx, admin.VolumeAdd{Name: "v3", Backend: "memory", Size: "2MiB"}))
	must(c.MapLUN(ctx, targetA, 3, "v3", ""))
	var luns []uint64
	if err := ua.do(func() (err error) { luns, err = s.ReportLUNs(ctx); return }); err != nil || len(luns) != 2 {
		t.Errorf("REPORT LUNS after lun map: %v %v", luns, err)
	}
	vols, err := c.Volumes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vols {
		// scsi_id's form: "3" and the 16-byte NAA-6 designator (6…).
		if !strings.HasPrefix(v.WWID, "36") || len(v.WWID) != 33 {
			t.Errorf("volume %s WWID %q", v.Name, v.WWID)
		}
	}

	// Resize: CAPACITY DATA HAS CHANGED and the new size.
	if _, err := c.ResizeVolume(ctx, "v0", "16MiB"); err != nil {
		if strings.Contains(err.Error(), "cannot resize") {
			t.Logf("resize not available yet: %v", err)
		} else {
			t.Fatal(err)
		}
	} else {
		var blocks uint64
		if err := ua.do(func() (err error) { blocks, _, err = s.ReadCapacity16(ctx, 0); return }); err != nil {
			t.Fatal(err)
		}
		if blocks != 16<<20/bs {
			t.Errorf("READ CAPACITY after resize: %d blocks", blocks)
		}
		if !ua.has(0x2a09) {
			t.Errorf("no CAPACITY DATA HAS CHANGED; unit attentions: %v", ua.seen)
		}
	}

	must(c.UnmapLUN(ctx, targetA, 3, ""))
	must(c.RemoveVolume(ctx, "v3"))
	must(c.RemoveACL(ctx, targetA, ini3))
	if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
		t.Errorf("the session broke: %v", err)
	}
	text, err := os.ReadFile(nd.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, comment := range []string{"# live reconfiguration test", "# the busy disk", "# the target whose session must keep running", "# serials live here"} {
		if !strings.Contains(string(text), comment) {
			t.Errorf("comment %q lost:\n%s", comment, text)
		}
	}
	if strings.Contains(string(text), "v3") || strings.Contains(string(text), ini3) {
		t.Errorf("removed entries still in the file:\n%s", text)
	}
	if _, err := config.Load(nd.path); err != nil {
		t.Errorf("written config invalid: %v", err)
	}
}

// TestALUAState sets a target port group to standby: media access is
// refused with NOT READY, INQUIRY still answers, and REPORT TARGET PORT
// GROUPS shows the state.
func TestALUAState(t *testing.T) {
	nd := startNode(t)
	s := nd.login(t, targetA, ini1)
	ctx := ctxT(t)
	var ua uaLog
	if err := ua.do(func() error { return s.TestUnitReady(ctx, 0) }); err != nil {
		t.Fatal(err)
	}
	if _, err := nd.client.SetALUA(ctx, 1, admin.ALUAStandby); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(ctx, 0, 0, 1, bs)
	for i := 0; i < 4; i++ {
		if key, _, _ := sense(err); key != 0x06 {
			break
		}
		_, err = s.Read(ctx, 0, 0, 1, bs)
	}
	if key, asc, _ := sense(err); key != 0x02 || asc != 0x040b {
		t.Errorf("READ in standby: %v, want NOT READY 04h/0Bh", err)
	}
	if err := ua.do(func() error { _, err := s.Inquiry(ctx, 0, false, 0, 96); return err }); err != nil {
		t.Errorf("INQUIRY in standby: %v", err)
	}
	rtpg := func() byte {
		cdb := make([]byte, 12)
		cdb[0], cdb[1] = 0xa3, 0x0a
		cdb[9] = 0xff
		var r *initiator.Response
		if err := ua.do(func() (err error) {
			r, err = s.Execute(ctx, 0, cdb, nil, 255)
			if err == nil {
				err = r.Err()
			}
			return
		}); err != nil {
			t.Fatalf("REPORT TARGET PORT GROUPS: %v", err)
		}
		if len(r.Data) < 12 {
			t.Fatalf("RTPG data %x", r.Data)
		}
		return r.Data[4] & 0x0f
	}
	if st := rtpg(); st != 2 {
		t.Errorf("RTPG state %d, want 2 (standby)", st)
	}
	if _, err := nd.client.SetALUA(ctx, 1, admin.ALUAActiveOptimized); err != nil {
		t.Fatal(err)
	}
	if st := rtpg(); st != 0 {
		t.Errorf("RTPG state %d, want 0 (active/optimized)", st)
	}
	if err := ua.do(func() error { _, err := s.Read(ctx, 0, 0, 1, bs); return err }); err != nil {
		t.Errorf("READ after active again: %v", err)
	}
	ps, err := nd.client.Portals(ctx)
	if err != nil || len(ps) != 1 || ps[0].ALUA != admin.ALUAActiveOptimized {
		t.Errorf("portals %+v %v", ps, err)
	}
}
