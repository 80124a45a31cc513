package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/halun/halun/internal/scsi"
)

// prStore keeps the persistent reservations of replicated volumes in
// etcd (coord), where a promoted node finds them, and those of the node's
// other volumes in local files. Every change a primary makes is recorded
// before the PERSISTENT RESERVE OUT command that made it completes, in a
// transaction that checks the node still is the volume's primary at its
// epoch; a node that is not primary cannot change a replicated volume's
// reservations.
type prStore struct {
	n     *Node
	local scsi.PRStore
}

// volumeOf returns the replicated volume with serial, if any.
func (s *prStore) volumeOf(serial string) *volume {
	for _, v := range s.n.vols {
		if v.cfg.Serial == serial {
			return v
		}
	}
	return nil
}

func (s *prStore) LoadPR(serial string) (scsi.PRState, bool, error) {
	v := s.volumeOf(serial)
	if v == nil {
		return s.local.LoadPR(serial)
	}
	ctx, cancel := context.WithTimeout(s.n.ctx, 5*time.Second)
	defer cancel()
	b, err := s.n.client.Reservations(ctx, v.cfg.Name)
	if err != nil || b == nil {
		return scsi.PRState{}, false, err
	}
	var st scsi.PRState
	if err := json.Unmarshal(b, &st); err != nil {
		return scsi.PRState{}, false, fmt.Errorf("cluster: volume %s: recorded reservations: %w", v.cfg.Name, err)
	}
	return st, true, nil
}

func (s *prStore) SavePR(serial string, st scsi.PRState) error {
	v := s.volumeOf(serial)
	if v == nil {
		return s.local.SavePR(serial, st)
	}
	v.mu.Lock()
	primary, epoch := v.primary != nil, v.epoch
	v.mu.Unlock()
	if !primary {
		return fmt.Errorf("cluster: volume %s: reservations change only on its primary", v.cfg.Name)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.n.ctx, 2*s.n.cl.ReplicaTimeout)
	defer cancel()
	return s.n.client.SaveReservations(ctx, v.cfg.Name, s.n.self, epoch, b)
}
