package config

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/halun/halun/internal/atomicfile"
)

// SerialsFile is the file in node.data_dir that keeps generated serials.
const SerialsFile = "serials.json"

// serialsDoc is SerialsFile's format. Entries are never removed: a volume
// that is removed from the config and added back keeps its identity.
type serialsDoc struct {
	Version int                     `json:"version"`
	Volumes map[string]serialsEntry `json:"volumes"`
}

type serialsEntry struct {
	Serial string `json:"serial"`
}

// EnsureSerials gives every volume without a configured serial the one
// generated for it before, or generates one (16 hex digits from
// crypto/rand) and persists it in <node.data_dir>/serials.json (written
// atomically), so a volume's SCSI identity is the same across restarts. It
// does nothing, and touches no file, if every volume has a serial. On error
// c is unchanged.
func EnsureSerials(c *Config) error {
	var missing []int
	taken := map[string]string{} // lower-case serial → volume
	for i, v := range c.Volumes {
		if v.Serial == "" {
			missing = append(missing, i)
		} else {
			taken[strings.ToLower(v.Serial)] = v.Name
		}
	}
	if len(missing) == 0 {
		return nil
	}
	path := filepath.Join(c.Node.DataDir, SerialsFile)
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return err
	}
	doc, err := readSerials(path)
	if err != nil {
		return err
	}
	got := make([]string, len(missing))
	changed := false
	for k, i := range missing {
		name := c.Volumes[i].Name
		e, ok := doc.Volumes[name]
		if ok {
			if other, dup := taken[strings.ToLower(e.Serial)]; dup {
				return fmt.Errorf("config: volume %s: its serial %s (kept in %s) is also configured for volume %s; "+
					"two volumes would have one SCSI identity", name, e.Serial, path, other)
			}
		} else {
			for {
				e.Serial, err = newSerial()
				if err != nil {
					return err
				}
				if _, dup := taken[e.Serial]; !dup {
					break
				}
			}
			doc.Volumes[name] = e
			changed = true
		}
		taken[strings.ToLower(e.Serial)] = name
		got[k] = e.Serial
	}
	if changed {
		if err := writeSerials(path, doc); err != nil {
			return err
		}
	}
	for k, i := range missing {
		c.Volumes[i].Serial = got[k]
	}
	return nil
}

func newSerial() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("config: generating a serial: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// readSerials reads the serials file; a missing file is an empty one. A
// damaged file is an error, not a reason to generate new serials, which
// would change the volumes' identity under their initiators.
func readSerials(path string) (*serialsDoc, error) {
	doc := &serialsDoc{Version: 1, Volumes: map[string]serialsEntry{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading serials: %w", err)
	}
	if err := json.Unmarshal(data, doc); err != nil {
		return nil, fmt.Errorf("config: %s is damaged (%v); restore it from a backup, or set each volume's serial in the config: "+
			"new serials would change the volumes' SCSI identity", path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("config: %s has version %d; this halun understands version 1", path, doc.Version)
	}
	if doc.Volumes == nil {
		doc.Volumes = map[string]serialsEntry{}
	}
	for name, e := range doc.Volumes {
		if err := checkSerial(e.Serial); err != nil {
			return nil, fmt.Errorf("config: %s: volume %s: %v", path, name, err)
		}
	}
	return doc, nil
}

// writeSerials replaces the serials file atomically: temp file, fsync,
// rename, fsync of the directory.
func writeSerials(path string, doc *serialsDoc) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("config: creating data dir: %w", err)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("config: encoding serials: %w", err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("config: writing serials: %w", err)
	}
	return nil
}
