package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/scsi"
	"github.com/halun/halun/internal/server"
	"github.com/halun/halun/test/harness"
)

const (
	testTarget    = "iqn.2026-12.io.halun.test:bench"
	testInitiator = "iqn.2026-12.io.halun.test:bench-host"
)

// serve starts an in-process halun with a 4 MiB memory volume on one
// portal per ALUA group given (none: one portal, no per-volume ALUA) and
// returns the portals.
func serve(t *testing.T, groups *scsi.ALUAGroups, nPortals int) []string {
	t.Helper()
	var addrs []string
	var pg strings.Builder
	for i := range nPortals {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
		fmt.Fprintf(&pg, "  - {tag: %d, portals: [%q]}\n", i+1, addrs[i])
	}
	cfg, err := config.ParseWith(t.Name()+".yaml", []byte(fmt.Sprintf(`portal_groups:
%svolumes:
  - {name: v, backend: memory, size: 4MiB, serial: bench-v-0001}
targets:
  - iqn: %s
    luns: [{lun: 0, volume: v}]
    access: {all: true}
`, pg.String(), testTarget)), config.Overrides{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var parts server.Parts
	if groups != nil {
		parts.VolumeALUA = func(*config.Volume) *scsi.ALUAGroups { return groups }
	}
	harness.ServeInProcess(t, cfg, harness.InProcessOptions{Parts: parts})
	return addrs
}

func multipath(t *testing.T, addrs ...string) *initiator.Multipath {
	var specs []initiator.PathSpec
	for i, a := range addrs {
		specs = append(specs, initiator.PathSpec{Addr: a, Options: initiator.Options{
			InitiatorName: testInitiator, TargetName: testTarget, ISID: pdu.ISID{0x80, 0, 0, 0, 1, byte(i)},
		}})
	}
	mp := initiator.NewMultipath(specs...)
	t.Cleanup(func() { mp.Close() })
	return mp
}

// TestLoadVerifiesAcrossAFailover: the load runs through two paths while
// the volume's ALUA states swap (as a cluster's failover does); I/O moves
// to the other path, nothing fails and every read verifies.
func TestLoadVerifiesAcrossAFailover(t *testing.T) {
	g := scsi.NewLUALUAGroups()
	g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAActiveOptimized}, {ID: 2, State: scsi.ALUAStandby}}, false)
	mp := multipath(t, serve(t, g, 2)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var opsBefore, opsAfter int64
	swapped := false
	res, err := Run(ctx, mp, Config{
		Workers: 3, ReadPercent: 50, Interval: 20 * time.Millisecond,
		Progress: func(tk Tick) {
			switch {
			case !swapped:
				opsBefore += tk.Ops
				if opsBefore > 50 {
					g.Set([]scsi.TargetPortGroup{{ID: 1, State: scsi.ALUAStandby}, {ID: 2, State: scsi.ALUAActiveOptimized}}, false)
					swapped = true
				}
			default:
				opsAfter += tk.Ops
				if opsAfter > 200 {
					cancel()
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Failed != 0 || res.Reads == 0 || res.Writes == 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Blocks != 1024 || res.BlockSize != 4096 || res.Ops != res.Reads+res.Writes || res.Bytes != res.Ops*4096 {
		t.Errorf("geometry or counts: %+v", res)
	}
	if len(res.Switches) != 2 || !strings.HasPrefix(res.Switches[0], "path -1 -> 0") || !strings.HasPrefix(res.Switches[1], "path 0 -> 1") {
		t.Errorf("switches %q, want the first path then the second", res.Switches)
	}
	if res.LatencyP50 <= 0 || res.LatencyP99 < res.LatencyP50 || res.LatencyMax < res.LatencyP99 || res.LongestPause <= 0 {
		t.Errorf("latencies and pause: %+v", res)
	}
}

// TestCorruptedBlockIsAVerificationError: blocks overwritten behind the
// load's back (zeros, through a second session) are reported, so the
// check can fail.
func TestCorruptedBlockIsAVerificationError(t *testing.T) {
	addrs := serve(t, nil, 1)
	mp := multipath(t, addrs...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := initiator.Dial(ctx, addrs[0], initiator.Options{InitiatorName: testInitiator, TargetName: testTarget, ISID: pdu.ISID{0x80, 0, 0, 0, 2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size = 64 << 10
	zeros := make([]byte, size)
	var mu sync.Mutex
	var writeErr error
	res, err := Run(ctx, mp, Config{
		Workers: 2, Size: size, ReadPercent: 50, Interval: 20 * time.Millisecond,
		Progress: func(tk Tick) {
			if tk.VerifyErrors > 0 {
				cancel()
				return
			}
			// A pending unit attention may answer the first command.
			for range 2 {
				if err := s.Write(ctx, 0, 0, zeros, 512); err == nil || ctx.Err() != nil {
					mu.Lock()
					writeErr = err
					mu.Unlock()
					break
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if writeErr != nil && ctx.Err() == nil {
		t.Fatalf("overwriting behind the load: %v", writeErr)
	}
	if res.OK() || res.VerifyErrors == 0 || len(res.VerifyDetails) == 0 {
		t.Fatalf("no verification error: %+v", res)
	}
	if d := res.VerifyDetails[0]; !strings.Contains(d, "not written by this run") && !strings.Contains(d, "is torn") {
		t.Errorf("detail %q", d)
	}
}

func TestRefusesALoadThatDoesNotFit(t *testing.T) {
	mp := multipath(t, serve(t, nil, 1)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{BlockSize: 96}, "not a multiple of the logical unit's 512-byte blocks"},
		{Config{BlockSize: 100}, "not a positive multiple of 32"},
		{Config{Size: 8 << 20}, "exceeds the logical unit's 4194304 bytes"},
		{Config{Size: 8192, Workers: 3}, "fewer than the 3 workers"},
		{Config{ReadPercent: 101}, "not within 0-100"},
	} {
		if _, err := Run(ctx, mp, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
