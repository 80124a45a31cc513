package iscsi

import (
	"net"
	"testing"
	"time"
)

// TestLoneCommands: a slow command runs on the reader only after loneMin
// commands in a row arrived alone, and the streak starts over at a
// command that did not, or when input arrived while one ran there.
func TestLoneCommands(t *testing.T) {
	type step struct {
		alone      bool // the command found the connection idle
		overlapped bool // input arrived while it ran on the reader
		want       bool // it may run on the reader
	}
	lone := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{alone: true, want: i >= loneMin}
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a streak of lone commands", lone(loneMin + 3)},
		{"a command behind another ends the streak", cat(lone(loneMin+1), []step{{alone: false, want: false}}, lone(loneMin+1))},
		{"input during a command on the reader ends the streak", cat(lone(loneMin), []step{{alone: true, overlapped: true, want: true}}, lone(loneMin+1))},
		{"commands that never arrive alone", []step{{}, {}, {}, {}, {}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l loneCommands
			for i, s := range tc.steps {
				if got := l.arrived(s.alone); got != s.want {
					t.Fatalf("command %d: may run on the reader %v, want %v", i, got, s.want)
				}
				if s.overlapped {
					l.overlapped()
				}
			}
		})
	}
}

// TestSocketInput counts the bytes waiting in a TCP socket, and knows
// nothing of a connection that is not a socket.
func TestSocketInput(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := socketInput(s)
	if in == nil {
		t.Fatal("a TCP connection has no socket input count")
	}
	if n, ok := in(); !ok || n != 0 {
		t.Fatalf("idle socket: %d bytes (ok %v), want 0", n, ok)
	}
	if _, err := c.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		n, ok := in()
		if !ok {
			t.Fatal("count failed")
		}
		if n == 100 {
			break
		}
		if n > 100 {
			t.Fatalf("%d bytes waiting, want 100", n)
		}
	}
	if n, _ := in(); n != 100 {
		t.Fatalf("%d bytes waiting, want 100", n)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if socketInput(p1) != nil {
		t.Error("a pipe has a socket input count")
	}
}
