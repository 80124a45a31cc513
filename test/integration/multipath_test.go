package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/server"
	"github.com/halun/halun/test/harness"
)

// TestMultipathFollowsPerVolumeALUA: a volume with ALUA state of its own
// (as a cluster gives each volume: its primary's port group
// active/optimized, the others standby) is reached over two paths; the
// multipath initiator uses the active one, and when the states swap (a
// failover) or pass through transitioning, I/O continues on the other
// path without an error reaching the caller.
func TestMultipathFollowsPerVolumeALUA(t *testing.T) {
	a1, a2 := freeAddr(t, "127.0.0.1"), freeAddr(t, "127.0.0.1")
	const target = "iqn.2026-12.io.halun.test:mpath"
	cfg, err := config.ParseWith(t.Name()+".yaml", []byte(fmt.Sprintf(`portal_groups:
  - {tag: 1, portals: [%q]}
  - {tag: 2, portals: [%q]}
volumes:
  - {name: v, backend: memory, size: 4MiB, serial: mpath-v-0001}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v}]
    access: {all: true}
`, a1, a2, target)), config.Overrides{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	g := scsi.NewLUALUAGroups()
	g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAActiveOptimized}, {ID: 2, State: scsi.ALUAStandby}}, false)
	harness.ServeInProcess(t, cfg, harness.InProcessOptions{Parts: server.Parts{
		VolumeALUA: func(v *config.Volume) *scsi.ALUAGroups { return g },
	}})
	opts := func(isid byte) initiator.Options {
		return initiator.Options{InitiatorName: iqnA, TargetName: target, ISID: pdu.ISID{0x80, 0, 0, 0, 0, isid}}
	}
	mp := initiator.NewMultipath(initiator.PathSpec{Addr: a1, Options: opts(1)}, initiator.PathSpec{Addr: a2, Options: opts(2)})
	defer mp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(lba uint64, fill byte) {
		t.Helper()
		data := bytes.Repeat([]byte{fill}, 4096)
		if err := mp.Write(ctx, lba, data, 512); err != nil {
			t.Fatalf("write: %v", err)
		}
		got, err := mp.Read(ctx, lba, 8, 512)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back: %v", err)
		}
	}
	check(0, 0xa1)
	if sw := mp.Switches(); len(sw) != 1 || !strings.HasPrefix(sw[0], "path -1 -> 0") {
		t.Fatalf("paths used before the failover: %v", sw)
	}

	// Failover: group 2 becomes active, group 1 standby.
	g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAStandby}, {ID: 2, State: scsi.ALUAActiveOptimized}}, false)
	check(8, 0xb2)
	if sw := mp.Switches(); len(sw) != 2 || !strings.HasPrefix(sw[1], "path 0 -> 1") {
		t.Fatalf("paths after the failover: %v", sw)
	}

	// A promotion in flight: every group transitioning, then group 1
	// active. The write waits and then completes, without an error.
	g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUATransitioning}, {ID: 2, State: scsi.ALUATransitioning}}, false)
	done := make(chan error, 1)
	go func() { done <- mp.Write(ctx, 16, bytes.Repeat([]byte{0xc3}, 4096), 512) }()
	select {
	case err := <-done:
		t.Fatalf("a write completed while every path was transitioning: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAActiveOptimized}, {ID: 2, State: scsi.ALUAStandby}}, false)
	if err := <-done; err != nil {
		t.Fatalf("write across the transition: %v", err)
	}
	if got, err := mp.Read(ctx, 16, 8, 512); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{0xc3}, 4096)) {
		t.Fatalf("read after the transition: %v", err)
	}
}
