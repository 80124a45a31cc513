package server

import (
	"errors"

	"github.com/halun/halun/internal/scsi"
)

// applyALUA installs the node's ALUA states on a target's LUN set.
func (n *Node) applyALUA(t scsi.Target) error {
	if len(n.alua) == 0 {
		return nil
	}
	return errors.New("this build's SCSI layer cannot report ALUA states yet")
}
