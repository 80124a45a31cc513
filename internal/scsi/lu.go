package scsi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/identity"
)

// LUConfig describes one logical unit. What initiators see of its
// identity — standard INQUIRY vendor, product and revision, VPD 0x80, the
// logical unit designators of VPD 0x83 — is Identity, data resolved once
// from the volume's config (package identity), so it is the same on every
// node and across restarts.
type LUConfig struct {
	// Serial is the volume's serial: it names the LU in logs and keys its
	// persistent reservations.
	Serial string
	// Identity is what INQUIRY reports; the zero Identity is halun's own
	// scheme for Serial (identity.StyleHalun).
	Identity  identity.Identity
	BlockSize uint32 // 512 or 4096
	// PhysicalBlockSize is the physical block size READ CAPACITY(16)
	// reports (LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT): 0 or
	// BlockSize for one logical block per physical block, else a power
	// of two larger than BlockSize up to 64 KiB (512e: 4096).
	PhysicalBlockSize uint32
	// ReadOnly rejects every write with DATA PROTECT, WRITE PROTECTED.
	ReadOnly bool
	// Removable sets the RMB bit and allows medium removal (START STOP
	// UNIT with LOEJ).
	Removable bool
	// Thin reports logical block provisioning (LBPME, VPD 0xB2) and
	// supports UNMAP and WRITE SAME with UNMAP.
	Thin bool
	// WriteCache reports a volatile write cache (WCE): writes are
	// acknowledged before they are durable unless FUA is set; without it
	// every write is synced before GOOD.
	WriteCache bool
	// SanitizeRate bounds how many bytes per second SANITIZE OVERWRITE
	// writes; 0 means DefaultSanitizeRate.
	SanitizeRate int64
	// Logger receives the LU's reports of failed storage; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Limits the LU reports in the Block Limits VPD page and enforces.
const (
	maxTransferBytes   = 8 << 20 // per READ/WRITE command
	maxWriteSameBlocks = 0xffff  // as LIO; libiscsi then skips its 32 MiB single WRITE(16)
	maxUnmapDescs      = 256
	maxCAWBlocks       = 1
)

// LU is an emulated SBC-3 direct-access logical unit on a backend store.
// It is safe for concurrent use.
type LU struct {
	cfg    LUConfig
	store  backend.Store
	bs     uint32        // logical block size
	shift  uint          // log2(bs)
	blocks atomic.Uint64 // number of logical blocks; Resize changes it

	// Precomputed at construction: they never change.
	stdInquiry []byte // standard INQUIRY data (PQ 0)
	luDesigs   []byte // VPD 0x83 logical unit designators

	// rmw serialises atomic read-modify-write commands (COMPARE AND
	// WRITE, ORWRITE) against all writers: writers hold it shared.
	rmw sync.RWMutex

	// wce mirrors mode.wce for the write path.
	wce atomic.Bool
	// atomicSeq is odd while a WRITE ATOMIC is storing (writeatomic.go).
	atomicSeq atomic.Uint64
	// log is cfg.Logger or the default logger.
	log *slog.Logger
	// noSpace is set while writes fail for want of space (storeerr.go).
	noSpace atomic.Bool
	// ioErrs paces the log lines of failed store operations (storeerr.go).
	ioErrs errLogPacer

	// tasks is the task set: the commands of every I_T nexus in the LU.
	tasks TaskSet
	// stats are the LU's command statistics (stats.go).
	stats Stats
	// alua, if set, is the LU's own ALUA state, in place of its
	// targets' (alua.go).
	alua atomic.Pointer[ALUAGroups]

	mu       sync.RWMutex // guards everything below
	mode     modeState
	nexuses  map[Nexus]*nexusState
	ejected  bool   // removable medium ejected (START STOP UNIT LOEJ)
	reserved *Nexus // SPC-2 RESERVE holder
	pr       PRState
	prStore  PRStore // nil: kept in memory only

	sanitize       *sanitizeOp // running SANITIZE, nil if none
	sanitizeFailed bool        // sanitize failure mode (SBC-4 4.11.4)
	sanitizeAUSE   bool        // the failed SANITIZE allowed EXIT FAILURE MODE
}

// nexusState is what a LU remembers about one I_T nexus.
type nexusState struct {
	ua      []uint16 // pending unit attention conditions, oldest first
	prevent bool     // PREVENT ALLOW MEDIUM REMOVAL prevent
	// copies holds EXTENDED COPY results by list identifier.
	copies map[byte]copyStatus
}

// NewLU returns a logical unit on store as cfg describes.
func NewLU(cfg LUConfig, store backend.Store) (*LU, error) {
	if store == nil {
		return nil, errors.New("scsi: new LU: nil store")
	}
	if cfg.Serial == "" {
		return nil, errors.New("scsi: new LU: empty serial (the LU's identity)")
	}
	if len(cfg.Serial) > 251 {
		return nil, fmt.Errorf("scsi: new LU %q: serial longer than 251 bytes", cfg.Serial)
	}
	for _, c := range []byte(cfg.Serial) {
		if c < 0x21 || c > 0x7e {
			return nil, fmt.Errorf("scsi: new LU %q: serial must be printable ASCII without spaces", cfg.Serial)
		}
	}
	if cfg.Identity.IsZero() {
		id, err := identity.Resolve(identity.Spec{Serial: cfg.Serial})
		if err != nil {
			return nil, fmt.Errorf("scsi: new LU %q: %w", cfg.Serial, err)
		}
		cfg.Identity = id
	}
	if err := cfg.Identity.Validate(); err != nil {
		return nil, fmt.Errorf("scsi: new LU %q: %w", cfg.Serial, err)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 512
	}
	if cfg.BlockSize != 512 && cfg.BlockSize != 4096 {
		return nil, fmt.Errorf("scsi: new LU %q: block size %d is neither 512 nor 4096", cfg.Serial, cfg.BlockSize)
	}
	if pbs := cfg.PhysicalBlockSize; pbs != 0 && (pbs < cfg.BlockSize || pbs > 65536 || pbs&(pbs-1) != 0) {
		return nil, fmt.Errorf("scsi: new LU %q: physical block size %d is not a power of two from the block size to 64 KiB", cfg.Serial, pbs)
	}
	size := store.Size()
	blocks := uint64(size) / uint64(cfg.BlockSize)
	if size <= 0 || blocks == 0 {
		return nil, fmt.Errorf("scsi: new LU %q: store of %d bytes holds no block of %d bytes", cfg.Serial, size, cfg.BlockSize)
	}
	lu := &LU{
		cfg:     cfg,
		store:   store,
		bs:      cfg.BlockSize,
		shift:   uint(bits.TrailingZeros32(cfg.BlockSize)),
		nexuses: make(map[Nexus]*nexusState),
	}
	lu.log = cfg.Logger
	if lu.log == nil {
		lu.log = slog.Default()
	}
	lu.blocks.Store(blocks)
	lu.mode = defaultMode(cfg)
	lu.wce.Store(lu.mode.wce)
	lu.stdInquiry = lu.buildStandardInquiry()
	lu.luDesigs = cfg.Identity.AppendDesignators(nil)
	return lu, nil
}

// Config returns the LU's configuration with defaults filled in.
func (lu *LU) Config() LUConfig { return lu.cfg }

// Blocks returns the number of logical blocks.
func (lu *LU) Blocks() uint64 { return lu.nblocks() }

func (lu *LU) nblocks() uint64 { return lu.blocks.Load() }

// Resize changes the capacity to newBytes, a multiple of the block size,
// growing the store (it must implement backend.Resizer), and raises
// CAPACITY DATA HAS CHANGED on every I_T nexus (SBC-3 4.10). Volumes only
// grow: a smaller size is refused by the store.
func (lu *LU) Resize(newBytes int64) error {
	if newBytes <= 0 || newBytes%int64(lu.bs) != 0 {
		return fmt.Errorf("scsi: resize LU %s to %d bytes: not a positive multiple of the block size %d", lu.cfg.Serial, newBytes, lu.bs)
	}
	r, ok := lu.store.(backend.Resizer)
	if !ok {
		return fmt.Errorf("scsi: resize LU %s: the store cannot be resized", lu.cfg.Serial)
	}
	// Exclude writers (and atomic writes) while the capacity changes.
	lu.rmw.Lock()
	defer lu.rmw.Unlock()
	if err := r.Resize(newBytes); err != nil {
		return fmt.Errorf("scsi: resize LU %s: %w", lu.cfg.Serial, err)
	}
	old := lu.blocks.Swap(uint64(newBytes) >> lu.shift)
	if old != lu.nblocks() {
		lu.mu.Lock()
		lu.establishUALocked(ascCapacityDataChanged, nil)
		lu.mu.Unlock()
	}
	return nil
}

// Flush makes every completed write durable (shutdown).
func (lu *LU) Flush(ctx context.Context) error {
	if err := lu.store.Sync(ctx); err != nil {
		return fmt.Errorf("scsi: flush LU %s: %w", lu.cfg.Serial, err)
	}
	return nil
}

// nexusLocked returns the state of n, creating it with a POWER ON unit
// attention if n is new: the first command of every I_T nexus reports one
// (SAM-5 6.3.1). lu.mu must be held for writing.
func (lu *LU) nexusLocked(n Nexus) *nexusState {
	s := lu.nexuses[n]
	if s == nil {
		s = &nexusState{ua: []uint16{ascPowerOnResetOccurred}}
		lu.nexuses[n] = s
	}
	return s
}

// establishUA adds a unit attention condition for every known nexus
// except skip (nil: all). A reset condition replaces older ones.
func (lu *LU) establishUALocked(asc uint16, skip *Nexus) {
	for n, s := range lu.nexuses {
		if skip != nil && n == *skip {
			continue
		}
		s.addUA(asc)
	}
}

func (s *nexusState) addUA(asc uint16) {
	if asc>>8 == 0x29 {
		s.ua = append(s.ua[:0], asc)
		return
	}
	for _, a := range s.ua {
		if a == asc || a>>8 == 0x29 {
			return
		}
	}
	s.ua = append(s.ua, asc)
}

// Tasks returns the LU's task set, which the transport enters its commands
// into and aborts them through.
func (lu *LU) Tasks() *TaskSet { return &lu.tasks }

// reset performs a LOGICAL UNIT RESET from nexus from (SAM-5 6.3.3): every
// command in the task set is aborted, whichever I_T nexus, target or LUN
// number it came through; mode parameters return to their defaults, SPC-2
// reservations and medium removal prevention are cleared, and every I_T
// nexus, including the one the reset came from, gets BUS DEVICE RESET
// FUNCTION OCCURRED (libiscsi MultipathIO.Reset checks every path).
// Persistent reservations survive.
func (lu *LU) reset(from Nexus) {
	lu.tasks.Clear(from)
	lu.mu.Lock()
	defer lu.mu.Unlock()
	lu.mode = defaultMode(lu.cfg)
	lu.wce.Store(lu.mode.wce)
	lu.reserved = nil
	for _, s := range lu.nexuses {
		s.prevent = false
	}
	lu.establishUALocked(ascBusDeviceResetOccurred, nil)
}

// nexusLost drops everything the LU keeps for n (SAM-5 6.3.4): its
// unit attentions, prevention and SPC-2 reservation. Persistent
// reservations survive.
func (lu *LU) nexusLost(n Nexus) {
	lu.mu.Lock()
	defer lu.mu.Unlock()
	delete(lu.nexuses, n)
	if lu.reserved != nil && *lu.reserved == n {
		lu.reserved = nil
	}
}

// preventedLocked reports whether any nexus prevents medium removal.
func (lu *LU) preventedLocked() bool {
	for _, s := range lu.nexuses {
		if s.prevent {
			return true
		}
	}
	return false
}
