package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/halun/halun/internal/atomicfile"
)

// readState reads a file of replication state at path (written whole by
// the atomic-file helper), after removing what an interrupted write left
// beside it; found is false, with no error, when there is none. what
// names it in errors ("epochs", "activity log", ...).
func readState(path, what string) (data []byte, found bool, err error) {
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return nil, false, err
	}
	data, err = os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("replication: reading %s: %w", what, err)
	}
	return data, true, nil
}

// writeJSON replaces the file at path with v as JSON, durably (the
// atomic-file helper), creating its directory; what names the file in
// errors ("epochs", "activity log", ...).
func writeJSON(path, what string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("replication: encoding %s: %w", what, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("replication: %s: %w", what, err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("replication: writing %s: %w", what, err)
	}
	return nil
}
