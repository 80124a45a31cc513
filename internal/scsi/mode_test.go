package scsi

import (
	"bytes"
	"testing"
)

func modeSense6(dbd bool, pc, page, sub, alloc byte) []byte {
	b := []byte{opModeSense6, 0, pc<<6 | page, sub, alloc, 0}
	if dbd {
		b[1] = 0x08
	}
	return b
}

func modeSense10(llbaa, dbd bool, pc, page, sub byte, alloc uint16) []byte {
	b := make([]byte, 10)
	b[0] = opModeSense10
	if dbd {
		b[1] |= 0x08
	}
	if llbaa {
		b[1] |= 0x10
	}
	b[2] = pc<<6 | page
	b[3] = sub
	put16(b[7:], alloc)
	return b
}

// pagesOf splits the mode pages following header and block descriptors.
func pagesOf(t *testing.T, d []byte, ten bool) (hdr []byte, bd []byte, pages map[byte][]byte) {
	t.Helper()
	h, bdl := 4, int(d[3])
	if ten {
		h, bdl = 8, int(be16(d[6:]))
	}
	pages = map[byte][]byte{}
	for p := h + bdl; p < len(d); p += 2 + int(d[p+1]) {
		pages[d[p]&0x3f] = d[p : p+2+int(d[p+1])]
	}
	return d[:h], d[h : h+bdl], pages
}

func TestSPC4_6_11_ModeSense6AllPages(t *testing.T) {
	tl := newTestLU(t, LUConfig{WriteCache: true}, 1000)
	r := tl.do(modeSense6(false, pcCurrent, 0x3f, 0, 255), nil)
	wantGood(t, r)
	d := r.Data
	if int(d[0]) != len(d)-1 {
		t.Fatalf("MODE DATA LENGTH %d for %d bytes", d[0], len(d))
	}
	hdr, bd, pages := pagesOf(t, d, false)
	if hdr[2]&0x80 != 0 {
		t.Error("WP set on a writable LU")
	}
	if len(bd) != 8 || be32(bd) != 1000 || be32(bd[4:])&0xffffff != 512 {
		t.Errorf("block descriptor % x", bd)
	}
	for code, l := range map[byte]int{0x01: 12, 0x08: 20, 0x0a: 12, 0x1c: 12} {
		if len(pages[code]) != l {
			t.Errorf("page %#x length %d, want %d", code, len(pages[code]), l)
		}
	}
	if pages[0x08][2]&0x04 == 0 {
		t.Error("WCE clear although the write cache is enabled")
	}
}

func TestSPC4_6_12_ModeSense10(t *testing.T) {
	tl := newTestLU(t, LUConfig{ReadOnly: true}, 1000)
	cases := []struct {
		name    string
		cdb     []byte
		bdLen   int
		longLBA bool
	}{
		{"short descriptor", modeSense10(false, false, pcCurrent, 0x08, 0, 512), 8, false},
		{"long descriptor", modeSense10(true, false, pcCurrent, 0x08, 0, 512), 16, true},
		{"DBD", modeSense10(true, true, pcCurrent, 0x08, 0, 512), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := tl.do(c.cdb, nil).Data
			if int(be16(d))+2 != len(d) {
				t.Fatalf("MODE DATA LENGTH %d for %d bytes", be16(d), len(d))
			}
			hdr, bd, pages := pagesOf(t, d, true)
			if hdr[3]&0x80 == 0 {
				t.Error("WP clear on a read-only LU")
			}
			if len(bd) != c.bdLen || (hdr[4]&1 != 0) != c.longLBA {
				t.Errorf("block descriptor length %d LONGLBA %v", len(bd), hdr[4]&1 != 0)
			}
			if len(pages) != 1 || pages[0x08] == nil {
				t.Errorf("pages %v", pages)
			}
			if pages[0x08][2]&0x04 != 0 {
				t.Error("WCE set without write cache")
			}
		})
	}
}

func TestSPC4_6_11_ModeSensePageControl(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	_, _, ch := pagesOf(t, tl.do(modeSense6(true, pcChangeable, 0x3f, 0, 255), nil).Data, false)
	if ch[0x08][2] != 0x04 || ch[0x0a][2] != 0x04 || !bytes.Equal(ch[0x01][2:], make([]byte, 10)) {
		t.Errorf("changeable masks: caching % x control % x", ch[0x08], ch[0x0a])
	}
	wantGood(t, tl.do(modeSense6(true, pcDefault, 0x0a, 0, 255), nil))
	wantCheck(t, tl.do(modeSense6(true, pcSaved, 0x3f, 0, 255), nil), keyIllegalRequest, ascSavingParamsNotSupported)
	wantCheck(t, tl.do(modeSense6(true, pcCurrent, 0x3e, 0, 255), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	wantCheck(t, tl.do(modeSense6(true, pcCurrent, 0x08, 0x01, 255), nil), keyIllegalRequest, ascInvalidFieldInCDB)
	wantGood(t, tl.do(modeSense6(true, pcCurrent, 0x3f, 0xff, 255), nil))
	if r := tl.do(modeSense6(false, pcCurrent, 0x3f, 0, 4), nil); len(r.Data) != 4 {
		t.Errorf("allocation length 4 gave %d bytes", len(r.Data))
	}
}

// modeSelect6 sends page with a 4-byte header.
func (tl *testLU) modeSelect6(page []byte) Result {
	p := append(make([]byte, 4), page...)
	return tl.do([]byte{opModeSelect6, 0x10, 0, 0, byte(len(p)), 0}, p)
}

func TestSPC4_7_5_8_DSenseSelectsDescriptorFormat(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	_, _, pages := pagesOf(t, tl.do(modeSense6(true, pcCurrent, 0x0a, 0, 255), nil).Data, false)
	ctl := append([]byte(nil), pages[0x0a]...)
	ctl[2] |= 0x04
	r := tl.modeSelect6(ctl)
	wantGood(t, r)
	if r.DataOutLength != uint32(4+len(ctl)) {
		t.Errorf("DataOutLength %d", r.DataOutLength)
	}
	s := wantCheck(t, tl.do(cdb10(opRead10, 0, 1000, 1), nil), keyIllegalRequest, ascLBAOutOfRange)
	if !s.desc {
		t.Fatal("fixed format sense with D_SENSE set")
	}
	// The other nexus is told the parameters changed.
	r = tl.tgt.execute(&Command{Nexus: nexusB, CDB: pad16([]byte{opTestUnitReady})})
	wantCheck(t, r, keyUnitAttention, ascModeParametersChanged)
	// A LU reset returns to the defaults.
	tl.tgt.LogicalUnitReset(nexusB, 0)
	if s := wantCheck(t, tl.do(cdb10(opRead10, 0, 1000, 1), nil), keyUnitAttention, ascBusDeviceResetOccurred); s.desc {
		t.Fatal("descriptor sense after reset")
	}
}

func TestSPC4_6_9_ModeSelectWCE(t *testing.T) {
	tl := newTestLU(t, LUConfig{WriteCache: true}, 100)
	_, _, pages := pagesOf(t, tl.do(modeSense6(true, pcCurrent, 0x08, 0, 255), nil).Data, false)
	c := append([]byte(nil), pages[0x08]...)
	c[2] &^= 0x04
	wantGood(t, tl.modeSelect6(c))
	before := tl.store.syncs.Load()
	wantGood(t, tl.do(cdb10(opWrite10, 0, 0, 1), make([]byte, 512)))
	if tl.store.syncs.Load() == before {
		t.Fatal("write not synced after WCE was cleared")
	}
}

func TestSPC4_6_9_ModeSelectErrors(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	_, _, pages := pagesOf(t, tl.do(modeSense6(true, pcCurrent, 0x3f, 0, 255), nil).Data, false)
	ctl := pages[0x0a]
	bad := append([]byte(nil), ctl...)
	bad[3] ^= 0x10 // queue algorithm modifier is not changeable
	short := append([]byte(nil), ctl...)
	short[1] = 4
	cases := []struct {
		name string
		cdb  []byte
		data []byte
		key  uint8
		asc  uint16
	}{
		{"unchangeable bit", []byte{opModeSelect6, 0x10, 0, 0, 16, 0}, append(make([]byte, 4), bad...), keyIllegalRequest, ascInvalidFieldInParamList},
		{"wrong page length", []byte{opModeSelect6, 0x10, 0, 0, 10, 0}, append(make([]byte, 4), short[:6]...), keyIllegalRequest, ascInvalidFieldInParamList},
		{"unknown page", []byte{opModeSelect6, 0x10, 0, 0, 8, 0}, []byte{0, 0, 0, 0, 0x2f, 2, 0, 0}, keyIllegalRequest, ascInvalidFieldInParamList},
		{"SP", []byte{opModeSelect6, 0x11, 0, 0, 16, 0}, append(make([]byte, 4), ctl...), keyIllegalRequest, ascInvalidFieldInCDB},
		{"no PF", []byte{opModeSelect6, 0x00, 0, 0, 16, 0}, append(make([]byte, 4), ctl...), keyIllegalRequest, ascInvalidFieldInCDB},
		{"list longer than data", []byte{opModeSelect6, 0x10, 0, 0, 40, 0}, append(make([]byte, 4), ctl...), keyIllegalRequest, ascParameterListLengthError},
		{"wrong block length", []byte{opModeSelect6, 0x10, 0, 0, 12, 0}, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0}, keyIllegalRequest, ascInvalidFieldInParamList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCheck(t, tl.do(c.cdb, c.data), c.key, c.asc)
		})
	}
	wantGood(t, tl.do([]byte{opModeSelect6, 0x10, 0, 0, 0, 0}, nil))
	wantGood(t, tl.do([]byte{opModeSelect6, 0x10, 0, 0, 12, 0}, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0}))
}

func TestSPC4_7_5_8_SoftwareWriteProtect(t *testing.T) {
	tl := newTestLU(t, LUConfig{}, 100)
	_, _, pages := pagesOf(t, tl.do(modeSense6(true, pcCurrent, 0x0a, 0, 255), nil).Data, false)
	ctl := append([]byte(nil), pages[0x0a]...)
	ctl[4] |= 0x08
	wantGood(t, tl.modeSelect6(ctl))
	wantCheck(t, tl.do(cdb10(opWrite10, 0, 0, 1), make([]byte, 512)), keyDataProtect, ascSoftwareWriteProtected)
	wantGood(t, tl.do(cdb10(opRead10, 0, 0, 1), nil))
	hdr, _, _ := pagesOf(t, tl.do(modeSense6(true, pcCurrent, 0x0a, 0, 255), nil).Data, false)
	if hdr[2]&0x80 == 0 {
		t.Error("WP clear while SWP is set")
	}
	ctl[4] &^= 0x08
	wantGood(t, tl.modeSelect6(ctl))
	wantGood(t, tl.do(cdb10(opWrite10, 0, 0, 1), make([]byte, 512)))
}
