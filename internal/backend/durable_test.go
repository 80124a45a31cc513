package backend

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// TestWriteAtDurable: a durable write lands like WriteAt, with RWF_DSYNC
// and on the fallback (pwrite and fdatasync), and stays inside the store.
func TestWriteAtDurable(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		f, err := OpenFile(filepath.Join(t.TempDir(), "lun.img"), 1<<20, true)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.noDSync.Store(fallback)
		var dw DurableWriter = f
		p := bytes.Repeat([]byte("halun"), 1000)
		if n, err := dw.WriteAtDurable(p, 4096); err != nil || n != len(p) {
			t.Fatalf("fallback %v: WriteAtDurable = %d, %v", fallback, n, err)
		}
		got := make([]byte, len(p))
		if _, err := f.ReadAt(got, 4096); err != nil || !bytes.Equal(got, p) {
			t.Errorf("fallback %v: read back %q…, %v", fallback, got[:10], err)
		}
		if _, err := dw.WriteAtDurable(p, 1<<20-10); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("fallback %v: write past the end: %v, want ErrOutOfRange", fallback, err)
		}
	}
}
