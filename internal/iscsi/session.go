package iscsi

import (
	"log/slog"
	"sync"
	"time"

	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/scsi"
)

// sessionKey identifies a session by its I_T nexus (RFC 7143 §4.4.3: the
// initiator name and ISID with the target name and portal group). Session
// reinstatement replaces a session with the same key.
type sessionKey struct {
	initiator string
	isid      pdu.ISID
	target    string
	tpgt      uint16
}

// session is one iSCSI session. halun negotiates MaxConnections=1, so a
// session has exactly one connection; the CmdSN window is per session.
type session struct {
	srv        *Server
	key        sessionKey
	tsih       uint16
	discovery  bool
	targetName string
	target     *Target // nil for discovery sessions
	nexus      scsi.Nexus
	params     login.Negotiated
	// log carries the session's fields (initiator, isid, tsih, target,
	// remote, portal, tpgt); set once in loginEnv.Admit.
	log *slog.Logger

	mu       sync.Mutex
	expCmdSN uint32
	maxCmdSN uint32
	// pending holds non-immediate PDUs that arrived ahead of ExpCmdSN, by
	// CmdSN, until the gap fills.
	pending map[uint32]deliverer
	tasks   map[uint32]*task // by ITT
	// active lists the session's tasks in delivery (CmdSN) order, for the
	// ordering rules of task attributes and overlapping writes.
	active []*task
	conn   *conn
	closed bool
	// done is closed when the session ends.
	done chan struct{}
	// running counts tasks and task management functions delivered and
	// not yet finished; idle, if not nil, is closed when it reaches zero
	// (drain). Both under mu: a WaitGroup would forbid the Add of a command
	// that arrives while a logout drains.
	running int
	idle    chan struct{}

	// counters for management
	cmds, readBytes, writeBytes uint64
}

func newSession(srv *Server, key sessionKey, r *login.Result, cmdSN uint32) *session {
	ss := &session{srv: srv, key: key, discovery: r.SessionType == login.SessionDiscovery,
		targetName: r.TargetName, params: r.Params,
		expCmdSN: cmdSN, maxCmdSN: cmdSN + uint32(srv.cfg.QueueDepth) - 1,
		pending: map[uint32]deliverer{}, tasks: map[uint32]*task{}, done: make(chan struct{})}
	ss.nexus = scsi.Nexus{InitiatorName: r.InitiatorName, ISID: r.ISID, TargetName: r.TargetName, TPGT: key.tpgt}
	ss.log = srv.log
	return ss
}

// windowSNs returns ExpCmdSN and MaxCmdSN for a PDU being sent now.
func (ss *session) windowSNs() (exp, max uint32) {
	ss.mu.Lock()
	exp, max = ss.expCmdSN, ss.maxCmdSN
	ss.mu.Unlock()
	return
}

// order delivers a CmdSN-carrying PDU per RFC 7143 §3.2.2.1: immediate PDUs
// at once; non-immediate ones in CmdSN order, queued while ahead of
// ExpCmdSN within the window, silently dropped when outside it or
// duplicated. deliver runs on the caller's goroutine (the connection reader)
// and reports whether it consumed a window slot that finish must release.
func (ss *session) order(cmdSN uint32, immediate bool, d deliverer) {
	if immediate {
		d.deliver()
		return
	}
	ss.mu.Lock()
	if !snLessEq(cmdSN, ss.maxCmdSN) {
		// Beyond the window (closed when ExpCmdSN = MaxCmdSN+1): ignore.
		ss.mu.Unlock()
		return
	}
	if cmdSN != ss.expCmdSN {
		if snLess(ss.expCmdSN, cmdSN) && snLessEq(cmdSN, ss.maxCmdSN) {
			if _, dup := ss.pending[cmdSN]; !dup {
				ss.pending[cmdSN] = d
			}
		}
		ss.mu.Unlock()
		return
	}
	ss.expCmdSN++
	ss.mu.Unlock()
	d.deliver()
	for {
		ss.mu.Lock()
		next, ok := ss.pending[ss.expCmdSN]
		if !ok {
			ss.mu.Unlock()
			return
		}
		delete(ss.pending, ss.expCmdSN)
		ss.expCmdSN++
		ss.mu.Unlock()
		next.deliver()
	}
}

// inOrder reports whether a command with cmdSN would be delivered at once.
func (ss *session) inOrder(cmdSN uint32, immediate bool) bool {
	if immediate {
		return true
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return cmdSN == ss.expCmdSN
}

// deliverer is a PDU waiting for its turn in CmdSN order: a task, or a
// deliverFunc for the other commands.
type deliverer interface{ deliver() }

// deliverFunc delivers by calling itself.
type deliverFunc func()

func (f deliverFunc) deliver() { f() }

// release opens one slot of the CmdSN window when a non-immediate PDU has
// been fully handled.
func (ss *session) release() {
	ss.mu.Lock()
	ss.maxCmdSN++
	ss.mu.Unlock()
}

// addTask registers t under its ITT; false if the ITT is in use.
func (ss *session) addTask(t *task) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	if _, busy := ss.tasks[t.itt]; busy {
		return false
	}
	t.deps = ss.dependencies(t)
	ss.tasks[t.itt] = t
	ss.active = append(ss.active, t)
	ss.running++
	return true
}

// startWork counts a task management function as running.
func (ss *session) startWork() {
	ss.mu.Lock()
	ss.running++
	ss.mu.Unlock()
}

// endWorkLocked uncounts one running task or function. ss.mu must be
// held.
func (ss *session) endWorkLocked() {
	ss.running--
	if ss.running == 0 && ss.idle != nil {
		close(ss.idle)
		ss.idle = nil
	}
}

// endWork is endWorkLocked for callers without ss.mu.
func (ss *session) endWork() {
	ss.mu.Lock()
	ss.endWorkLocked()
	ss.mu.Unlock()
}

// dependencies returns the sent channels of the earlier tasks t must
// wait for (SAM-5 §8.6, SPC-4 7.5.8 with QUEUE ALGORITHM MODIFIER 0): a
// HEAD OF QUEUE task waits for none; an ORDERED task for every earlier task
// of its LU; any task for an earlier ORDERED one; and, to keep data
// integrity, for earlier tasks whose LBA ranges overlap its own when either
// writes. ss.mu must be held.
func (ss *session) dependencies(t *task) []chan struct{} {
	if t.attr == pdu.AttrHeadOfQueue {
		return nil
	}
	var deps []chan struct{}
	for _, a := range ss.active {
		if a.lun != t.lun {
			continue
		}
		if t.attr == pdu.AttrOrdered || a.attr == pdu.AttrOrdered ||
			(t.hasExt && a.hasExt && a.ext.Overlaps(t.ext)) {
			deps = append(deps, a.sent)
		}
	}
	return deps
}

func (ss *session) removeTask(t *task) {
	ss.mu.Lock()
	if cur, ok := ss.tasks[t.itt]; ok && cur == t {
		delete(ss.tasks, t.itt)
		ss.endWorkLocked()
	}
	for i, a := range ss.active {
		if a == t {
			ss.active = append(ss.active[:i], ss.active[i+1:]...)
			break
		}
	}
	ss.mu.Unlock()
}

func (ss *session) findTask(itt uint32) *task {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.tasks[itt]
}

// drain waits up to d for the session's tasks to finish.
func (ss *session) drain(d time.Duration) {
	ss.mu.Lock()
	if ss.running == 0 {
		ss.mu.Unlock()
		return
	}
	if ss.idle == nil {
		ss.idle = make(chan struct{})
	}
	idle := ss.idle
	ss.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
	}
}

// end closes the session: its tasks are aborted without responses, its
// connection is closed and the I_T nexus state in the SCSI layer is dropped.
func (ss *session) end(reason error) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	close(ss.done)
	tasks := make([]*task, 0, len(ss.tasks))
	for _, t := range ss.tasks {
		tasks = append(tasks, t)
	}
	c := ss.conn
	ss.mu.Unlock()
	for _, t := range tasks {
		t.abort(false)
	}
	ss.srv.removeSession(ss)
	if c != nil {
		c.close(reason)
	}
	if ss.target != nil {
		ss.target.LUNs.NexusLost(ss.nexus)
	}
}

// countIO updates the session's counters for a finished task.
func (ss *session) countIO(t *task, res scsi.Result) {
	ss.mu.Lock()
	ss.cmds++
	if t.read {
		ss.readBytes += uint64(min(uint32(len(res.Data)), t.edtl))
	}
	if t.write {
		ss.writeBytes += uint64(t.received)
	}
	ss.mu.Unlock()
}
