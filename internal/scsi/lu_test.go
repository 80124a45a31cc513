package scsi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/identity"
)

func TestNewLUValidation(t *testing.T) {
	mem := backend.NewMemory(1 << 20)
	cases := []struct {
		name  string
		cfg   LUConfig
		store backend.Store
		err   string
	}{
		{"ok with defaults", LUConfig{Serial: "s1"}, mem, ""},
		{"4096", LUConfig{Serial: "s1", BlockSize: 4096}, mem, ""},
		{"nil store", LUConfig{Serial: "s1"}, nil, "nil store"},
		{"no serial", LUConfig{}, mem, "empty serial"},
		{"serial with space", LUConfig{Serial: "a b"}, mem, "printable"},
		{"serial too long", LUConfig{Serial: strings.Repeat("x", 252)}, mem, "longer"},
		{"block size", LUConfig{Serial: "s1", BlockSize: 1024}, mem, "block size"},
		{"vendor too long", LUConfig{Serial: "s1", Identity: identity.Identity{Vendor: "ABCDEFGHI", Designators: []identity.Designator{{CodeSet: 2, Type: 1, Value: []byte("x")}}}}, mem, "at most 8"},
		{"store smaller than a block", LUConfig{Serial: "s1", BlockSize: 4096}, backend.NewMemory(100), "no block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lu, err := NewLU(c.cfg, c.store)
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				cfg := lu.Config()
				if id := cfg.Identity; id.Vendor != identity.HalunVendor || id.Product != identity.HalunProduct || id.Revision != identity.HalunRevision || id.UnitSerial != cfg.Serial {
					t.Errorf("defaults not applied: %+v", cfg)
				}
				if lu.Blocks() != uint64(c.store.Size())/uint64(cfg.BlockSize) {
					t.Errorf("Blocks = %d", lu.Blocks())
				}
				if err := lu.Flush(context.Background()); err != nil {
					t.Errorf("Flush: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
}

// faultyStore fails or panics on demand.
type faultyStore struct {
	backend.Store
	failRead, failWrite, failSync, panicRead bool
}

var errInjected = errors.New("injected I/O error")

func (s *faultyStore) ReadAt(ctx context.Context, p []byte, off int64) error {
	if s.panicRead {
		panic("injected panic")
	}
	if s.failRead {
		return errInjected
	}
	return s.Store.ReadAt(ctx, p, off)
}

func (s *faultyStore) WriteAt(ctx context.Context, p []byte, off int64, durable bool) error {
	if s.failWrite || durable && s.failSync {
		return errInjected
	}
	return s.Store.WriteAt(ctx, p, off, durable)
}

func (s *faultyStore) Sync(context.Context) error {
	if s.failSync {
		return errInjected
	}
	return nil
}

func TestSBC3_4_18_MediumErrors(t *testing.T) {
	st := &faultyStore{Store: backend.NewMemory(1 << 20)}
	lu, err := NewLU(LUConfig{Serial: "faulty"}, st)
	if err != nil {
		t.Fatal(err)
	}
	tgt := NewTarget(testTargetName, map[uint64]*LU{0: lu})
	exec := func(cdb, d []byte) Result { return tgt.Execute(&Command{Nexus: nexusA, CDB: pad16(cdb), DataOut: d}) }
	exec([]byte{opTestUnitReady}, nil)

	st.failRead = true
	s := wantCheck(t, exec(cdb10(opRead10, 0, 7, 1), nil), keyMediumError, ascUnrecoveredReadError)
	if !s.infoValid || s.info != 7 {
		t.Errorf("INFORMATION %d valid %v, want LBA 7", s.info, s.infoValid)
	}
	st.failRead = false
	st.failWrite = true
	wantCheck(t, exec(cdb10(opWrite10, 0, 3, 1), make([]byte, 512)), keyMediumError, ascWriteError)
	st.failWrite = false
	st.failSync = true
	wantCheck(t, exec(cdb10(opWrite10, 0, 3, 1), make([]byte, 512)), keyMediumError, ascWriteError)
	wantCheck(t, exec(cdb10(opSyncCache10, 0, 0, 0), nil), keyMediumError, ascWriteError)
	if err := lu.Flush(context.Background()); !errors.Is(err, errInjected) {
		t.Errorf("Flush = %v", err)
	}
	st.failSync = false

	// A bug that panics is contained: HARDWARE ERROR, and the target
	// keeps working.
	st.panicRead = true
	wantCheck(t, exec(cdb10(opRead10, 0, 0, 1), nil), keyHardwareError, ascInternalTargetFailure)
	st.panicRead = false
	wantGood(t, exec(cdb10(opRead10, 0, 0, 1), nil))
}
