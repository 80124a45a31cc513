package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/halun/halun/internal/atomicfile"
	"github.com/halun/halun/internal/identity"
)

// IdentitiesFile is the file in node.data_dir that records the SCSI
// identity each volume was served with.
const IdentitiesFile = "identities.json"

// identitiesDoc is IdentitiesFile's format: per volume, the spec its
// identity was resolved from and the bytes initiators received.
type identitiesDoc struct {
	Version int                       `json:"version"`
	Volumes map[string]identityRecord `json:"volumes"`
}

type identityRecord struct {
	Spec  string `json:"spec"` // specKey of the spec
	WWID  string `json:"wwid"`
	Inq   string `json:"inquiry"` // vendor, product, revision as sent (28 bytes, hex)
	VPD80 string `json:"vpd80"`   // hex
	VPD83 string `json:"vpd83"`   // logical-unit designators, hex
}

// specKey is a spec's set fields, sorted, as "Field=value" lines: a new
// halun version that adds a field leaves the key of every spec that does
// not set it unchanged.
func specKey(spec identity.Spec) string {
	v := reflect.ValueOf(spec)
	var lines []string
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.IsZero() {
			continue
		}
		val := fmt.Sprint(f.Interface())
		if b, ok := f.Interface().([]byte); ok {
			val = hex.EncodeToString(b)
		}
		lines = append(lines, v.Type().Field(i).Name+"="+val)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func recordOf(spec identity.Spec, id identity.Identity) identityRecord {
	inq := fmt.Sprintf("%-8s%-16s%-4s", id.Vendor, id.Product, id.Revision)
	return identityRecord{Spec: specKey(spec), WWID: id.WWID(), Inq: hex.EncodeToString([]byte(inq)),
		VPD80: hex.EncodeToString([]byte(id.UnitSerial)), VPD83: hex.EncodeToString(id.AppendDesignators(nil))}
}

func (r identityRecord) sameBytes(o identityRecord) bool {
	return r.WWID == o.WWID && r.Inq == o.Inq && r.VPD80 == o.VPD80 && r.VPD83 == o.VPD83
}

// IdentityChange is a volume whose config now gives it another identity
// than the one it was last served with.
type IdentityChange struct {
	Volume        string
	OldWWID, WWID string
}

// KeepIdentities resolves every volume's identity and checks it against
// <node.data_dir>/identities.json, the record of the identity each volume
// was last served with. A volume whose config spec is unchanged must get
// the same bytes: if it does not — a halun version that computes a style
// differently — KeepIdentities refuses, since initiators would see a new
// disk, and nothing is written. A volume whose spec changed (the operator
// edited its identity or serial) is reported as an IdentityChange and
// recorded. Serials must be set (EnsureSerials). The file is written
// atomically, and only when something changed.
func KeepIdentities(c *Config) ([]IdentityChange, error) {
	path := filepath.Join(c.Node.DataDir, IdentitiesFile)
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return nil, err
	}
	doc, err := readIdentities(path)
	if err != nil {
		return nil, err
	}
	var changes []IdentityChange
	changed := false
	for i := range c.Volumes {
		v := &c.Volumes[i]
		id, err := v.ResolveIdentity()
		if err != nil {
			return nil, err
		}
		rec := recordOf(v.IdentitySpec(), id)
		old, ok := doc.Volumes[v.Name]
		switch {
		case !ok:
		case old.Spec == rec.Spec && !old.sameBytes(rec):
			return nil, fmt.Errorf("config: volume %s: this halun computes its SCSI identity as WWID %s from the same config that was served as WWID %s (%s); "+
				"initiators would see a new disk, so it is refused — run the halun version that served it and report this as a bug",
				v.Name, rec.WWID, old.WWID, path)
		case old.sameBytes(rec):
			if old.Spec == rec.Spec {
				continue
			}
		default:
			changes = append(changes, IdentityChange{Volume: v.Name, OldWWID: old.WWID, WWID: rec.WWID})
		}
		doc.Volumes[v.Name] = rec
		changed = true
	}
	if !changed {
		return changes, nil
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("config: encoding %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("config: creating data dir: %w", err)
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("config: writing %s: %w", path, err)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Volume < changes[j].Volume })
	return changes, nil
}

// readIdentities reads the record; a missing file is an empty one, a
// damaged one an error (the check it enables would be lost silently).
func readIdentities(path string) (*identitiesDoc, error) {
	doc := &identitiesDoc{Version: 1, Volumes: map[string]identityRecord{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if err := json.Unmarshal(data, doc); err != nil {
		return nil, fmt.Errorf("config: %s is damaged (%v); restore it from a backup or remove it (the identities are then recorded anew)", path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("config: %s has version %d; this halun understands version 1", path, doc.Version)
	}
	if doc.Volumes == nil {
		doc.Volumes = map[string]identityRecord{}
	}
	return doc, nil
}
