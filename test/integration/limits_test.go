package integration

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi"
)

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the target closed c without a word (the limit
// refusal) rather than waiting for a Login Request.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return false
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return true
	case err != nil:
		return true // reset
	}
	t.Fatal("the target sent data before a Login Request")
	return false
}

// TestConnectionLimits checks MaxConnectionsPerAddress and MaxConnections:
// extra connections are closed at accept before anything is read, counted
// per initiator IP address and in total, and a closed connection frees its
// place for the next.
func TestConnectionLimits(t *testing.T) {
	tt := startTarget(t, targetOpts{tune: func(c *iscsi.Config) {
		c.MaxConnections = 3
		c.MaxConnectionsPerAddress = 2
	}})
	a1 := dialFrom(t, "127.0.0.1", tt.Addr)
	a2 := dialFrom(t, "127.0.0.1", tt.Addr)
	if refused(t, a1) || refused(t, a2) {
		t.Fatal("connections within the limits refused")
	}
	if a3 := dialFrom(t, "127.0.0.1", tt.Addr); !refused(t, a3) {
		t.Fatal("a third connection from one address accepted; limit per address is 2")
	}
	if b1 := dialFrom(t, "127.0.0.2", tt.Addr); refused(t, b1) {
		t.Fatal("a connection from another address refused")
	}
	if c1 := dialFrom(t, "127.0.0.3", tt.Addr); !refused(t, c1) {
		t.Fatal("a fourth connection accepted; total limit is 3")
	}
	// Closed connections free their places: a full login works again.
	a1.Close()
	a2.Close()
	eventually(t, 5*time.Second, func() bool {
		c := dialFrom(t, "127.0.0.1", tt.Addr)
		defer c.Close()
		return !refused(t, c)
	})
	s := dial(t, tt, initiator.Options{})
	s.Close()
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
