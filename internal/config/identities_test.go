package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeepIdentitiesRecordsAndRefusesDrift: the identity each volume is
// served with is recorded; the same config must give the same bytes
// again, and a config change is reported, not refused.
func TestKeepIdentitiesRecordsAndRefusesDrift(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	vols := "  - {name: a, backend: memory, size: 1MiB, serial: \"633c5643\", identity: {style: lio}}\n  - {name: b, backend: memory, size: 1MiB, serial: fixed1}\n"
	c := serialsConfig(t, dir, vols)
	if ch, err := KeepIdentities(c); err != nil || len(ch) != 0 {
		t.Fatalf("first start: %v %v", ch, err)
	}
	path := filepath.Join(dir, IdentitiesFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc identitiesDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Volumes["a"].WWID != "36001405633c564300000000000000000" || len(doc.Volumes) != 2 {
		t.Fatalf("record %s (%v)", data, err)
	}
	st, _ := os.Stat(path)

	// The same config again: nothing to do, nothing written.
	if ch, err := KeepIdentities(serialsConfig(t, dir, vols)); err != nil || len(ch) != 0 {
		t.Fatalf("second start: %v %v", ch, err)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("the record was rewritten although nothing changed")
	}

	// The operator changes a serial: reported and recorded.
	edited := strings.Replace(vols, "serial: fixed1", "serial: fixed2", 1)
	ch, err := KeepIdentities(serialsConfig(t, dir, edited))
	if err != nil || len(ch) != 1 || ch[0].Volume != "b" || ch[0].OldWWID == ch[0].WWID {
		t.Fatalf("changed serial: %v %v", ch, err)
	}

	// The same spec recorded with other bytes — what a halun version that
	// computed a style differently would meet — is refused, and the
	// record is left alone.
	doc = identitiesDoc{}
	data, _ = os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Volumes["a"]
	r.WWID, r.VPD83 = "36001405633c5643000000000000000ff", r.VPD83[:len(r.VPD83)-2]+"ff"
	doc.Volumes["a"] = r
	data, _ = json.Marshal(doc)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = KeepIdentities(serialsConfig(t, dir, edited))
	if err == nil || !strings.Contains(err.Error(), "volume a") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("drift not refused: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Error("the record was changed by a refused start")
	}

	// A damaged record stops the start.
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := KeepIdentities(serialsConfig(t, dir, edited)); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged record: %v", err)
	}
}
