package coord

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCreateVolume_RefusesAnotherDefinition: the first node records the
// volume's definition; a node that joins with the same one is accepted,
// one whose size or serial differs is refused, naming the fields.
func TestCreateVolume_RefusesAnotherDefinition(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxFor(t, 20*time.Second)
	def := Definition{"size": "67108864", "block_size": "512", "serial": "ha0001"}
	if _, err := c.dial("a", "a").CreateVolume(ctx, "v1", []string{"a", "b"}, def); err != nil {
		t.Fatal(err)
	}
	b := c.dial("b", "a")
	s, err := b.CreateVolume(ctx, "v1", []string{"a", "b"}, Definition{"serial": "ha0001", "block_size": "512", "size": "67108864"})
	if err != nil {
		t.Fatalf("same definition refused: %v", err)
	}
	if s.DefinedBy != "a" {
		t.Errorf("defined by %q, want a", s.DefinedBy)
	}
	tests := []struct {
		name string
		def  Definition
		want []string
	}{
		{"another size", Definition{"size": "134217728", "block_size": "512", "serial": "ha0001"}, []string{`size: here "134217728", cluster "67108864"`}},
		{"another serial", Definition{"size": "67108864", "block_size": "512", "serial": "ha0002"}, []string{`serial: here "ha0002", cluster "ha0001"`}},
		{"a field missing", Definition{"size": "67108864", "serial": "ha0001"}, []string{`block_size: here "", cluster "512"`}},
		{"a field more", Definition{"size": "67108864", "block_size": "512", "serial": "ha0001", "read_only": "true"}, []string{`read_only: here "true", cluster ""`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.CreateVolume(ctx, "v1", []string{"a", "b"}, tc.def)
			if !errors.Is(err, ErrDefinition) {
				t.Fatalf("got %v, want ErrDefinition", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestGrowVolume: the primary at its epoch records a new size; a node
// that then joins with it is accepted and one with the old size is
// refused, naming both; a deposed primary and a smaller size are refused.
func TestGrowVolume(t *testing.T) {
	c := newCluster(t, "a")
	ctx := ctxFor(t, 20*time.Second)
	a := c.dial("a", "a")
	def := Definition{"size": "8388608", "serial": "ha0001"}
	if _, err := a.CreateVolume(ctx, "v1", []string{"a", "b"}, def); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Promote(ctx, "v1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := a.GrowVolume(ctx, "v1", "a", 2, 16<<20); !errors.Is(err, ErrFenced) {
		t.Fatalf("grown at another epoch: %v, want ErrFenced", err)
	}
	if err := a.GrowVolume(ctx, "v1", "b", 1, 16<<20); !errors.Is(err, ErrFenced) {
		t.Fatalf("grown by a node that is not primary: %v, want ErrFenced", err)
	}
	if err := a.GrowVolume(ctx, "v1", "a", 1, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := a.GrowVolume(ctx, "v1", "a", 1, 16<<20); err != nil {
		t.Fatalf("the same size again: %v", err)
	}
	if err := a.GrowVolume(ctx, "v1", "a", 1, 4<<20); !errors.Is(err, ErrShrink) {
		t.Fatalf("a smaller size: %v, want ErrShrink", err)
	}
	b := c.dial("b", "a")
	if _, err := b.CreateVolume(ctx, "v1", []string{"a", "b"}, Definition{"size": "16777216", "serial": "ha0001"}); err != nil {
		t.Fatalf("a node with the new size refused: %v", err)
	}
	_, err := b.CreateVolume(ctx, "v1", []string{"a", "b"}, def)
	if !errors.Is(err, ErrDefinition) || !strings.Contains(err.Error(), `size: here "8388608", cluster "16777216"`) {
		t.Fatalf("a node with the old size: %v, want ErrDefinition naming both sizes", err)
	}
}
