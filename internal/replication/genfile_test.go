package replication

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestGenFile_TiedToItsImage: the generation record of a copy survives a
// restart only with the image it describes; a new or replaced image gets
// a new record (new data id, epoch 0), whatever the old one said.
func TestGenFile_TiedToItsImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "replication", "v.gen.json")
	img := Image{Dev: 1, Ino: 42, Btime: 1000}
	g, how, err := OpenGenFile(path, "vid", img, false)
	if err != nil || how != GenNew {
		t.Fatalf("first open: %v %v", how, err)
	}
	first := g.Generation()
	if first.Epoch != 0 || first.DataID == "" || first.VolumeID != "vid" {
		t.Fatalf("new record: %+v", first)
	}
	if err := g.Applied(3); err != nil {
		t.Fatal(err)
	}
	if err := g.Applied(2); err != nil || g.Generation().Epoch != 3 {
		t.Fatalf("a lower epoch moved the record: %v %v", g.Generation(), err)
	}

	reopen := func(img Image, fresh bool) (Generation, GenOpen) {
		t.Helper()
		g, how, err := OpenGenFile(path, "vid", img, fresh)
		if err != nil {
			t.Fatal(err)
		}
		return g.Generation(), how
	}
	if got, how := reopen(img, false); how != GenKept || !reflect.DeepEqual(got, Generation{VolumeID: "vid", DataID: first.DataID, Epoch: 3}) {
		t.Fatalf("same image: %v %+v", how, got)
	}
	for name, c := range map[string]struct {
		img   Image
		fresh bool
	}{
		"created at this start": {img, true},
		"recreated, same inode": {Image{Dev: 1, Ino: 42, Btime: 2000}, false},
		"another inode":         {Image{Dev: 1, Ino: 43, Btime: 1000}, false},
		"another device":        {Image{Dev: 2, Ino: 42, Btime: 1000}, false},
	} {
		// Each case starts from the record of the first image.
		g, _, err := OpenGenFile(path, "vid", img, false)
		if err != nil {
			t.Fatal(err)
		}
		g.Applied(3)
		got, how := reopen(c.img, c.fresh)
		if how != GenReset || got.Epoch != 0 || got.DataID == first.DataID {
			t.Errorf("%s: %v %+v, want a new record", name, how, got)
		}
	}
}

// TestGenFile_KeepsAnotherVolumesID: a record of another volume is kept
// as it is, so a primary sees the copy is not this volume's.
func TestGenFile_KeepsAnotherVolumesID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.gen.json")
	g, _, err := OpenGenFile(path, "other", Image{Ino: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	g.Applied(4)
	g, how, err := OpenGenFile(path, "vid", Image{Ino: 1}, false)
	if err != nil || how != GenKept || g.Generation().VolumeID != "other" || g.Generation().Epoch != 4 {
		t.Fatalf("%v %+v %v", how, g.Generation(), err)
	}
}

// TestGenFile_PrimaryRun: the run of epochs a node was primary at
// continues only through consecutive epochs.
func TestGenFile_PrimaryRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.gen.json")
	g, _, err := OpenGenFile(path, "vid", Image{}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ epoch, since uint64 }{{2, 2}, {3, 2}, {4, 2}, {6, 6}, {7, 6}} {
		since, err := g.BecamePrimary(c.epoch)
		if err != nil || since != c.since {
			t.Fatalf("primary at %d: since %d (%v), want %d", c.epoch, since, err, c.since)
		}
		if g.Generation().Epoch != c.epoch {
			t.Fatalf("copy at %d after becoming primary at %d", g.Generation().Epoch, c.epoch)
		}
	}
	// Durable: a restart continues the run.
	g, _, err = OpenGenFile(path, "vid", Image{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if since, _ := g.BecamePrimary(8); since != 6 {
		t.Fatalf("after a restart: since %d, want 6", since)
	}
}

// TestGenFile_Damaged: a damaged record is an error naming the cure, not
// a silent reset.
func TestGenFile_Damaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.gen.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenGenFile(path, "vid", Image{}, false); err == nil {
		t.Fatal("damaged record accepted")
	}
}
