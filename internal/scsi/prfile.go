package scsi

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/halun/halun/internal/atomicfile"
)

// FilePRStore keeps persistent reservations across restarts (APTPL, SPC-4
// 5.12.5): one JSON file per LU, named after its serial, in a directory
// of the node's data dir. A state whose last registration did not set
// APTPL is not kept (its file is removed), as SPC-4 prescribes for a power
// loss. Files are replaced atomically (package atomicfile).
type FilePRStore struct {
	dir string
	mu  sync.Mutex
}

var _ PRStore = (*FilePRStore)(nil)

// NewFilePRStore returns a store in dir, creating it (mode 0700) if
// needed.
func NewFilePRStore(dir string) (*FilePRStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("scsi: persistent reservation store: %w", err)
	}
	// A write the process died in left its temporary file behind.
	if _, err := atomicfile.RemoveStaleIn(dir); err != nil {
		return nil, fmt.Errorf("scsi: persistent reservation store: %w", err)
	}
	return &FilePRStore{dir: dir}, nil
}

// prFile is the on-disk form.
type prFile struct {
	Serial string
	State  PRState
}

func (s *FilePRStore) path(serial string) string {
	name := serial
	for _, c := range []byte(serial) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			name = "x" + hex.EncodeToString([]byte(serial))
			break
		}
	}
	return filepath.Join(s.dir, "pr-"+name+".json")
}

// LoadPR returns the state kept for serial, if any.
func (s *FilePRStore) LoadPR(serial string) (PRState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.path(serial))
	if errors.Is(err, fs.ErrNotExist) {
		return PRState{}, false, nil
	}
	if err != nil {
		return PRState{}, false, fmt.Errorf("read persistent reservations: %w", err)
	}
	var f prFile
	if err := json.Unmarshal(b, &f); err != nil {
		return PRState{}, false, fmt.Errorf("%s: %w", s.path(serial), err)
	}
	if f.Serial != serial {
		return PRState{}, false, fmt.Errorf("%s holds the reservations of %q, not %q", s.path(serial), f.Serial, serial)
	}
	return f.State, true, nil
}

// SavePR replaces the state kept for serial, or removes it without APTPL.
func (s *FilePRStore) SavePR(serial string, st PRState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.path(serial)
	if !st.APTPL {
		if err := atomicfile.Remove(p); err != nil {
			return fmt.Errorf("remove persistent reservations: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(prFile{Serial: serial, State: st}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(p, b, 0o600); err != nil {
		return fmt.Errorf("save persistent reservations: %w", err)
	}
	return nil
}
