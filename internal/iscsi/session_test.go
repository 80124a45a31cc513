package iscsi

import (
	"reflect"
	"testing"

	"github.com/halun/halun/internal/iscsi/login"
)

func TestRFC1982_SerialArithmetic(t *testing.T) {
	cases := []struct {
		a, b       uint32
		less, leEq bool
	}{
		{1, 2, true, true},
		{2, 1, false, false},
		{5, 5, false, true},
		{0xffffffff, 0, true, true},   // wraps
		{0, 0xffffffff, false, false}, // 0 is after 2^32-1
		{0x7fffffff, 0x80000000, true, true},
	}
	for _, c := range cases {
		if got := snLess(c.a, c.b); got != c.less {
			t.Errorf("snLess(%#x, %#x) = %v", c.a, c.b, got)
		}
		if got := snLessEq(c.a, c.b); got != c.leEq {
			t.Errorf("snLessEq(%#x, %#x) = %v", c.a, c.b, got)
		}
	}
}

// TestRFC7143_3_2_2_1_Ordering feeds CmdSNs to a session's ordering and
// checks what is delivered, and when.
func TestRFC7143_3_2_2_1_Ordering(t *testing.T) {
	cases := []struct {
		name      string
		start     uint32
		depth     int
		in        []uint32 // CmdSNs arriving, in order
		immediate map[int]bool
		want      []uint32 // CmdSNs delivered, in order
		wantExp   uint32
	}{
		{"in order", 10, 8, []uint32{10, 11, 12}, nil, []uint32{10, 11, 12}, 13},
		{"gap filled later", 10, 8, []uint32{11, 12, 10}, nil, []uint32{10, 11, 12}, 13},
		{"beyond MaxCmdSN dropped", 10, 4, []uint32{14, 10}, nil, []uint32{10}, 11},
		{"below ExpCmdSN dropped", 10, 4, []uint32{10, 9, 10}, nil, []uint32{10}, 11},
		{"duplicate ahead kept once", 10, 8, []uint32{12, 12, 11, 10}, nil, []uint32{10, 11, 12}, 13},
		{"wrap around", 0xfffffffe, 8, []uint32{0xfffffffe, 0, 0xffffffff}, nil, []uint32{0xfffffffe, 0xffffffff, 0}, 1},
		{"immediate bypasses the window", 10, 4, []uint32{99, 10}, map[int]bool{0: true}, []uint32{99, 10}, 11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := &Server{cfg: Config{QueueDepth: c.depth}}
			ss := newSession(srv, sessionKey{}, &login.Result{}, c.start)
			var got []uint32
			for i, sn := range c.in {
				sn := sn
				ss.order(sn, c.immediate[i], deliverFunc(func() { got = append(got, sn) }))
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("delivered %v, want %v", got, c.want)
			}
			if exp, _ := ss.windowSNs(); exp != c.wantExp {
				t.Errorf("ExpCmdSN %d, want %d", exp, c.wantExp)
			}
		})
	}
}

// TestCmdSNWindowSlides: MaxCmdSN grows as delivered commands finish, so
// the window bounds commands in flight (RFC 7143 §3.2.2.1).
func TestCmdSNWindowSlides(t *testing.T) {
	srv := &Server{cfg: Config{QueueDepth: 2}}
	ss := newSession(srv, sessionKey{}, &login.Result{}, 1)
	n := 0
	for sn := uint32(1); sn <= 3; sn++ {
		ss.order(sn, false, deliverFunc(func() { n++ }))
	}
	if n != 2 {
		t.Fatalf("delivered %d with a window of 2, want 2", n)
	}
	ss.release()
	ss.order(3, false, deliverFunc(func() { n++ }))
	if exp, max := ss.windowSNs(); n != 3 || exp != 4 || max != 3 {
		t.Fatalf("after one release: delivered %d, ExpCmdSN %d, MaxCmdSN %d", n, exp, max)
	}
}
