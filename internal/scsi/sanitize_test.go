package scsi

import (
	"bytes"
	"testing"
	"time"
)

func sanitizeCDB(b1 byte, plen uint16) []byte {
	c := make([]byte, 10)
	c[0], c[1] = opSanitize, b1
	put16(c[7:], plen)
	return c
}

func overwriteParams(count byte, pattern []byte) []byte {
	p := make([]byte, 4+len(pattern))
	p[0] = count
	put16(p[2:], uint16(len(pattern)))
	copy(p[4:], pattern)
	return p
}

// SBC-4 5.30: SANITIZE CDB and parameter list checks.
func TestSBC4_5_30_SanitizeFields(t *testing.T) {
	ow := overwriteParams(1, fill(512, 0xaa))
	cases := []struct {
		name string
		cfg  LUConfig
		cdb  []byte
		data []byte
		key  uint8
		asc  uint16
	}{
		{"reserved bit", LUConfig{Thin: true}, sanitizeCDB(0x40|saSanitizeBlockErase, 0), nil, keyIllegalRequest, ascInvalidFieldInCDB},
		{"reserved byte", LUConfig{Thin: true}, func() []byte { c := sanitizeCDB(saSanitizeBlockErase, 0); c[4] = 1; return c }(), nil, keyIllegalRequest, ascInvalidFieldInCDB},
		{"service action 0", LUConfig{Thin: true}, sanitizeCDB(0, 0), nil, keyIllegalRequest, ascInvalidFieldInCDB},
		{"service action 4", LUConfig{Thin: true}, sanitizeCDB(4, 0), nil, keyIllegalRequest, ascInvalidFieldInCDB},
		{"block erase on thick LU", LUConfig{}, sanitizeCDB(saSanitizeBlockErase, 0), nil, keyIllegalRequest, ascInvalidFieldInCDB},
		{"block erase with parameters", LUConfig{Thin: true}, sanitizeCDB(saSanitizeBlockErase, 8), make([]byte, 8), keyIllegalRequest, ascInvalidFieldInCDB},
		{"exit failure mode with parameters", LUConfig{}, sanitizeCDB(saSanitizeExitFail, 8), make([]byte, 8), keyIllegalRequest, ascInvalidFieldInCDB},
		{"exit failure mode outside failure mode", LUConfig{}, sanitizeCDB(saSanitizeExitFail, 0), nil, 0, 0},
		{"overwrite length 4", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 4), ow[:4], keyIllegalRequest, ascInvalidFieldInCDB},
		{"overwrite length bs+5", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 517), make([]byte, 517), keyIllegalRequest, ascInvalidFieldInCDB},
		{"overwrite count 0", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 516), overwriteParams(0, fill(512, 1)), keyIllegalRequest, ascInvalidFieldInParamList},
		{"overwrite pattern length 0", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 516), append([]byte{1, 0, 0, 0}, fill(512, 1)...), keyIllegalRequest, ascInvalidFieldInParamList},
		{"overwrite pattern longer than a block", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 516), append([]byte{1, 0, 2, 4}, fill(512, 1)...), keyIllegalRequest, ascInvalidFieldInParamList},
		{"overwrite short data-out", LUConfig{}, sanitizeCDB(saSanitizeOverwrite, 516), ow[:100], keyIllegalRequest, ascParameterListLengthError},
		{"read-only", LUConfig{ReadOnly: true, Thin: true}, sanitizeCDB(saSanitizeBlockErase, 0), nil, keyDataProtect, ascWriteProtected},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, c.cfg, 256)
			r := tl.do(c.cdb, c.data)
			if c.key == 0 {
				wantGood(t, r)
				return
			}
			wantCheck(t, r, c.key, c.asc)
		})
	}
}

// SBC-4 4.11.2: each sanitize operation leaves no user data behind.
func TestSBC4_4_11_SanitizeOperations(t *testing.T) {
	for _, c := range []struct {
		name string
		sa   byte
		data []byte
		want []byte
	}{
		{"overwrite", saSanitizeOverwrite, overwriteParams(1, []byte{1, 2, 3, 4}), bytes.Repeat([]byte{1, 2, 3, 4}, 128)},
		{"overwrite inverted twice", saSanitizeOverwrite, overwriteParams(0x80|2, fill(512, 0x0f)), fill(512, 0xf0)},
		{"block erase", saSanitizeBlockErase, nil, make([]byte, 512)},
		{"crypto erase", saSanitizeCrypto, nil, make([]byte, 512)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := newTestLU(t, LUConfig{Thin: true, SanitizeRate: 1 << 40}, 4096)
			wantGood(t, tl.do(cdb10(opWrite10, 0, 4095, 1), fill(512, 'a')))
			wantGood(t, tl.do(sanitizeCDB(c.sa, uint16(len(c.data))), c.data))
			for _, lba := range []uint32{0, 4095} {
				if d := tl.do(cdb10(opRead10, 0, lba, 1), nil).Data; !bytes.Equal(d, c.want) {
					t.Fatalf("LBA %d after sanitize: % x", lba, d[:8])
				}
			}
		})
	}
}

// SBC-4 4.11.3: while a sanitize runs, commands but INQUIRY, REPORT LUNS
// and REQUEST SENSE are NOT READY, SANITIZE IN PROGRESS, on every nexus,
// through LU resets and nexus loss; IMMED returns at once.
func TestSBC4_4_11_3_SanitizeInProgress(t *testing.T) {
	tl := newTestLU(t, LUConfig{SanitizeRate: 4 << 20}, 8192) // 4 MiB at 4 MiB/s
	wantGood(t, tl.do(sanitizeCDB(0x80|saSanitizeOverwrite, 8), overwriteParams(1, []byte{0, 0, 0, 0})))
	wantCheck(t, tl.do(make([]byte, 6), nil), keyNotReady, ascSanitizeInProgress)
	b := tl.tgt.execute(&Command{Nexus: nexusB, CDB: pad16(cdb10(opRead10, 0, 0, 1))})
	wantCheck(t, b, keyNotReady, ascSanitizeInProgress)
	wantGood(t, tl.do(inquiryCDB(false, 0, 96), nil))
	r := tl.do([]byte{opRequestSense, 0, 0, 0, 252, 0}, nil)
	wantGood(t, r)
	if s := parseSense(t, r.Data); s.key != keyNotReady || s.asc != ascSanitizeInProgress || s.sks[0] != 0x80 {
		t.Fatalf("REQUEST SENSE during sanitize: % x", r.Data)
	}
	tl.tgt.LogicalUnitReset(nexusA, 0)
	tl.tgt.NexusLost(nexusB)
	wantCheck(t, tl.do(make([]byte, 6), nil), keyUnitAttention, ascBusDeviceResetOccurred)
	wantCheck(t, tl.do(make([]byte, 6), nil), keyNotReady, ascSanitizeInProgress)
	// A second sanitize waits its turn.
	wantCheck(t, tl.do(sanitizeCDB(saSanitizeOverwrite, 8), overwriteParams(1, []byte{0, 0, 0, 0})), keyNotReady, ascSanitizeInProgress)
	deadline := time.Now().Add(10 * time.Second)
	for tl.do(make([]byte, 6), nil).Status != StatusGood {
		if time.Now().After(deadline) {
			t.Fatal("sanitize did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A SANITIZE without IMMED returns when the transport gives up on it, and
// the operation continues (SBC-4 4.11.3).
func TestSBC4_4_11_3_SanitizeAbortedCommand(t *testing.T) {
	tl := newTestLU(t, LUConfig{SanitizeRate: 4 << 20}, 8192)
	done := make(chan struct{})
	close(done)
	r := tl.tgt.execute(&Command{Nexus: nexusA, CDB: pad16(sanitizeCDB(saSanitizeOverwrite, 8)), DataOut: overwriteParams(1, []byte{1, 1, 1, 1}), Done: done})
	if r.Status != StatusTaskAborted {
		t.Fatalf("status %#x, want TASK ABORTED", r.Status)
	}
	wantCheck(t, tl.do(make([]byte, 6), nil), keyNotReady, ascSanitizeInProgress)
}

// SBC-4 4.11.4: a failed sanitize leaves sanitize failure mode, which
// EXIT FAILURE MODE ends only if the failed SANITIZE set AUSE.
func TestSBC4_4_11_4_SanitizeFailureMode(t *testing.T) {
	for _, ause := range []bool{false, true} {
		tl := newTestLU(t, LUConfig{}, 256)
		tl.lu.mu.Lock()
		tl.lu.sanitizeFailed, tl.lu.sanitizeAUSE = true, ause
		tl.lu.mu.Unlock()
		wantCheck(t, tl.do(cdb10(opRead10, 0, 0, 1), nil), keyMediumError, ascSanitizeCommandFailed)
		r := tl.do(sanitizeCDB(saSanitizeExitFail, 0), nil)
		if !ause {
			wantCheck(t, r, keyMediumError, ascSanitizeCommandFailed)
			wantGood(t, tl.do(sanitizeCDB(saSanitizeOverwrite, 8), overwriteParams(1, []byte{0, 0, 0, 0})))
		} else {
			wantGood(t, r)
		}
		wantGood(t, tl.do(cdb10(opRead10, 0, 0, 1), nil))
	}
}

func TestLongRunning(t *testing.T) {
	for _, c := range []struct {
		cdb  []byte
		want bool
	}{
		{sanitizeCDB(saSanitizeOverwrite, 8), true},
		{sanitizeCDB(0x80|saSanitizeOverwrite, 8), false},
		{xcopyCDB(0), true},
		{cdb10(opRead10, 0, 0, 1), false},
		{nil, false},
	} {
		if got := LongRunning(c.cdb); got != c.want {
			t.Errorf("% x: %v", c.cdb, got)
		}
	}
}
