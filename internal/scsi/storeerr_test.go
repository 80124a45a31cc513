package scsi

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halun/halun/internal/backend"
)

// faultStore is a memory store whose reads, writes and syncs fail with
// the error set for them, as a file store reports them: the kind
// (backend.ErrNoSpace, backend.ErrIO) wrapped with the system's cause.
type faultStore struct {
	backend.Store
	mu                         sync.Mutex
	readErr, writeErr, syncErr error
}

func (s *faultStore) set(read, write, sync error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readErr, s.writeErr, s.syncErr = read, write, sync
}

func (s *faultStore) errs() (read, write, sync error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readErr, s.writeErr, s.syncErr
}

func (s *faultStore) ReadAt(ctx context.Context, p []byte, off int64) error {
	if err, _, _ := s.errs(); err != nil {
		return fmt.Errorf("backend fault: read at %d: %w", off, err)
	}
	return s.Store.ReadAt(ctx, p, off)
}

func (s *faultStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	_, werr, serr := s.errs()
	if werr != nil {
		return fmt.Errorf("backend fault: write at %d: %w", off, werr)
	}
	if durable && serr != nil {
		return fmt.Errorf("backend fault: fdatasync: %w", serr)
	}
	return s.Store.WriteAt(ctx, p, off, durable)
}

func (s *faultStore) Sync(ctx context.Context) error {
	if _, _, err := s.errs(); err != nil {
		return fmt.Errorf("backend fault: fdatasync: %w", err)
	}
	return s.Store.Sync(ctx)
}

// The failures a file store reports, as backend wraps them.
var (
	errNoSpace = fmt.Errorf("%w: %w", backend.ErrNoSpace, syscall.ENOSPC)
	errEIO     = fmt.Errorf("%w: %w", backend.ErrIO, syscall.EIO)
	// As a replicated store would report them.
	errUnavailable = fmt.Errorf("replica b: %w", backend.ErrUnavailable)
	errTimedOut    = fmt.Errorf("replica b: write: %w", context.DeadlineExceeded)
	errFenced      = fmt.Errorf("epoch 7 < 8: %w", backend.ErrFenced)
	errOther       = syscall.EBADF
)

// logRecords is a slog handler that keeps what is logged.
type logRecords struct {
	mu    sync.Mutex
	msgs  []string
	attrs map[string]string // of the last record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	h.attrs = map[string]string{}
	r.Attrs(func(a slog.Attr) bool { h.attrs[a.Key] = a.Value.String(); return true })
	return nil
}

// lastAttr is attribute key of the last record logged.
func (h *logRecords) lastAttr(key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attrs[key]
}

func (h *logRecords) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.msgs
	h.msgs = nil
	return m
}

// faultLU is a write-through LU on a faultStore, logging to a logRecords.
func faultLU(t *testing.T, serial string) (*LU, *faultStore, *logRecords) {
	t.Helper()
	st := &faultStore{Store: backend.NewMemory(1 << 20)}
	logs := &logRecords{}
	lu, err := NewLU(LUConfig{Serial: serial, Thin: true, Logger: slog.New(logs)}, st)
	if err != nil {
		t.Fatal(err)
	}
	return lu, st, logs
}

// TestSBC3_StoreErrorSense checks the one table from store failures to
// sense data, through the commands that meet them: ENOSPC is DATA
// PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT (SBC-3 4.7.3.6); EIO is
// MEDIUM ERROR with the LBA in INFORMATION, WRITE ERROR for writes and
// UNRECOVERED READ ERROR for reads; an error of no known kind is reported
// as EIO is.
func TestSBC3_StoreErrorSense(t *testing.T) {
	const lba = 9
	block := make([]byte, 512)
	cases := []struct {
		name              string
		read, write, sync error
		cdb               []byte
		data              []byte
		key               uint8
		asc               uint16
		infoValid         bool
		desc              bool // descriptor format sense (D_SENSE)
	}{
		{name: "write ENOSPC", write: errNoSpace, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyDataProtect, asc: ascSpaceAllocFailedWP},
		{name: "sync ENOSPC", sync: errNoSpace, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyDataProtect, asc: ascSpaceAllocFailedWP},
		{name: "write same ENOSPC", write: errNoSpace, cdb: cdb16(opWriteSame16, 0, lba, 4), data: block,
			key: keyDataProtect, asc: ascSpaceAllocFailedWP},
		{name: "atomic write ENOSPC", write: errNoSpace, cdb: cdb16(opWriteAtomic16, 0, lba, 1), data: block,
			key: keyDataProtect, asc: ascSpaceAllocFailedWP},
		{name: "write EIO", write: errEIO, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyMediumError, asc: ascWriteError, infoValid: true},
		{name: "write EIO descriptor sense", write: errEIO, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyMediumError, asc: ascWriteError, infoValid: true, desc: true},
		{name: "sync EIO", sync: errEIO, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyMediumError, asc: ascWriteError, infoValid: true},
		{name: "read EIO", read: errEIO, cdb: cdb10(opRead10, 0, lba, 1),
			key: keyMediumError, asc: ascUnrecoveredReadError, infoValid: true},
		{name: "verify EIO", read: errEIO, cdb: cdb10(opVerify10, 0, lba, 1),
			key: keyMediumError, asc: ascUnrecoveredReadError, infoValid: true},
		{name: "compare and write read EIO", read: errEIO, cdb: cdb16(opCompareAndWrite, 0, lba, 0), data: make([]byte, 1024),
			key: keyMediumError, asc: ascUnrecoveredReadError, infoValid: true},
		{name: "write of unknown failure", write: errOther, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyMediumError, asc: ascWriteError, infoValid: true},
		{name: "read of unknown failure", read: errOther, cdb: cdb10(opRead10, 0, lba, 1),
			key: keyMediumError, asc: ascUnrecoveredReadError, infoValid: true},
		// A replica that cannot serve now, or a node fenced off its
		// volume: NOT READY, never MEDIUM ERROR.
		{name: "write unavailable", write: errUnavailable, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyNotReady, asc: ascALUATransitioning},
		{name: "read unavailable", read: errUnavailable, cdb: cdb10(opRead10, 0, lba, 1),
			key: keyNotReady, asc: ascALUATransitioning},
		{name: "peer call timed out", write: errTimedOut, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyNotReady, asc: ascALUATransitioning},
		{name: "write fenced", write: errFenced, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyNotReady, asc: ascALUAStandby},
		{name: "durable write fenced", sync: errFenced, cdb: cdb10(opWrite10, 0, lba, 1), data: block,
			key: keyNotReady, asc: ascALUAStandby},
		{name: "read fenced", read: errFenced, cdb: cdb10(opRead10, 0, lba, 1),
			key: keyNotReady, asc: ascALUAStandby},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lu, st, _ := faultLU(t, "fault0001")
			tgt := NewTarget(testTargetName, map[uint64]*LU{0: lu})
			exec := func(cdb, d []byte) Result {
				return tgt.Execute(&Command{Nexus: nexusA, CDB: pad16(cdb), DataOut: d, ExpectedDataLength: uint32(len(d))})
			}
			exec([]byte{opTestUnitReady}, nil) // the POWER ON unit attention
			if c.desc {
				lu.mu.Lock()
				lu.mode.dsense = true
				lu.mu.Unlock()
			}
			cdb := c.cdb
			if cdb[0] == opCompareAndWrite {
				cdb[13] = 1 // NUMBER OF LOGICAL BLOCKS
			}
			st.set(c.read, c.write, c.sync)
			s := wantCheck(t, exec(cdb, c.data), c.key, c.asc)
			if s.infoValid != c.infoValid || (c.infoValid && s.info != lba) {
				t.Errorf("INFORMATION %d (valid %v), want LBA %d valid %v", s.info, s.infoValid, lba, c.infoValid)
			}
			if s.desc != c.desc {
				t.Errorf("descriptor format %v, want %v", s.desc, c.desc)
			}
		})
	}
}

// TestSBC3_NoSpaceRecovers: a thin volume whose storage is full refuses
// writes, keeps serving reads, says so in the log once (not per command),
// writes again as soon as space returns, and says so again only when it
// runs out anew. Another volume is not affected.
func TestSBC3_NoSpaceRecovers(t *testing.T) {
	full, st, logs := faultLU(t, "fault0001")
	other, _, otherLogs := faultLU(t, "fault0002")
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: full, 1: other})
	exec := func(lun uint64, cdb, d []byte) Result {
		return tgt.Execute(&Command{Nexus: nexusA, LUN: lun << 48, CDB: pad16(cdb), DataOut: d, ExpectedDataLength: uint32(len(d))})
	}
	exec(0, []byte{opTestUnitReady}, nil)
	exec(1, []byte{opTestUnitReady}, nil)
	wantGood(t, exec(0, cdb10(opWrite10, 0, 0, 1), fill(512, 0x11)))

	st.set(nil, errNoSpace, nil)
	for i := 0; i < 10; i++ {
		wantCheck(t, exec(0, cdb10(opWrite10, 0, uint32(i), 1), fill(512, 0x22)), keyDataProtect, ascSpaceAllocFailedWP)
		r := exec(0, cdb10(opRead10, 0, 0, 1), nil)
		wantGood(t, r)
		if r.Data[0] != 0x11 {
			t.Fatalf("read while full: %#x, want the last written 0x11", r.Data[0])
		}
		wantGood(t, exec(1, cdb10(opWrite10, 0, uint32(i), 1), fill(512, 0x33)))
	}
	if m := logs.take(); len(m) != 1 || m[0] != "ERROR scsi: volume out of space; writes fail with SPACE ALLOCATION FAILED WRITE PROTECT until space is freed" {
		t.Errorf("log of ten refused writes: %q, want one line", m)
	}
	if m := otherLogs.take(); len(m) != 0 {
		t.Errorf("the other volume logged %q", m)
	}

	st.set(nil, nil, nil)
	wantGood(t, exec(0, cdb10(opWrite10, 0, 1, 1), fill(512, 0x44)))
	wantGood(t, exec(0, cdb10(opWrite10, 0, 2, 1), fill(512, 0x44)))
	if m := logs.take(); len(m) != 1 || m[0] != "INFO scsi: volume writable again: space is available" {
		t.Errorf("log when space returned: %q", m)
	}
	st.set(nil, errNoSpace, nil)
	wantCheck(t, exec(0, cdb10(opWrite10, 0, 3, 1), fill(512, 0x55)), keyDataProtect, ascSpaceAllocFailedWP)
	wantCheck(t, exec(0, cdb10(opWrite10, 0, 3, 1), fill(512, 0x55)), keyDataProtect, ascSpaceAllocFailedWP)
	if m := logs.take(); len(m) != 1 {
		t.Errorf("log when space ran out again: %q, want one line", m)
	}

	// A file system that takes the data and reports ENOSPC only when
	// syncing it (NFS) is no different.
	st.set(nil, nil, nil)
	wantGood(t, exec(0, cdb10(opWrite10, 0, 4, 1), fill(512, 0x66)))
	logs.take()
	st.set(nil, nil, errNoSpace)
	for i := 0; i < 3; i++ {
		wantCheck(t, exec(0, cdb10(opWrite10, 0, 4, 1), fill(512, 0x77)), keyDataProtect, ascSpaceAllocFailedWP)
	}
	if m := logs.take(); len(m) != 1 {
		t.Errorf("log of three writes whose sync found no space: %q, want one line", m)
	}

	// EIO is logged with the failing LBA, at most once a second per
	// volume: a failing disk fails every command. The next line counts
	// what was not logged.
	clock := time.Unix(1000, 0)
	full.ioErrs.now = func() time.Time { return clock }
	st.set(errEIO, nil, nil)
	for lba := range uint32(100) {
		wantCheck(t, exec(0, cdb10(opRead10, 0, lba, 1), nil), keyMediumError, ascUnrecoveredReadError)
	}
	if m := logs.take(); len(m) != 1 || m[0] != "ERROR scsi: read failed" {
		t.Errorf("log of 100 failed reads within a second: %q, want one line", m)
	}
	clock = clock.Add(errLogEvery)
	exec(0, cdb10(opRead10, 0, 5, 1), nil)
	if m := logs.take(); len(m) != 1 {
		t.Errorf("log of a failed read a second later: %q, want one line", m)
	}
	if n := logs.lastAttr("not_logged_since_last"); n != "99" {
		t.Errorf("the line after 99 unlogged failures says not_logged_since_last=%q", n)
	}
}
