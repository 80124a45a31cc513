// Package harness starts a real halun daemon for the black-box tests under
// test/: it builds cmd/halun once per test binary, runs `halun serve` on a
// free loopback port with a private data directory, and stops it with
// SIGTERM, failing the test if the daemon does not exit cleanly.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultIQN is the target the embedded default configuration serves.
const DefaultIQN = "iqn.2026-11.io.halun:default"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// RepoRoot is the repository's root directory.
func RepoRoot() string { return repoRoot() }

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds cmd/halun (once) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "halun-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "halun")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/halun")
		cmd.Dir = repoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/halun: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Daemon is a running halun process.
type Daemon struct {
	Addr    string // host:port of the first portal
	DataDir string
	IQN     string // the target URL addresses
	cmd     *exec.Cmd
	log     *SyncBuffer
	done    chan error
	stopped bool
}

// Options choose how the daemon starts.
type Options struct {
	// Config is a YAML config file; empty means the embedded default.
	Config string
	// Listen overrides the portal address; empty picks a free port.
	Listen string
	// DataDir overrides the data directory; empty uses a temp dir.
	DataDir string
	// Args are extra arguments to `halun serve`.
	Args []string
	// Portal, with Config, is the address of a portal the config itself
	// sets: the daemon then starts without --listen (which a config with
	// several portal groups refuses) and Addr is Portal.
	Portal string
	// IQN is the target URL builds addresses for; empty means DefaultIQN.
	IQN string
	// Env are extra NAME=value environment variables for the daemon, on
	// top of the test's own (NOTIFY_SOCKET, WATCHDOG_USEC, ...).
	Env []string
}

// Start runs `halun serve` and waits until its portal accepts connections.
// The daemon is stopped (SIGTERM, expecting exit 0) when the test ends.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	bin := Binary(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	args := []string{"serve", "--data-dir", o.DataDir}
	switch {
	case o.Config != "" && o.Portal != "":
		o.Listen = o.Portal
	case o.Listen == "":
		o.Listen = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		fallthrough
	default:
		args = append(args, "--listen", o.Listen)
	}
	if o.IQN == "" {
		o.IQN = DefaultIQN
	}
	if o.Config != "" {
		args = append(args, "--config", o.Config)
	}
	args = append(args, o.Args...)
	d := &Daemon{Addr: o.Listen, DataDir: o.DataDir, IQN: o.IQN, log: &SyncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, args...)
	if len(o.Env) > 0 {
		d.cmd.Env = append(os.Environ(), o.Env...)
	}
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start halun: %v", err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-d.done:
			t.Fatalf("halun exited before listening: %v\n%s", err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			d.cmd.Process.Kill()
			t.Fatalf("halun did not listen on %s within 30s\n%s", d.Addr, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { d.Stop(t) })
	return d
}

// URL returns the iscsi:// URL of a LUN of the default target.
func (d *Daemon) URL(lun int) string {
	return d.URLAt(d.Addr, lun)
}

// URLAt returns the iscsi:// URL of a LUN of the daemon's target through
// the portal at addr.
func (d *Daemon) URLAt(addr string, lun int) string {
	return fmt.Sprintf("iscsi://%s/%s/%d", addr, d.IQN, lun)
}

// Pid is the daemon's process ID.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Signal sends sig to the daemon.
func (d *Daemon) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to halun: %v", sig, err)
	}
}

// Log returns what the daemon printed so far.
func (d *Daemon) Log() string { return d.log.String() }

// WaitLog waits up to 5 s for the daemon's log to contain every one of
// want and returns the log. A client sees a reply before the daemon's
// log line for it has crossed the pipe to the test, so a test that
// checks what a reply logged waits for the line instead of reading the
// log at once.
func (d *Daemon) WaitLog(want ...string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := d.log.String()
		all := true
		for _, w := range want {
			if !strings.Contains(log, w) {
				all = false
				break
			}
		}
		if all || time.Now().After(deadline) {
			return log
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Alive reports whether the process is still running.
func (d *Daemon) Alive() bool {
	select {
	case err := <-d.done:
		d.done <- err
		return false
	default:
		return true
	}
}

// Wait waits up to d for the daemon to exit by itself (after signals the
// test sent) and returns how it ended: nil for exit status 0, else an
// *exec.ExitError. The test fails, and the daemon is killed, if it is
// still running after d. The cleanup then sends no SIGTERM.
func (d *Daemon) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	d.stopped = true
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(timeout):
		d.cmd.Process.Kill()
		t.Fatalf("halun still running %v after the test expected it to exit\n%s", timeout, tail(d.log.String(), 4000))
		return nil
	}
}

// Stop sends SIGTERM and requires a clean exit within 30 s.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	d.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Errorf("halun did not exit cleanly on SIGTERM: %v\n%s", err, tail(d.log.String(), 4000))
		}
	case <-ctx.Done():
		d.cmd.Process.Kill()
		t.Errorf("halun did not exit within 30s of SIGTERM\n%s", tail(d.log.String(), 4000))
	}
}

// Kill ends the daemon with SIGKILL, as a crash would, and waits for it.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	d.cmd.Process.Kill()
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(30 * time.Second):
		t.Fatalf("halun pid %d did not die within 30s of SIGKILL", d.cmd.Process.Pid)
	}
}

// Tail is the last n bytes of s, for a log in a failure message.
func Tail(s string, n int) string { return tail(s, n) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// SyncBuffer collects output written from many goroutines (a daemon's
// log, a logger shared by connections).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Lines returns the lines written so far that contain sub.
func (s *SyncBuffer) Lines(sub string) []string {
	var out []string
	for _, line := range strings.Split(s.String(), "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Need returns the path of an external program the test needs; a missing
// program fails the test (make test installs them), it never skips.
func Need(t testing.TB, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s is not installed; run `make deps` (make test does) to install the test peers", prog)
	}
	return p
}
