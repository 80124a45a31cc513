package crash

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/admin"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/initiator"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/test/harness"
)

const (
	targetIQN = "iqn.2026-11.io.halun.test:crash"
	churnIQN  = "iqn.2026-11.io.halun.test:churn"
	hostIQN   = "iqn.2026-11.io.halun.test:crash-host"
	bs        = 512
	volBlocks = 16 << 20 / bs // 16 MiB volumes
	writers   = 4             // per volume, each on its own region
)

// The two volumes under load: LUN 0 write-through, LUN 1 write-back.
var volumes = []struct {
	lun         uint64
	writeBack   bool
	name        string
	fixedSerial bool
}{
	{0, false, "wt", true},
	{1, true, "wb", false},
}

const configTemplate = `node:
  data_dir: %[1]s
portal_groups:
  - {tag: 1, portals: ["%[2]s"]}
  - {tag: 2, portals: ["%[3]s"], alua: {state: active-optimized}}
volumes:
  - {name: wt, backend: file, path: wt.img, size: 16MiB, serial: 5eed0000c4a5e001}
  - {name: wb, backend: file, path: wb.img, size: 16MiB, write_cache: true}
  - {name: churn, backend: memory, size: 1MiB, serial: 5eed0000c4a5e0ff}
targets:
  - iqn: ` + targetIQN + `
    portal_groups: [1]
    luns: [{lun: 0, volume: wt}, {lun: 1, volume: wb}]
    access: {all: true}
  - iqn: ` + churnIQN + `
    portal_groups: [2]
    luns: [{lun: 0, volume: churn}]
    access: {all: true}
`

// model is what the initiators know about every block and the
// registration: what was issued, acknowledged and made durable.
type model struct {
	mu      sync.Mutex
	issued  [2][]uint64 // highest sequence sent to each block
	acked   [2][]uint64 // last sequence acknowledged on each block
	durable [2][]uint64 // sequence each block must hold at least
	// prAcked is the last registration key acknowledged, prIssued the one
	// in flight (or prAcked).
	prAcked, prIssued uint64
	// serial is the generated serial of the write-back volume.
	serial string
	// seq numbers the writes, across rounds.
	seq atomic.Uint64
}

func newModel() *model {
	m := &model{}
	for v := range 2 {
		m.issued[v] = make([]uint64, volBlocks)
		m.acked[v] = make([]uint64, volBlocks)
		m.durable[v] = make([]uint64, volBlocks)
	}
	return m
}

// stamp fills one block with its address, sequence and a checksum.
func stamp(b []byte, vol int, lba, seq uint64) {
	copy(b[0:4], "HLCK")
	b[4] = byte(vol)
	binary.BigEndian.PutUint64(b[8:], lba)
	binary.BigEndian.PutUint64(b[16:], seq)
	for i := 24; i < bs-4; i += 8 {
		binary.BigEndian.PutUint64(b[i:], seq*0x9e3779b97f4a7c15^uint64(i))
	}
	binary.BigEndian.PutUint32(b[bs-4:], crc32.ChecksumIEEE(b[:bs-4]))
}

// unstamp returns a block's sequence: 0 for a never-written (zero) block,
// an error for anything torn or misplaced.
func unstamp(b []byte, vol int, lba uint64) (uint64, error) {
	zero := true
	for _, c := range b {
		if c != 0 {
			zero = false
			break
		}
	}
	if zero {
		return 0, nil
	}
	if string(b[0:4]) != "HLCK" || crc32.ChecksumIEEE(b[:bs-4]) != binary.BigEndian.Uint32(b[bs-4:]) {
		return 0, fmt.Errorf("volume %d LBA %d: torn or foreign block (% x…)", vol, lba, b[:24])
	}
	if int(b[4]) != vol || binary.BigEndian.Uint64(b[8:]) != lba {
		return 0, fmt.Errorf("volume %d LBA %d holds the block of volume %d LBA %d", vol, lba, b[4], binary.BigEndian.Uint64(b[8:]))
	}
	return binary.BigEndian.Uint64(b[16:]), nil
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	return "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
}

func kills() int {
	if s := os.Getenv("HALUN_CRASH_KILLS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 5
}

// TestSIGKILLKeepsAcknowledgedWrites runs rounds of load → SIGKILL →
// restart → verify over the same data directory.
func TestSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	portal, churn := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "halun.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, configTemplate, dir, portal, churn), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills", seed, kills())
	rng := rand.New(rand.NewPCG(seed, 0))
	m := newModel()
	var stats struct{ writes, syncs, prs, aluas, kills int64 }
	for round := 0; round <= kills(); round++ {
		d := harness.Start(t, harness.Options{Config: cfgPath, Portal: portal, DataDir: dir, IQN: targetIQN})
		if err := m.verify(t, portal, cfgPath); err != nil {
			t.Fatalf("after %d kills: %v\n%s", round, err, harness.Tail(d.Log(), 3000))
		}
		// Writes the kill interrupted leave temporary files; a restart
		// removes them.
		for _, pat := range []string{filepath.Join(dir, ".*.tmp-*"), filepath.Join(dir, "reservations", ".*.tmp-*")} {
			if left, _ := filepath.Glob(pat); len(left) > 0 {
				t.Fatalf("after %d kills and a restart, temporary files remain: %v", round, left)
			}
		}
		if round == kills() {
			d.Stop(t)
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var loadErr atomic.Pointer[error]
		fail := func(err error) {
			if ctx.Err() == nil {
				loadErr.CompareAndSwap(nil, &err)
			}
		}
		for v := range volumes {
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, s, err := m.writeLoad(ctx, portal, v, w, rand.New(rand.NewPCG(seed, uint64(round*64+v*8+w))))
					atomic.AddInt64(&stats.writes, n)
					atomic.AddInt64(&stats.syncs, s)
					if err != nil {
						fail(err)
					}
				}()
			}
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			n, err := m.prLoad(ctx, portal)
			atomic.AddInt64(&stats.prs, n)
			if err != nil {
				fail(err)
			}
		}()
		go func() {
			defer wg.Done()
			atomic.AddInt64(&stats.aluas, aluaLoad(ctx, filepath.Join(dir, "halun.sock")))
		}()
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if p := loadErr.Load(); p != nil {
			cancel()
			t.Fatalf("round %d: load failed before the kill: %v", round, *p)
		}
		d.Kill(t)
		stats.kills++
		cancel()
		wg.Wait()
	}
	t.Logf("%d kills; %d writes, %d cache syncs, %d APTPL registrations, %d config rewrites acknowledged; every one verified",
		stats.kills, stats.writes, stats.syncs, stats.prs, stats.aluas)
}

// dial logs in to the crash target with a fixed ISID per role, so APTPL
// registrations come back to the same I_T nexus.
func dial(ctx context.Context, portal string, isid byte) (*initiator.Session, error) {
	return initiator.Dial(ctx, portal, initiator.Options{InitiatorName: hostIQN, TargetName: targetIQN,
		ISID: pdu.ISID{0x80, 0, 0, 0, 0x1c, isid}, Timeout: 10 * time.Second})
}

// writeLoad writes stamped extents into writer w's region of volume v
// until ctx ends or the connection breaks; on the write-back volume every
// fourth write is FUA and every seventh step a SYNCHRONIZE CACHE. It
// returns how many writes and syncs were acknowledged.
func (m *model) writeLoad(ctx context.Context, portal string, v, w int, rng *rand.Rand) (writes, syncs int64, err error) {
	s, err := dial(ctx, portal, byte(0x10+v*8+w))
	if err != nil {
		return 0, 0, loadError(ctx, err)
	}
	defer s.Close()
	vol := volumes[v]
	region := volBlocks / writers
	base := uint64(w * region)
	buf := make([]byte, 16*bs)
	for i := 0; ctx.Err() == nil; i++ {
		if vol.writeBack && i%7 == 6 {
			// Everything this writer had acknowledged is durable once the
			// cache sync completes.
			m.mu.Lock()
			snap := make([]uint64, region)
			copy(snap, m.acked[v][base:base+uint64(region)])
			m.mu.Unlock()
			if err := retryUA(func() error { return s.SyncCache(ctx, vol.lun) }); err != nil {
				return writes, syncs, loadError(ctx, err)
			}
			m.mu.Lock()
			for j, q := range snap {
				m.durable[v][base+uint64(j)] = max(m.durable[v][base+uint64(j)], q)
			}
			m.mu.Unlock()
			syncs++
			continue
		}
		n := 1 + rng.IntN(16)
		lba := base + uint64(rng.IntN(region-n))
		seq := m.seq.Add(1)
		for j := range n {
			stamp(buf[j*bs:(j+1)*bs], v, lba+uint64(j), seq)
		}
		m.mu.Lock()
		for j := range n {
			m.issued[v][lba+uint64(j)] = seq
		}
		m.mu.Unlock()
		fua := vol.writeBack && i%4 == 0
		err = retryUA(func() error {
			if fua {
				return s.WriteFUA(ctx, vol.lun, lba, buf[:n*bs], bs)
			}
			return s.Write(ctx, vol.lun, lba, buf[:n*bs], bs)
		})
		if err != nil {
			return writes, syncs, loadError(ctx, err)
		}
		m.mu.Lock()
		for j := range n {
			m.acked[v][lba+uint64(j)] = seq
			if !vol.writeBack || fua {
				m.durable[v][lba+uint64(j)] = seq
			}
		}
		m.mu.Unlock()
		writes++
	}
	return writes, syncs, nil
}

// prLoad re-registers one I_T nexus with a new key and APTPL, over and
// over, so the reservation file is rewritten while the daemon dies.
func (m *model) prLoad(ctx context.Context, portal string) (int64, error) {
	s, err := dial(ctx, portal, 0x01)
	if err != nil {
		return 0, loadError(ctx, err)
	}
	defer s.Close()
	var n int64
	for ctx.Err() == nil {
		m.mu.Lock()
		key := m.prAcked + 1
		m.prIssued = key
		m.mu.Unlock()
		param := make([]byte, 24)
		binary.BigEndian.PutUint64(param[8:], key)
		param[20] = 0x01 // APTPL
		cdb := []byte{0x5f, 0x06, 0, 0, 0, 0, 0, 0, 24, 0}
		err := retryUA(func() error {
			r, err := s.Execute(ctx, 0, cdb, param, 0)
			if err == nil {
				err = r.Err()
			}
			return err
		})
		if err != nil {
			return n, loadError(ctx, err)
		}
		m.mu.Lock()
		m.prAcked = key
		m.mu.Unlock()
		n++
	}
	return n, nil
}

// aluaLoad flips portal group 2 between two states through the management
// API; each change rewrites the config file. It returns how many changes
// were acknowledged.
func aluaLoad(ctx context.Context, socket string) int64 {
	c := admin.NewClient(socket)
	states := []string{admin.ALUAActiveNonOptimized, admin.ALUAActiveOptimized}
	var n int64
	for i := 0; ctx.Err() == nil; i++ {
		if _, err := c.SetALUA(ctx, 2, states[i%2]); err != nil {
			return n
		}
		n++
	}
	return n
}

// retryUA runs f again while it fails with UNIT ATTENTION: such a command
// was not executed (SAM-5 5.14), and a new nexus or a restarted daemon
// reports POWER ON first.
func retryUA(f func() error) error {
	var err error
	for range 4 {
		var se *initiator.SCSIError
		if err = f(); !errors.As(err, &se) || se.SenseKey != 0x06 {
			return err
		}
	}
	return err
}

// loadError is nil when the load stopped because the round ended (the
// daemon was killed), the error otherwise.
func loadError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// verify reads every block of both volumes and checks them, the
// registration, the serial and the config file against the model.
func (m *model) verify(t *testing.T, portal, cfgPath string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := dial(ctx, portal, 0x02)
	if err != nil {
		return err
	}
	defer s.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	const chunk = 2048 // blocks per read
	for v, vol := range volumes {
		for lba := uint64(0); lba < volBlocks; lba += chunk {
			var data []byte
			err := retryUA(func() (err error) {
				data, err = s.Read(ctx, vol.lun, lba, chunk, bs)
				return err
			})
			if err != nil {
				return fmt.Errorf("read volume %s LBA %d: %w", vol.name, lba, err)
			}
			for j := range uint64(chunk) {
				b := lba + j
				got, err := unstamp(data[j*bs:(j+1)*bs], v, b)
				if err != nil {
					return err
				}
				if got < m.durable[v][b] {
					return fmt.Errorf("volume %s LBA %d: holds write %d, but write %d was acknowledged as durable", vol.name, b, got, m.durable[v][b])
				}
				if got > m.issued[v][b] {
					return fmt.Errorf("volume %s LBA %d: holds write %d, never sent there (last sent %d)", vol.name, b, got, m.issued[v][b])
				}
				// Writes in flight at the kill died with the process:
				// what the block holds now is what it holds.
				m.issued[v][b], m.acked[v][b] = got, got
			}
		}
	}
	// APTPL registration: the acknowledged key or the one in flight.
	var r *initiator.Response
	err = retryUA(func() (err error) {
		r, err = s.Execute(ctx, 0, []byte{0x5e, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0}, nil, 4096)
		if err == nil {
			err = r.Err()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("PERSISTENT RESERVE IN READ KEYS: %w", err)
	}
	keys := r.Data[8:min(len(r.Data), 8+int(binary.BigEndian.Uint32(r.Data[4:])))]
	switch {
	case m.prAcked == 0 && m.prIssued == 0 && len(keys) == 0:
	case len(keys) != 8:
		return fmt.Errorf("READ KEYS lists %d bytes of keys, want the one registration (acknowledged key %d)", len(keys), m.prAcked)
	default:
		if k := binary.BigEndian.Uint64(keys); k != m.prAcked && k != m.prIssued {
			return fmt.Errorf("registration key %d after restart; acknowledged %d, in flight %d", k, m.prAcked, m.prIssued)
		}
		m.prAcked = binary.BigEndian.Uint64(keys)
	}
	// The generated serial of the write-back volume never changes.
	vpd, err := s.Inquiry(ctx, 1, true, 0x80, 255)
	if err != nil {
		return fmt.Errorf("INQUIRY VPD 0x80: %w", err)
	}
	serial := string(vpd[4 : 4+int(binary.BigEndian.Uint16(vpd[2:]))])
	if m.serial == "" {
		m.serial = serial
	} else if serial != m.serial {
		return fmt.Errorf("write-back volume's serial is %q after restart, was %q", serial, m.serial)
	}
	// The config file parses and group 2 is in one of the states written.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("config file after the kill: %w", err)
	}
	if st := cfg.PortalGroups[1].ALUA.State; st != config.ALUAActiveOptimized && st != config.ALUAActiveNonOptimized {
		return fmt.Errorf("portal group 2 in state %q, never written", st)
	}
	return nil
}
