package replication

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestWireGolden pins the frame layout: a replica of one halun version
// must read what a primary of another writes.
func TestWireGolden(t *testing.T) {
	f := &frame{typ: msgWrite, flags: flagDurable, seq: 7, epoch: 3, offset: 4096, payload: []byte{0xab, 0xcd}}
	got := hex.EncodeToString(appendFrame(nil, f))
	want := "484c5250" + "01" + "02" + "0001" + "0000000000000007" + "0000000000000003" + "0000000000001000" + "00000000" + "00000002" + "abcd"
	if got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	var g frame
	if _, err := readFrame(bytes.NewReader(appendFrame(nil, f)), &g, nil); err != nil || g.typ != msgWrite || g.seq != 7 || g.epoch != 3 || g.offset != 4096 || !bytes.Equal(g.payload, f.payload) || g.flags != flagDurable {
		t.Fatalf("round trip: %+v %v", g, err)
	}
}

// TestWireRefuses: input that is not this protocol is an error, never a
// panic or a huge allocation.
func TestWireRefuses(t *testing.T) {
	good := appendFrame(nil, &frame{typ: msgSync, seq: 1, epoch: 1})
	mut := func(i int, b byte) []byte { c := bytes.Clone(good); c[i] = b; return c }
	huge := bytes.Clone(good)
	copy(huge[36:], []byte{0x7f, 0xff, 0xff, 0xff})
	unmapPayload := appendFrame(nil, &frame{typ: msgUnmap, payload: []byte{1}})
	for name, in := range map[string][]byte{
		"magic": mut(0, 'X'), "version": mut(4, 9), "type 0": mut(5, 0), "type 99": mut(5, 99),
		"huge payload": huge, "unmap with payload": unmapPayload,
	} {
		var f frame
		if _, err := readFrame(bytes.NewReader(in), &f, nil); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var f frame
	if _, err := readFrame(bytes.NewReader(good[:20]), &f, nil); err == nil {
		t.Error("short header accepted")
	}
	w := appendFrame(nil, &frame{typ: msgWrite, payload: make([]byte, 100)})
	if _, err := readFrame(bytes.NewReader(w[:len(w)-1]), &f, nil); err == nil {
		t.Error("short payload accepted")
	}
}

// FuzzReadFrame: any bytes decode to a frame that re-encodes to the same
// bytes, or to an error.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, &frame{typ: msgWrite, flags: flagDurable, seq: 1, epoch: 2, offset: 512, payload: []byte("data")}))
	f.Add(appendFrame(nil, &frame{typ: msgHello, seq: 1, epoch: 5, payload: []byte("vol1")}))
	f.Add(appendFrame(nil, &frame{typ: msgReply, seq: 9, offset: statusStaleEpoch, payload: []byte("epoch 4 < 5")}))
	f.Add(appendFrame(nil, &frame{typ: msgUnmap, seq: 3, offset: 0, length: 1 << 20}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fr frame
		if _, err := readFrame(bytes.NewReader(in), &fr, nil); err != nil {
			return
		}
		out := appendFrame(nil, &fr)
		if !bytes.Equal(out, in[:len(out)]) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, in[:len(out)])
		}
	})
}
