package coord

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ErrDefinition: a node's definition of a volume differs from the one
// the cluster recorded; the node must not serve it.
var ErrDefinition = errors.New("the volume's definition differs from the cluster's")

// Definition is what every node must agree on about a volume, field by
// field (size, block sizes, serial, SCSI identity, ...): the first node
// to join records it with the volume, every later one is checked against
// it, so two nodes never give initiators a different disk under one
// name.
type Definition map[string]string

// diff lists the fields where d (this node's) and rec (the cluster's)
// differ, as "field: here X, cluster Y".
func (d Definition) diff(rec Definition) []string {
	keys := slices.Sorted(maps.Keys(d))
	for k := range rec {
		if _, ok := d[k]; !ok {
			keys = append(keys, k)
		}
	}
	var out []string
	for _, k := range keys {
		if d[k] != rec[k] {
			out = append(out, fmt.Sprintf("%s: here %q, cluster %q", k, d[k], rec[k]))
		}
	}
	return out
}

// checkDefinition compares a node's definition and replica list with a
// record's.
func checkDefinition(name string, def Definition, replicas []string, rec VolumeState) error {
	var diffs []string
	if rec.Definition != nil {
		diffs = def.diff(rec.Definition)
	}
	if a, b := slices.Sorted(slices.Values(replicas)), slices.Sorted(slices.Values(rec.Replicas)); !slices.Equal(a, b) {
		diffs = append(diffs, fmt.Sprintf("replicas: here %v, cluster %v", a, b))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("volume %s: %w (recorded by %s): %s", name, ErrDefinition, rec.DefinedBy, strings.Join(diffs, "; "))
}

// ErrShrink: a volume's recorded size would go down; volumes only grow.
var ErrShrink = errors.New("a volume's size only grows")

// GrowVolume records size (bytes) as the "size" of volume name's
// definition, as its primary at epoch (ErrFenced otherwise, as for
// OutOfSync): once every copy has grown, so that a node starting later
// with the new size in its config is accepted and one with the old size
// is refused, naming both. A size below the recorded one is ErrShrink;
// the recorded one is no change.
func (c *Client) GrowVolume(ctx context.Context, name, primary string, epoch uint64, size int64) error {
	what := fmt.Sprintf("record volume %s's size as %d bytes (primary %s, epoch %d)", name, size, primary, epoch)
	_, err := c.update(ctx, what, name, func(s VolumeState) (VolumeState, error) {
		if err := fenced(s, primary, epoch); err != nil {
			return VolumeState{}, err
		}
		if rec, err := strconv.ParseInt(s.Definition["size"], 10, 64); err == nil && size < rec {
			return VolumeState{}, fmt.Errorf("%w: recorded %d bytes", ErrShrink, rec)
		}
		if s.Definition["size"] == strconv.FormatInt(size, 10) {
			return s, errUnchanged
		}
		if s.Definition == nil {
			s.Definition = Definition{}
		}
		s.Definition["size"] = strconv.FormatInt(size, 10)
		return s, nil
	}, func(VolumeState) {
		c.log.Info("volume grown", "volume", name, "size", size, "primary", primary, "epoch", epoch)
	})
	return err
}
