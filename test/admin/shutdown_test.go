package admin_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/test/harness"
)

const shutdownIQN = "iqn.2026-11.io.halun.test:shutdown"

// shutdownConfig serves one write-back file volume; %s is the logout wait.
const shutdownConfig = `# served by the shutdown tests
node:
  shutdown_logout_wait: %s
portal_groups:
  - tag: 1
    portals: ["127.0.0.1:3260"]   # replaced by --listen
volumes:
  - { name: f0, backend: file, path: f0.img, size: 16MiB, serial: sdn0000000000000, write_cache: true }
targets:
  - iqn: ` + shutdownIQN + `
    luns:
      - { lun: 0, volume: f0 }
    access: { all: true }
`

// block is one acknowledged write: 512-byte blocks at lba.
type block struct {
	lba  uint64
	data []byte
}

// checkVolume reads the daemon's volume file and requires every
// acknowledged write in it.
func checkVolume(t *testing.T, dataDir string, writes []block) {
	t.Helper()
	img, err := os.ReadFile(filepath.Join(dataDir, "f0.img"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range writes {
		off := int(w.lba) * 512
		if off+len(w.data) > len(img) || !bytes.Equal(img[off:off+len(w.data)], w.data) {
			t.Fatalf("acknowledged write at LBA %d is not in the volume file", w.lba)
		}
	}
}

func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*131 + i*7 + i/512)
	}
	return b
}

// TestDaemonSIGTERMDrainsBusySession: SIGTERM with a session busy writing
// asks it to log out (Async Message, event 1, Parameter3 = the configured
// wait); the session's commands are answered, it logs out, and the daemon
// flushes the volume and exits 0, logging each phase. Every acknowledged
// write is in the volume file.
func TestDaemonSIGTERMDrainsBusySession(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, fmt.Sprintf(shutdownConfig, "30s"))
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: filepath.Join(dir, "data"), IQN: shutdownIQN})

	events := make(chan initiator.AsyncEvent, 4)
	s, err := initiator.Dial(ctxT(t), d.Addr, initiator.Options{InitiatorName: ini1, TargetName: shutdownIQN,
		ImmediateData: true, OnAsyncEvent: func(ev initiator.AsyncEvent) { events <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ua uaLog
	if err := ua.do(func() error { return s.TestUnitReady(ctxT(t), 0) }); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		acked  []block
		failed []error
		wg     sync.WaitGroup
	)
	started := make(chan struct{}, 2)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				b := block{lba: uint64(w*8192 + i*8), data: pattern(w*100000+i, 8*512)}
				if err := s.Write(ctxT(t), 0, b.lba, b.data, 512); err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				acked = append(acked, b)
				mu.Unlock()
				if i == 5 {
					started <- struct{}{}
				}
			}
		}()
	}
	<-started
	<-started

	if err := syscall.Kill(d.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("halun exited with %v after SIGTERM, want status 0\n%s", err, d.Log())
	}
	wg.Wait()
	for _, err := range failed {
		if !errors.Is(err, initiator.ErrLogoutRequested) {
			t.Errorf("a write failed with %v; want every sent one answered, new ones refused for the logout", err)
		}
	}
	select {
	case ev := <-events:
		if ev.Event != pdu.AsyncLogoutRequest || ev.Param3 != 30 {
			t.Errorf("async event %+v, want event 1 (logout request) with Parameter3 30", ev)
		}
	default:
		t.Error("the session got no Async Message")
	}
	if err := s.Err(); !errors.Is(err, initiator.ErrLogoutRequested) {
		t.Errorf("the session ended with %v, want its logout", err)
	}
	log := d.Log()
	for _, phase := range []string{"shutting down", "shutdown: portals closed", "shutdown: asked initiators to log out",
		"shutdown: every session logged out", "shutdown: connections closed", "shutdown: volumes flushed and closed",
		"msg=stopped"} {
		if !strings.Contains(log, phase) {
			t.Errorf("the log lacks %q:\n%s", phase, log)
		}
	}
	checkVolume(t, d.DataDir, acked)
	t.Logf("%d acknowledged writes verified", len(acked))
}

// rawWrite writes data at lba with one WRITE(10) carrying immediate data
// and waits for GOOD, retrying past unit attentions.
func rawWrite(t *testing.T, rc *initiator.RawConn, lba uint32, data []byte) {
	t.Helper()
	for try := 0; try < 4; try++ {
		itt := rc.NextITT
		rc.NextITT++
		m := pdu.SCSICommand{Final: true, Write: true, Attr: pdu.AttrSimple, ITT: itt,
			ExpectedDataTransferLength: uint32(len(data)), CmdSN: rc.CmdSN, ExpStatSN: rc.ExpStatSN}
		m.CDB[0] = 0x2a
		m.CDB[2], m.CDB[3], m.CDB[4], m.CDB[5] = byte(lba>>24), byte(lba>>16), byte(lba>>8), byte(lba)
		n := len(data) / 512
		m.CDB[7], m.CDB[8] = byte(n>>8), byte(n)
		var h pdu.Header
		m.Encode(&h)
		if err := rc.SendPDU(&h, nil, data); err != nil {
			t.Fatal(err)
		}
		rc.CmdSN++
		for {
			p, err := rc.ReadPDUTimeout(30 * time.Second)
			if err != nil {
				t.Fatalf("waiting for the write's status: %v", err)
			}
			if p.Header.Opcode() != pdu.OpSCSIResponse {
				continue
			}
			var r pdu.SCSIResponse
			r.Decode(&p.Header)
			if r.Status == 0 {
				return
			}
			break
		}
	}
	t.Fatal("the write never completed with GOOD")
}

// TestDaemonSecondSIGTERM: a second SIGTERM while the daemon waits for a
// session that ignores the logout request exits at once with status 143
// (128+SIGTERM). What was acknowledged is in the volume file, and the
// daemon starts again on the same data directory.
func TestDaemonSecondSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "halun.yaml")
	writeConfig(t, cfgPath, fmt.Sprintf(shutdownConfig, "1h"))
	dataDir := filepath.Join(dir, "data")
	d := harness.Start(t, harness.Options{Config: cfgPath, DataDir: dataDir, IQN: shutdownIQN})

	rc, err := initiator.DialRaw(ctxT(t), d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Login(ctxT(t), initiator.Options{InitiatorName: ini1, TargetName: shutdownIQN, ImmediateData: true}); err != nil {
		t.Fatal(err)
	}
	w := block{lba: 64, data: pattern(7, 4*512)}
	rawWrite(t, rc, uint32(w.lba), w.data)

	if err := syscall.Kill(d.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The session hears the logout request and ignores it: the daemon
	// would wait an hour.
	for {
		p, err := rc.ReadPDUTimeout(30 * time.Second)
		if err != nil {
			t.Fatalf("no Async Message after SIGTERM: %v\n%s", err, d.Log())
		}
		if p.Header.Opcode() == pdu.OpAsyncMessage {
			break
		}
	}
	if err := syscall.Kill(d.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = d.Wait(t, 20*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("halun ended with %v after a second SIGTERM, want exit status 143\n%s", err, d.Log())
	}
	if !strings.Contains(d.Log(), "second signal: exiting at once") {
		t.Errorf("the log does not say why it exited:\n%s", d.Log())
	}
	checkVolume(t, dataDir, []block{w})

	// The next start finds everything as it was left.
	d2 := harness.Start(t, harness.Options{Config: cfgPath, DataDir: dataDir, IQN: shutdownIQN})
	s, err := initiator.Dial(ctxT(t), d2.Addr, initiator.Options{InitiatorName: ini1, TargetName: shutdownIQN})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ua uaLog
	var got []byte
	if err := ua.do(func() (err error) { got, err = s.Read(ctxT(t), 0, w.lba, 4, 512); return }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, w.data) {
		t.Error("the acknowledged write reads back differently after the restart")
	}
}
