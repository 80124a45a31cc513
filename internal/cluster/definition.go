package cluster

import (
	"encoding/json"
	"strconv"

	"github.com/halun/halun/internal/cluster/coord"
	"github.com/halun/halun/internal/config"
)

// definitionOf is what every node must agree on about a replicated
// volume: everything an initiator sees of the disk — its size, block
// sizes, SCSI identity, and what it may do with it.
func definitionOf(v *config.Volume) coord.Definition {
	id, err := json.Marshal(v.Identity)
	if err != nil {
		panic(err) // strings, numbers and byte slices
	}
	return coord.Definition{
		"size":                strconv.FormatInt(v.Size, 10),
		"block_size":          strconv.Itoa(v.BlockSize),
		"physical_block_size": strconv.Itoa(v.PhysicalBlockSize),
		"serial":              v.Serial,
		"identity":            string(id),
		"thin":                strconv.FormatBool(v.Thin),
		"read_only":           strconv.FormatBool(v.ReadOnly),
		"removable":           strconv.FormatBool(v.Removable),
		"write_cache":         strconv.FormatBool(v.WriteCache),
	}
}
