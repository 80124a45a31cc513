package service

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/test/harness"
)

// notification is one sd_notify datagram and what the portal answered
// when it arrived.
type notification struct {
	state string
	// portalUp says whether a TCP connection to the portal succeeded
	// right after the datagram arrived.
	portalUp bool
}

// notifySocket listens on a unixgram socket as systemd's NOTIFY_SOCKET
// does and delivers each datagram; portal is dialled on every READY=1.
type notifySocket struct {
	path string
	conn *net.UnixConn
	ch   chan notification
}

func listenNotify(t *testing.T, portal func() string) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("notify socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ns := &notifySocket{path: path, conn: conn, ch: make(chan notification, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(ns.ch)
				return
			}
			m := notification{state: string(buf[:n])}
			if hasLine(m.state, "READY=1") {
				if c, err := net.DialTimeout("tcp", portal(), 2*time.Second); err == nil {
					m.portalUp = true
					c.Close()
				}
			}
			ns.ch <- m
		}
	}()
	return ns
}

func hasLine(state, line string) bool {
	for _, l := range strings.Split(state, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// next returns the next datagram that is not a watchdog ping, counting
// the pings it skipped.
func (ns *notifySocket) next(t *testing.T, what string, pings *int) notification {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-ns.ch:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %s", what)
			}
			if m.state == "WATCHDOG=1" {
				*pings++
				continue
			}
			return m
		case <-timeout:
			t.Fatalf("no %s on NOTIFY_SOCKET within 20s", what)
		}
	}
}

// TestNotifyProtocol runs `halun serve` as systemd would run halun.service
// (Type=notify, WatchdogSec=1) and checks every message it sends, in
// order: READY=1 when the portal already accepts connections, WATCHDOG=1
// at half the watchdog interval, RELOADING=1 (with MONOTONIC_USEC) and
// READY=1 around a SIGHUP reload and around `halun reload`, and STOPPING=1
// when SIGTERM starts the graceful shutdown.
func TestNotifyProtocol(t *testing.T) {
	addr := "127.0.0.1:" + itoa(harness.FreePort(t))
	ns := listenNotify(t, func() string { return addr })
	d := harness.Start(t, harness.Options{Listen: addr,
		Env: []string{"NOTIFY_SOCKET=" + ns.path, "WATCHDOG_USEC=1000000"}})
	pings := 0

	m := ns.next(t, "READY=1", &pings)
	if !hasLine(m.state, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", m.state)
	}
	if !m.portalUp {
		t.Fatalf("READY=1 arrived before the portal %s accepted connections", addr)
	}

	// WATCHDOG_USEC=1s: a ping every 0.5 s. Over 2.2 s at least 3 arrive
	// (4 expected); none at all would mean the watchdog is off.
	pings = 0
	wait := time.After(2200 * time.Millisecond)
	for done := false; !done; {
		select {
		case m := <-ns.ch:
			if m.state != "WATCHDOG=1" {
				t.Fatalf("unexpected notification %q while idle", m.state)
			}
			pings++
		case <-wait:
			done = true
		}
	}
	if pings < 3 {
		t.Fatalf("%d WATCHDOG=1 in 2.2s with WATCHDOG_USEC=1000000, want at least 3 (one per 0.5s)", pings)
	}

	reloadCycle := func(how string) {
		t.Helper()
		m := ns.next(t, "RELOADING=1 after "+how, &pings)
		if !hasLine(m.state, "RELOADING=1") || !strings.Contains(m.state, "MONOTONIC_USEC=") {
			t.Fatalf("after %s: got %q, want RELOADING=1 with MONOTONIC_USEC", how, m.state)
		}
		m = ns.next(t, "READY=1 after the reload", &pings)
		if !hasLine(m.state, "READY=1") || !m.portalUp {
			t.Fatalf("after %s's RELOADING=1: got %q (portal up %v), want READY=1 with the portal up", how, m.state, m.portalUp)
		}
	}
	d.Signal(t, syscall.SIGHUP)
	reloadCycle("SIGHUP")

	out, err := exec.Command(harness.Binary(t), "reload", "--socket", filepath.Join(d.DataDir, "halun.sock")).CombinedOutput()
	if err != nil {
		t.Fatalf("halun reload: %v\n%s", err, out)
	}
	reloadCycle("halun reload")

	d.Signal(t, syscall.SIGTERM)
	m = ns.next(t, "STOPPING=1", &pings)
	if m.state != "STOPPING=1" {
		t.Fatalf("after SIGTERM: got %q, want STOPPING=1", m.state)
	}
	if err := d.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("halun did not exit 0 after SIGTERM: %v\n%s", err, harness.Tail(d.Log(), 3000))
	}
	// Nothing but watchdog pings after STOPPING=1.
	for {
		select {
		case m, ok := <-ns.ch:
			if ok && m.state != "WATCHDOG=1" {
				t.Fatalf("notification %q after STOPPING=1", m.state)
			}
			if ok {
				continue
			}
		default:
		}
		break
	}
}
