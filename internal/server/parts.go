package server

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/scsi"
)

// Parts are what a node is assembled from that a cluster replaces: the
// stores behind volumes, where persistent reservations are kept, and the
// source of each target's ALUA states. Build takes them, never constructs
// them deep inside, so a clustered node is the same assembly with other
// parts (a replicated store, reservations kept in etcd, ALUA states the
// cluster drives). A nil field is the single-node part (LocalParts).
type Parts struct {
	// OpenStore opens the block store of a volume.
	OpenStore func(v *config.Volume) (backend.Store, error)
	// PRStore keeps persistent reservations made with APTPL.
	PRStore scsi.PRStore
	// ALUA returns the ALUA state of a new target.
	ALUA func(cfg *config.Config, t *config.Target) *scsi.ALUAGroups
	// VolumeALUA, if set, returns a volume's own ALUA state, which takes
	// the place of its targets' for that logical unit (a cluster: each
	// volume's primary is active/optimized, the other nodes standby), or
	// nil to leave the volume to its targets'. It never comes from, nor
	// is written to, the operator's config. A single node has none.
	VolumeALUA func(v *config.Volume) *scsi.ALUAGroups
	// OnLU, if set, is told of every logical unit built for a volume, at
	// start and on reload, so the part that drives a volume (a cluster
	// node) can act on its LU (reload its reservations on promotion).
	OnLU func(v *config.Volume, lu *scsi.LU)
}

// LocalParts are a single node's parts for cfg: the volumes' local stores
// (files, block devices, memory), reservations in
// <data_dir>/reservations, ALUA states from the config's portal groups.
func LocalParts(cfg *config.Config) (Parts, error) {
	prs, err := scsi.NewFilePRStore(filepath.Join(cfg.Node.DataDir, "reservations"))
	if err != nil {
		return Parts{}, err
	}
	return Parts{OpenStore: OpenLocalStore, PRStore: prs, ALUA: newALUAGroups}, nil
}

// withDefaults fills p's nil fields with LocalParts'.
func (p Parts) withDefaults(cfg *config.Config) (Parts, error) {
	if p.OpenStore != nil && p.PRStore != nil && p.ALUA != nil {
		return p, nil
	}
	local, err := LocalParts(cfg)
	if err != nil {
		return Parts{}, err
	}
	if p.OpenStore == nil {
		p.OpenStore = local.OpenStore
	}
	if p.PRStore == nil {
		p.PRStore = local.PRStore
	}
	if p.ALUA == nil {
		p.ALUA = local.ALUA
	}
	return p, nil
}

// OpenLocalStore opens a volume's store on this machine: a file (created
// sparse if missing, its directory too), a block device, or memory.
func OpenLocalStore(v *config.Volume) (backend.Store, error) {
	switch v.Backend {
	case config.BackendFile:
		if err := os.MkdirAll(filepath.Dir(v.Path), 0o700); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", v.Path, err)
		}
		return backend.OpenFile(v.Path, v.Size, true)
	case config.BackendBlock:
		return backend.OpenBlock(v.Path)
	case config.BackendMemory:
		return backend.NewMemory(v.Size), nil
	}
	return nil, fmt.Errorf("unknown backend %q", v.Backend)
}
