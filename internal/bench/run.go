package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/halun/halun/internal/initiator"
)

// Run runs the load described by cfg on mp's logical unit until
// cfg.Duration has passed or ctx ends, and returns what it saw. The
// error is for a load that could not start (a bad config, a logical unit
// that does not answer READ CAPACITY); failures and verification errors
// during the run are in the Result.
func Run(ctx context.Context, mp *initiator.Multipath, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	geo, err := geometry(ctx, mp, cfg)
	if err != nil {
		return nil, err
	}
	res := &Result{Blocks: geo.blocks, BlockSize: cfg.BlockSize, Workers: cfg.Workers}

	stop := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	st := newStats(start)
	lim := newLimiter(cfg.Rate)
	runID := rand.Uint64() | 1 // never 0, so zeroed blocks are not ours
	var wg sync.WaitGroup
	for id := range cfg.Workers {
		w := &worker{
			id: uint32(id), cfg: cfg, geo: geo, mp: mp, st: st, lim: lim, run: runID,
			rng:    rand.New(rand.NewPCG(runID, uint64(id))),
			blocks: map[uint64]*blockState{},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, stop)
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	report(cfg, mp, st, start, finished)
	end := time.Now()
	st.result(res, end)
	res.Switches = mp.Switches()
	return res, nil
}

// report calls cfg.Progress every interval until finished is closed.
func report(cfg Config, mp *initiator.Multipath, st *stats, start time.Time, finished <-chan struct{}) {
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	seen := len(mp.Switches())
	last := start
	for {
		select {
		case <-finished:
			return
		case now := <-t.C:
			if cfg.Progress == nil {
				continue
			}
			c := st.interval()
			sw := mp.Switches()
			secs := now.Sub(last).Seconds()
			last = now
			cfg.Progress(Tick{
				Elapsed: now.Sub(start),
				Ops:     c.ops, Reads: c.reads, Writes: c.writes, Bytes: c.bytes,
				Failed: c.failed, VerifyErrors: c.verify,
				OpsPerSec: float64(c.ops) / secs,
				MiBPerSec: float64(c.bytes) / secs / (1 << 20),
				Switches:  sw[min(seen, len(sw)):],
			})
			seen = len(sw)
		}
	}
}

// geo is where the load runs: blocks of cfg.BlockSize from LBA 0, each
// lbPerBlock logical blocks of lbSize bytes.
type geo struct {
	blocks     int64
	lbSize     int
	lbPerBlock uint32
}

// geometry reads the logical unit's capacity and fits the load into it.
func geometry(ctx context.Context, mp *initiator.Multipath, cfg Config) (geo, error) {
	var lbs uint64
	var lbSize uint32
	err := mp.Do(ctx, func(ctx context.Context, s *initiator.Session, lun uint64) error {
		var err error
		lbs, lbSize, err = s.ReadCapacity16(ctx, lun)
		return err
	})
	if err != nil {
		return geo{}, fmt.Errorf("bench: READ CAPACITY(16): %w", err)
	}
	if lbSize == 0 || cfg.BlockSize%int(lbSize) != 0 {
		return geo{}, fmt.Errorf("bench: block size %d is not a multiple of the logical unit's %d-byte blocks", cfg.BlockSize, lbSize)
	}
	capacity := int64(lbs) * int64(lbSize)
	size := cfg.Size
	if size == 0 {
		size = capacity
	}
	if size > capacity {
		return geo{}, fmt.Errorf("bench: size %d exceeds the logical unit's %d bytes", size, capacity)
	}
	g := geo{blocks: size / int64(cfg.BlockSize), lbSize: int(lbSize), lbPerBlock: uint32(cfg.BlockSize / int(lbSize))}
	if g.blocks < int64(cfg.Workers) {
		return geo{}, fmt.Errorf("bench: %d bytes hold %d blocks of %d bytes, fewer than the %d workers", size, g.blocks, cfg.BlockSize, cfg.Workers)
	}
	return g, nil
}

// worker does one operation at a time on its own blocks: block b is
// worker b mod Workers's.
type worker struct {
	id     uint32
	cfg    Config
	geo    geo
	mp     *initiator.Multipath
	st     *stats
	lim    *limiter
	run    uint64
	rng    *rand.Rand
	seq    uint64
	blocks map[uint64]*blockState
	// written lists the blocks written so far, which reads pick from.
	written []uint64
}

func (w *worker) loop(ctx, stop context.Context) {
	n := w.cfg.Workers
	own := (w.geo.blocks - int64(w.id) + int64(n) - 1) / int64(n)
	for stop.Err() == nil {
		if w.lim.wait(stop) != nil {
			return
		}
		if len(w.written) > 0 && w.rng.IntN(100) < w.cfg.ReadPercent {
			w.read(ctx, w.written[w.rng.IntN(len(w.written))])
			continue
		}
		w.write(ctx, uint64(w.rng.Int64N(own))*uint64(n)+uint64(w.id))
	}
}

func (w *worker) lba(block uint64) uint64 { return block * uint64(w.geo.lbPerBlock) }

func (w *worker) write(ctx context.Context, block uint64) {
	s := w.blocks[block]
	if s == nil {
		s = &blockState{}
		w.blocks[block] = s
		w.written = append(w.written, block)
	}
	w.seq++
	v := value{Run: w.run, Worker: w.id, Seq: w.seq, Block: block}
	data := fill(v, w.cfg.BlockSize)
	octx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	t := time.Now()
	err := w.mp.Write(octx, w.lba(block), data, w.geo.lbSize)
	s.wrote(w.seq, err == nil)
	w.outcome(ctx, true, block, time.Since(t), err)
}

func (w *worker) read(ctx context.Context, block uint64) {
	octx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	t := time.Now()
	data, err := w.mp.Read(octx, w.lba(block), w.geo.lbPerBlock, w.geo.lbSize)
	lat := time.Since(t)
	if err == nil {
		if msg := w.blocks[block].check(data, w.run, w.id, block); msg != "" {
			w.st.mismatch(fmt.Sprintf("read of LBA %d: %s", w.lba(block), msg))
		}
	}
	w.outcome(ctx, false, block, lat, err)
}

// outcome counts an operation that ended with err after lat.
func (w *worker) outcome(ctx context.Context, write bool, block uint64, lat time.Duration, err error) {
	kind := "read"
	if write {
		kind = "write"
	}
	switch {
	case err == nil:
		w.st.done(write, w.cfg.BlockSize, lat)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		w.st.cancel()
	default:
		w.st.failed(fmt.Sprintf("%s of LBA %d after %v: %v", kind, w.lba(block), lat.Round(time.Millisecond), err))
	}
}
