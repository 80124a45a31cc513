package replication

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// TestWireGolden pins the frame layout: a replica of one halun version
// must read what a primary of another writes.
func TestWireGolden(t *testing.T) {
	f := &frame{typ: msgWrite, flags: flagDurable, seq: 7, epoch: 3, offset: 4096, payload: []byte{0xab, 0xcd}}
	got := hex.EncodeToString(appendFrame(nil, f))
	want := "484c5250" + "05" + "02" + "0001" + "0000000000000007" + "0000000000000003" + "0000000000001000" + "00000000" + "00000002" + "abcd"
	if got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	var g frame
	if _, err := readFrame(bytes.NewReader(appendFrame(nil, f)), &g, nil); err != nil || g.typ != msgWrite || g.seq != 7 || g.epoch != 3 || g.offset != 4096 || !bytes.Equal(g.payload, f.payload) || g.flags != flagDurable {
		t.Fatalf("round trip: %+v %v", g, err)
	}
}

// TestWireResizeGolden pins msgResize: the new size in the offset
// field, no payload.
func TestWireResizeGolden(t *testing.T) {
	f := &frame{typ: msgResize, seq: 4, epoch: 2, offset: 16 << 20}
	got := hex.EncodeToString(appendFrame(nil, f))
	want := "484c5250" + "05" + "07" + "0000" + "0000000000000004" + "0000000000000002" + "0000000001000000" + "00000000" + "00000000"
	if got != want {
		t.Fatalf("resize frame\n got %s\nwant %s", got, want)
	}
	var g frame
	if _, err := readFrame(bytes.NewReader(appendFrame(nil, f)), &g, nil); err != nil || g.typ != msgResize || g.seq != 4 || g.epoch != 2 || g.offset != 16<<20 || len(g.payload) != 0 {
		t.Fatalf("round trip: %+v %v", g, err)
	}
}

// TestWireActivityGolden pins msgActivity: the primary's epoch, no
// reply expected (sequence 0), the activity log's extents as payload.
func TestWireActivityGolden(t *testing.T) {
	f := &frame{typ: msgActivity, epoch: 6, payload: appendExtents(nil, []int64{0, 2 * ALExtent})}
	got := hex.EncodeToString(appendFrame(nil, f))
	want := "484c5250" + "05" + "08" + "0000" + "0000000000000000" + "0000000000000006" + "0000000000000000" + "00000000" + "00000014" +
		"00000002" + "0000000000000000" + "0000000000800000"
	if got != want {
		t.Fatalf("activity frame\n got %s\nwant %s", got, want)
	}
	var g frame
	if _, err := readFrame(bytes.NewReader(appendFrame(nil, f)), &g, nil); err != nil || g.typ != msgActivity || g.epoch != 6 {
		t.Fatalf("round trip: %+v %v", g, err)
	}
	offs, rest, err := parseExtents(g.payload)
	if err != nil || len(rest) != 0 || !reflect.DeepEqual(offs, []int64{0, 2 * ALExtent}) {
		t.Fatalf("extents %v, rest %d, %v", offs, len(rest), err)
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
	resizePayload := appendFrame(nil, &frame{typ: msgResize, offset: 1 << 20, payload: []byte{1}})
	for name, in := range map[string][]byte{
		"magic": mut(0, 'X'), "version": mut(4, 9), "version 2": mut(4, 2), "type 0": mut(5, 0), "type 99": mut(5, 99),
		"huge payload": huge, "unmap with payload": unmapPayload, "resize with payload": resizePayload,
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
	f.Add(appendFrame(nil, &frame{typ: msgResize, seq: 4, epoch: 2, offset: 16 << 20}))
	f.Add(appendFrame(nil, &frame{typ: msgActivity, epoch: 2, payload: appendExtents(nil, []int64{ALExtent})}))
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

// TestHelloReplyGolden pins the hello reply's payload: the volume size
// and the replica's generation, with a former primary's activity log.
func TestHelloReplyGolden(t *testing.T) {
	for _, tc := range []struct {
		g    Generation
		want string
	}{
		{Generation{VolumeID: "v1", DataID: "d", Epoch: 9},
			"0000000000100000" + "0000000000000009" + "02" + "7631" + "01" + "64" + "00" + "00000000" +
				"0000000000000000" + "00000000"},
		{Generation{VolumeID: "v1", DataID: "d", Epoch: 9, Primary: true, Extents: []int64{0, 3 * ALExtent}},
			"0000000000100000" + "0000000000000009" + "02" + "7631" + "01" + "64" + "01" + "00000002" +
				"0000000000000000" + "0000000000c00000" + "0000000000000000" + "00000000"},
		{Generation{VolumeID: "v1", DataID: "d", Epoch: 9, PeerEpoch: 8, PeerExtents: []int64{ALExtent}},
			"0000000000100000" + "0000000000000009" + "02" + "7631" + "01" + "64" + "00" + "00000000" +
				"0000000000000008" + "00000001" + "0000000000400000"},
	} {
		got := hex.EncodeToString(appendHelloReply(nil, 1<<20, tc.g))
		if got != tc.want {
			t.Fatalf("hello reply of %v\n got %s\nwant %s", tc.g, got, tc.want)
		}
		size, back, err := parseHelloReply(appendHelloReply(nil, 1<<20, tc.g))
		if err != nil || size != 1<<20 || !reflect.DeepEqual(back, tc.g) {
			t.Fatalf("round trip: %d %+v %v", size, back, err)
		}
	}
}

// TestHelloReplyRefuses: a reply that is not exactly one encoding is a
// protocol error (an old replica's size-only reply among them).
func TestHelloReplyRefuses(t *testing.T) {
	good := appendHelloReply(nil, 4096, Generation{VolumeID: "v", DataID: "d", Epoch: 1})
	long := bytes.Clone(good)
	long[16] = maxIDLen + 1
	// ids ends after the data id; peer is an empty record of a
	// primary's log.
	ids := good[:len(good)-17]
	peer := make([]byte, 12)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, in := range map[string][]byte{
		"size only": good[:8], "short id": good[:len(good)-1], "trailing": append(bytes.Clone(good), 0),
		"id too long": long, "huge size": append([]byte{0xff}, good[1:]...),
		"no primary flag":                 ids,
		"no primary's log":                good[:len(good)-12],
		"short primary's log":             good[:len(good)-1],
		"extents without being primary":   cat(ids, []byte{0, 0, 0, 0, 1}, make([]byte, 8), peer),
		"extent count beyond the payload": cat(ids, []byte{1, 0, 0, 0, 2}, peer),
		"extent not on a boundary":        cat(ids, []byte{1, 0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0, 0, 7}, peer),
		"primary's extent off a boundary": cat(ids, []byte{0, 0, 0, 0, 0}, make([]byte, 8), []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}),
	} {
		if _, _, err := parseHelloReply(in); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParseHelloReply: any bytes decode to a reply that re-encodes to
// the same bytes, or to an error.
func FuzzParseHelloReply(f *testing.F) {
	f.Add(appendHelloReply(nil, 8<<20, Generation{VolumeID: "0f3c9a", DataID: "77aa01", Epoch: 3}))
	f.Add(appendHelloReply(nil, 4096, Generation{}))
	f.Add(appendHelloReply(nil, 1, Generation{Epoch: 1 << 40, DataID: "x"}))
	f.Add(appendHelloReply(nil, 64<<20, Generation{VolumeID: "v", Epoch: 4, Primary: true, Extents: []int64{ALExtent, 5 * ALExtent}}))
	f.Add(appendHelloReply(nil, 64<<20, Generation{VolumeID: "v", Epoch: 4, PeerEpoch: 3, PeerExtents: []int64{0, 2 * ALExtent}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		size, g, err := parseHelloReply(in)
		if err != nil {
			return
		}
		if out := appendHelloReply(nil, size, g); !bytes.Equal(out, in) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, in)
		}
	})
}

// FuzzParseExtents: any bytes decode to a list of extents that re-encodes
// to the bytes read, or to an error (a msgActivity payload, a hello
// reply's activity logs).
func FuzzParseExtents(f *testing.F) {
	f.Add(appendExtents(nil, nil))
	f.Add(appendExtents(nil, []int64{0, ALExtent, 7 * ALExtent}))
	f.Add(append(appendExtents(nil, []int64{ALExtent}), 1, 2, 3))
	f.Fuzz(func(t *testing.T, in []byte) {
		offs, rest, err := parseExtents(in)
		if err != nil {
			return
		}
		if !validExtents(offs) {
			t.Fatalf("invalid extents %v accepted", offs)
		}
		if out := appendExtents(nil, offs); !bytes.Equal(out, in[:len(in)-len(rest)]) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", out, in[:len(in)-len(rest)])
		}
	})
}
