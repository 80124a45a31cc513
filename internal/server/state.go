package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/atomicfile"
	"github.com/halun/halun/internal/backend"
	"github.com/halun/halun/internal/config"
	"github.com/halun/halun/internal/scsi"
)

// live is the part of a Node that live reconfiguration changes: the
// running config, the open volumes and each target's swappable LUN set.
// mu serialises reconfigurations; readers of the maps hold it too.
type live struct {
	mu   sync.Mutex
	cfg  *config.Config
	vols map[string]*volume   // by volume name
	luns map[string]*liveLUNs // by target IQN
	// src is where reload reads the config from (SetSource).
	src Source
	// retired holds the stores of removed or replaced volumes that wait
	// for their in-flight commands before they are closed.
	retired   []*retiredStore
	retiredWG sync.WaitGroup
}

// volume is an open volume: its config, store and logical unit.
type volume struct {
	cfg   config.Volume
	store backend.Store
	lu    *scsi.LU
}

// liveLUNs is the scsi.Target a target's sessions execute against. Live
// reconfiguration swaps the target's LUN set under it, so running
// sessions see LUNs appear and disappear without logging in again. The
// logical units themselves, with their unit attentions and reservations,
// are shared between the old and the new set.
type liveLUNs struct {
	cur atomic.Pointer[lunBox]
}

type lunBox struct{ t scsi.Target }

var _ scsi.Target = (*liveLUNs)(nil)

func newLiveLUNs(t scsi.Target) *liveLUNs {
	l := &liveLUNs{}
	l.cur.Store(&lunBox{t})
	return l
}

func (l *liveLUNs) get() scsi.Target { return l.cur.Load().t }

// swap installs the target's new LUN set.
func (l *liveLUNs) swap(t scsi.Target) { l.cur.Store(&lunBox{t}) }

func (l *liveLUNs) Execute(cmd *scsi.Command) scsi.Result { return l.get().Execute(cmd) }

func (l *liveLUNs) LogicalUnitReset(n scsi.Nexus, lun uint64) bool {
	return l.get().LogicalUnitReset(n, lun)
}

func (l *liveLUNs) TargetReset(n scsi.Nexus) { l.get().TargetReset(n) }

func (l *liveLUNs) NexusLost(n scsi.Nexus) { l.get().NexusLost(n) }

func (l *liveLUNs) LogicalUnit(n scsi.Nexus, lun uint64) *scsi.LU { return l.get().LogicalUnit(n, lun) }

// retireGrace is how long a removed volume's store stays open for commands
// that were already running on it.
const retireGrace = 2 * time.Second

type retiredStore struct {
	name  string
	store backend.Store
	once  sync.Once
	err   error
}

func (r *retiredStore) close() error {
	r.once.Do(func() {
		if err := r.store.Sync(context.Background()); err != nil {
			r.err = fmt.Errorf("flush removed volume %s: %w", r.name, err)
		}
		if err := r.store.Close(); err != nil && r.err == nil {
			r.err = fmt.Errorf("close removed volume %s: %w", r.name, err)
		}
	})
	return r.err
}

// retire closes a store no target reaches any more, after retireGrace.
// n.mu must be held.
func (n *Node) retire(name string, store backend.Store) {
	r := &retiredStore{name: name, store: store}
	n.retired = append(n.retired, r)
	n.retiredWG.Add(1)
	time.AfterFunc(retireGrace, func() {
		defer n.retiredWG.Done()
		if err := r.close(); err != nil {
			n.log.Warn("removed volume", "err", err)
		}
	})
}

// closeVolumes flushes and closes every volume, including retired ones.
func (n *Node) closeVolumes() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, v := range n.vols {
		if err := v.lu.Flush(context.Background()); err != nil {
			errs = append(errs, fmt.Errorf("flush: %w", err))
		}
		if err := v.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close volume %s: %w", v.cfg.Name, err))
		}
	}
	n.vols = nil
	for _, r := range n.retired {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.retired = nil
	return errs
}

// Source says where the node's config comes from, for reload and for
// writing management changes back.
type Source struct {
	// Path is the config file; empty when serving the embedded default,
	// whose changes live in memory only.
	Path string
	// Overrides are the command line's, applied to every reread.
	Overrides config.Overrides
	// text is the embedded default's text as changed so far.
	text []byte
}

// SetSource tells the node where its config came from.
func (n *Node) SetSource(path string, o config.Overrides) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.src = Source{Path: path, Overrides: o}
	if path == "" {
		n.src.text = config.DefaultYAML()
		return
	}
	// Writing the config back is atomic; a write the process died in left
	// its temporary file beside the config.
	removed, err := atomicfile.RemoveStale(path)
	for _, f := range removed {
		n.log.Info("removed temporary file of an interrupted config write", "path", f)
	}
	if err != nil {
		n.log.Warn("cannot remove temporary files of interrupted config writes", "err", err)
	}
}

// Config returns the running config.
func (n *Node) Config() *config.Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

var errNoSource = errors.New("the node was built without a config source")
