package replication

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/halun/halun/internal/atomicfile"
)

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
