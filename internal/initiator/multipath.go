package initiator

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Multipath reaches one logical unit over several paths — sessions to
// different portals, or different nodes of a cluster — as dm-multipath
// does with ALUA: it sends each command down a path whose target port
// group is active/optimized (else active/non-optimized), learns the
// states with REPORT TARGET PORT GROUPS, and when a command meets NOT
// READY (standby, unavailable, transitioning), an ALUA state change or a
// lost session, it re-reads the states, reconnects lost paths and
// retries — on another path or after a pause — until the command's
// context ends. Every command is retried as a whole, which is safe for
// READ and WRITE (the same data to the same blocks).
type Multipath struct {
	paths []*mpPath
	// RetryPause is the wait between rounds over every path; 0 means
	// 50 ms.
	RetryPause time.Duration
	// AttemptTimeout bounds one try of a command on one path; 0 means
	// none (only the command's context). A try that outlives it counts
	// its path's session as failed, as Linux's iSCSI initiator does when
	// a NOP-Out goes unanswered for noop_out_timeout: the session is
	// closed and the command retried, on another path if one is usable.
	// It is what moves I/O off a target that is frozen or cut off without
	// closing its connections.
	AttemptTimeout time.Duration

	mu   sync.Mutex
	log  []string // path switches, for tests and bench reports
	last int      // the path used last; -1 before the first command
}

// PathSpec is one path: a portal, the login options for it, and the LUN.
type PathSpec struct {
	Addr    string
	Options Options
	LUN     uint64
}

type mpPath struct {
	spec PathSpec

	mu    sync.Mutex
	s     *Session
	tpg   uint16 // the path's target port group (VPD 0x83)
	state uint8  // its ALUA state as last reported (0 active/optimized)
	known bool   // tpg and state were read
	// failedAt is when the path last failed at the transport (no
	// connection, no answer): for failedFor after it, the path is tried
	// only when no other is left, as dm-multipath keeps a failed path out
	// until its checker sees it back.
	failedAt time.Time
}

// ALUA asymmetric access states as REPORT TARGET PORT GROUPS reports them.
const (
	aluaActiveOptimized    = 0x0
	aluaActiveNonOptimized = 0x1
	aluaStandby            = 0x2
	aluaUnavailable        = 0x3
	aluaTransitioning      = 0xf
)

// NewMultipath returns a multipath device over specs. Paths connect on
// first use.
func NewMultipath(specs ...PathSpec) *Multipath {
	m := &Multipath{last: -1}
	for _, s := range specs {
		m.paths = append(m.paths, &mpPath{spec: s})
	}
	return m
}

// Close logs out of every path.
func (m *Multipath) Close() error {
	var errs []error
	for _, p := range m.paths {
		p.mu.Lock()
		if p.s != nil {
			errs = append(errs, p.s.Close())
			p.s = nil
		}
		p.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Switches returns the path changes made so far ("path 1 -> 0: reason").
func (m *Multipath) Switches() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

// session returns p's session, connecting (and reading its ALUA state)
// when it has none or it failed.
func (m *Multipath) session(ctx context.Context, p *mpPath) (*Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.s != nil && p.s.Err() == nil {
		return p.s, nil
	}
	if p.s != nil {
		p.s.Close()
		p.s = nil
	}
	if d := m.AttemptTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	s, err := Dial(ctx, p.spec.Addr, p.spec.Options)
	if err != nil {
		return nil, err
	}
	p.s = s
	p.known = false
	return s, nil
}

// refresh reads the path's target port group and its state.
func (m *Multipath) refresh(ctx context.Context, p *mpPath) error {
	if d := m.AttemptTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	s, err := m.session(ctx, p)
	if err != nil {
		return err
	}
	var page []byte
	for range 3 { // a pending unit attention may answer first
		if page, err = s.Inquiry(ctx, p.spec.LUN, true, 0x83, 1024); !isUnitAttention(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	tpg, ok := targetPortGroupOf(page)
	if !ok {
		// No ALUA: the path is as good as any.
		p.mu.Lock()
		p.tpg, p.state, p.known = 0, aluaActiveOptimized, true
		p.mu.Unlock()
		return nil
	}
	var rtpg []byte
	for range 3 {
		if rtpg, err = reportTPG(ctx, s, p.spec.LUN); !isUnitAttention(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	state, ok := groupState(rtpg, tpg)
	if !ok {
		return fmt.Errorf("initiator: REPORT TARGET PORT GROUPS does not list the path's group %d", tpg)
	}
	p.mu.Lock()
	p.tpg, p.state, p.known = tpg, state, true
	p.mu.Unlock()
	return nil
}

func reportTPG(ctx context.Context, s *Session, lun uint64) ([]byte, error) {
	cdb := make([]byte, 12)
	cdb[0], cdb[1] = 0xa3, 0x0a // MAINTENANCE IN, REPORT TARGET PORT GROUPS
	binary.BigEndian.PutUint32(cdb[6:], 4096)
	r, err := s.run(ctx, lun, cdb, nil, 4096)
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// targetPortGroupOf finds the target port group designator (association
// target port, type 5) in a VPD 0x83 page.
func targetPortGroupOf(page []byte) (uint16, bool) {
	if len(page) < 4 {
		return 0, false
	}
	d := page[4:]
	for len(d) >= 4 {
		n := 4 + int(d[3])
		if n > len(d) {
			break
		}
		if d[1]&0x30 == 0x10 && d[1]&0x0f == 5 && n >= 8 {
			return binary.BigEndian.Uint16(d[6:8]), true
		}
		d = d[n:]
	}
	return 0, false
}

// groupState finds group id's state in REPORT TARGET PORT GROUPS data
// (length-only format).
func groupState(b []byte, id uint16) (uint8, bool) {
	if len(b) < 4 {
		return 0, false
	}
	d := b[4:]
	for len(d) >= 8 {
		count := int(d[7])
		n := 8 + 4*count
		if n > len(d) {
			break
		}
		if binary.BigEndian.Uint16(d[2:4]) == id {
			return d[0] & 0x0f, true
		}
		d = d[n:]
	}
	return 0, false
}

func isUnitAttention(err error) bool {
	var se *SCSIError
	return errors.As(err, &se) && se.Status == StatusCheckCondition && se.SenseKey == 0x6
}

// retryable reports whether err means "try again, maybe elsewhere":
// NOT READY (ALUA standby/unavailable/transitioning, or becoming ready),
// a unit attention (an ALUA state or reservation change), BUSY, TASK SET
// FULL, or a lost session.
func retryable(err error) bool {
	var se *SCSIError
	if errors.As(err, &se) {
		switch {
		case se.Status == StatusBusy || se.Status == StatusTaskSetFull:
			return true
		case se.Status == StatusCheckCondition && (se.SenseKey == 0x2 || se.SenseKey == 0x6):
			return true
		}
		return false
	}
	var le *LoginError
	if errors.As(err, &le) && le.Class == 2 {
		return false // the target refuses this initiator: no retry helps
	}
	return true // transport: the session or connection failed
}

// order returns the paths to try: active/optimized first, then
// non-optimized, then the rest (unknown state, standby…), each group in
// configuration order.
// failedFor is how long a path that failed at the transport is passed
// over while another path can be tried.
const failedFor = 3 * time.Second

// markFailed records a transport failure of p (SCSI errors are answers:
// the path works).
func (p *mpPath) markFailed(err error) {
	var se *SCSIError
	if err == nil || errors.As(err, &se) {
		return
	}
	p.mu.Lock()
	p.failedAt = time.Now()
	p.mu.Unlock()
}

// recentlyFailed says whether p failed at the transport within failedFor.
func (p *mpPath) recentlyFailed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.failedAt.IsZero() && time.Since(p.failedAt) < failedFor
}

func (m *Multipath) order() []int {
	var ao, an, rest []int
	for i, p := range m.paths {
		p.mu.Lock()
		known, st, ok := p.known, p.state, p.s != nil && p.s.Err() == nil
		p.mu.Unlock()
		switch {
		case known && ok && st == aluaActiveOptimized:
			ao = append(ao, i)
		case known && ok && st == aluaActiveNonOptimized:
			an = append(an, i)
		default:
			rest = append(rest, i)
		}
	}
	return append(append(ao, an...), rest...)
}

// Do runs fn on a usable path until it succeeds, fails with an error no
// path change helps, or ctx ends. fn gets the try's context (bounded by
// AttemptTimeout).
func (m *Multipath) Do(ctx context.Context, fn func(ctx context.Context, s *Session, lun uint64) error) error {
	pause := m.RetryPause
	if pause <= 0 {
		pause = 50 * time.Millisecond
	}
	var last error
	for {
		order := m.order()
		healthy := 0
		for _, i := range order {
			if !m.paths[i].recentlyFailed() {
				healthy++
			}
		}
		for _, i := range order {
			p := m.paths[i]
			if healthy > 0 && p.recentlyFailed() {
				continue
			}
			p.mu.Lock()
			known := p.known && p.s != nil && p.s.Err() == nil
			state := p.state
			p.mu.Unlock()
			if !known {
				if err := m.refresh(ctx, p); err != nil {
					p.markFailed(err)
					last = err
					if !retryable(err) {
						return err
					}
					continue
				}
				p.mu.Lock()
				state = p.state
				p.mu.Unlock()
			}
			if state != aluaActiveOptimized && state != aluaActiveNonOptimized {
				continue
			}
			s, err := m.session(ctx, p)
			if err != nil {
				p.markFailed(err)
				last = err
				continue
			}
			m.mu.Lock()
			if m.last != i {
				m.log = append(m.log, fmt.Sprintf("path %d -> %d: %v", m.last, i, last))
				m.last = i
			}
			m.mu.Unlock()
			err = m.attempt(ctx, p, s, fn)
			if err == nil {
				return nil
			}
			p.markFailed(err)
			last = err
			if !retryable(err) {
				return err
			}
			// The path's state may have changed: read it again
			// before it is used next.
			p.mu.Lock()
			p.known = false
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = errors.New("no usable path")
			}
			return fmt.Errorf("initiator: multipath: %w (last: %v)", ctx.Err(), last)
		case <-time.After(pause):
		}
		// Another round: every path's state is read afresh.
		for _, p := range m.paths {
			p.mu.Lock()
			p.known = false
			p.mu.Unlock()
		}
	}
}

// Read reads blocks at lba over the best path (see Do).
func (m *Multipath) Read(ctx context.Context, lba uint64, blocks uint32, blockSize int) ([]byte, error) {
	var out []byte
	err := m.Do(ctx, func(ctx context.Context, s *Session, lun uint64) error {
		b, err := s.Read(ctx, lun, lba, blocks, blockSize)
		out = b
		return err
	})
	return out, err
}

// Write writes data at lba over the best path (see Do).
func (m *Multipath) Write(ctx context.Context, lba uint64, data []byte, blockSize int) error {
	return m.Do(ctx, func(ctx context.Context, s *Session, lun uint64) error {
		return s.Write(ctx, lun, lba, data, blockSize)
	})
}

// attempt runs fn once on path p's session s, bounded by AttemptTimeout.
// A try that times out while ctx still runs closes the session: the
// path failed, and the next round reconnects it or uses another.
func (m *Multipath) attempt(ctx context.Context, p *mpPath, s *Session, fn func(context.Context, *Session, uint64) error) error {
	if m.AttemptTimeout <= 0 {
		return fn(ctx, s, p.spec.LUN)
	}
	actx, cancel := context.WithTimeout(ctx, m.AttemptTimeout)
	defer cancel()
	err := fn(actx, s, p.spec.LUN)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		p.mu.Lock()
		if p.s == s {
			p.s.Close()
			p.s = nil
		}
		p.mu.Unlock()
		return fmt.Errorf("initiator: path %s: no answer within %v: %w", p.spec.Addr, m.AttemptTimeout, err)
	}
	return err
}
