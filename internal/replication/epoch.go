package replication

import (
	"encoding/json"
	"fmt"
	"sync"
)

// EpochStore persists, per volume, the highest epoch a replica has
// accepted. SetEpoch is durable when it returns: a replica that crashed
// and restarted must still refuse a deposed primary.
type EpochStore interface {
	Epoch(volume string) (uint64, error)
	SetEpoch(volume string, epoch uint64) error
}

// FileEpochs is an EpochStore in one JSON file, replaced atomically on
// every change (epochs change on failover, not per write).
type FileEpochs struct {
	path string
	mu   sync.Mutex
	m    map[string]uint64
}

// OpenFileEpochs reads path (a missing file is empty); a damaged file is
// an error, since forgetting an epoch would let a deposed primary write.
func OpenFileEpochs(path string) (*FileEpochs, error) {
	e := &FileEpochs{path: path, m: map[string]uint64{}}
	data, found, err := readState(path, "epochs")
	if err != nil || !found {
		return e, err
	}
	if err := json.Unmarshal(data, &e.m); err != nil {
		return nil, fmt.Errorf("replication: %s is damaged (%v): restore it; forgetting an epoch would let a deposed primary write", path, err)
	}
	return e, nil
}

// Epoch returns volume's epoch, 0 if none was accepted yet.
func (e *FileEpochs) Epoch(volume string) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[volume], nil
}

// SetEpoch records a higher epoch durably; a lower one is an error.
func (e *FileEpochs) SetEpoch(volume string, epoch uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.m[volume]; epoch < cur {
		return fmt.Errorf("replication: volume %s: epoch %d is below %d", volume, epoch, cur)
	} else if epoch == cur {
		return nil
	}
	next := make(map[string]uint64, len(e.m)+1)
	for k, v := range e.m {
		next[k] = v
	}
	next[volume] = epoch
	if err := writeJSON(e.path, "epochs", next); err != nil {
		return err
	}
	e.m = next
	return nil
}
