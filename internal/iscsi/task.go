package iscsi

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/halun/halun/internal/iscsi/pdu"
	"github.com/halun/halun/internal/scsi"
)

type taskState uint8

const (
	taskGathering taskState = iota // waiting for data-out
	taskExecuting                  // in the SCSI layer
	taskDone                       // response handed to the writer
	taskAborted                    // aborted: no response will be sent
)

// task is one SCSI command of a session, from its arrival until its
// response is queued (or it is aborted).
type task struct {
	c         *conn
	ss        *session
	itt       uint32
	lun       uint64
	cmdSN     uint32
	immediate bool
	attr      uint8
	cdb       []byte
	read      bool
	write     bool
	edtl      uint32
	// final is the command's F bit: no unsolicited Data-Out follows.
	final bool

	// Data-out state, owned by the connection reader while gathering.
	buf         []byte
	received    uint32
	unsolLimit  uint32 // unsolicited data ends here (exclusive)
	unsolNext   uint32
	unsolDataSN uint32
	unsolDone   bool
	holes       []span // ranges still to solicit with R2T
	r2ts        []*r2tSeq
	r2tSN       uint32

	// wcharge and rcharge are the bytes of the write and read buffers
	// charged to the connection's account, given back once (budget.go);
	// counted: the task is counted in the connection's gathering tasks.
	wcharge, rcharge atomic.Int64
	counted          atomic.Bool

	// cancel is closed when a long-running command is aborted (t.mu).
	cancel chan struct{}
	// entry is the task in its logical unit's task set, through which
	// task management aborts it; in no task set for a LUN without a
	// logical unit.
	entry scsi.TaskEntry
	// abortStatus: the task was aborted by another I_T nexus and
	// completes with TASK ABORTED status (set with state, t.mu).
	abortStatus bool
	// inline: executing on the reader goroutine.
	inline bool
	// ext is the LBA range the command touches (hasExt false for commands
	// without medium access); deps are the sent channels of earlier
	// tasks it must wait for (task attributes, overlapping writes).
	ext    scsi.Extent
	hasExt bool
	deps   []chan struct{}
	// dataInBuf is the pooled buffer the read data lives in, released by
	// the writer after sending.
	dataInBuf []byte

	mu       sync.Mutex
	state    taskState
	execDone chan struct{}
	// sent is closed once the task's response has been written (or the
	// task ended without one); later tasks ordered behind it wait for it,
	// so responses keep the order of execution too.
	sent     chan struct{}
	sentOnce sync.Once
	once     sync.Once

	// Room for the command's own objects, so that a command costs one
	// allocation instead of one per object: the CDB when it fits 16
	// bytes, the header (for a Reject), the immediate data until
	// startTask takes it, the command handed to the SCSI layer, and the
	// response queued to the writer. A task responds at most once.
	cdbBuf [16]byte
	hdr    pdu.Header
	imm    []byte
	cmd    scsi.Command
	out    outItem
	din    dataInJob
}

type span struct{ off, n uint32 }

// r2tSeq is one outstanding R2T and the Data-Out sequence answering it.
type r2tSeq struct {
	ttt, off, n, next, dataSN uint32
}

// Sense data the transport itself produces (fixed format, SPC-4 §4.5.3),
// encoded by package scsi like every other.
var (
	// ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR (47h/05h).
	senseProtocolCRC = scsi.TransportSense(0x0b, 0x47, 0x05)
	// ABORTED COMMAND, DATA PHASE ERROR (4Bh/00h): DataSN out of order.
	senseDataPhase = scsi.TransportSense(0x0b, 0x4b, 0x00)
	// ABORTED COMMAND, DATA OFFSET ERROR (4Bh/05h).
	senseDataOffset = scsi.TransportSense(0x0b, 0x4b, 0x05)
	// ABORTED COMMAND, INVALID TARGET PORT TRANSFER TAG RECEIVED (4Bh/01h).
	senseBadTTT = scsi.TransportSense(0x0b, 0x4b, 0x01)
	// ABORTED COMMAND, TOO MUCH WRITE DATA (4Bh/02h).
	senseTooMuchData = scsi.TransportSense(0x0b, 0x4b, 0x02)
	// ILLEGAL REQUEST, INVALID FIELD IN CDB (24h/00h).
	senseInvalidCDB = scsi.TransportSense(0x05, 0x24, 0x00)
)

// handleSCSICommand takes a SCSI Command PDU through CmdSN ordering and
// starts its task.
func (c *conn) handleSCSICommand(p *pdu.PDU) {
	var m pdu.SCSICommand
	m.Decode(&p.Header)
	t := &task{c: c, ss: c.sess, itt: m.ITT, lun: m.LUN, cmdSN: m.CmdSN, immediate: m.Immediate,
		attr: m.Attr, read: m.Read, write: m.Write, edtl: m.ExpectedDataTransferLength, final: m.Final, hdr: p.Header}
	t.cdbBuf = m.CDB
	t.cdb = t.cdbBuf[:]
	if len(p.AHS) > 0 {
		ext, _, _, err := pdu.CommandAHS(p.AHS)
		if err != nil {
			c.badInput("bad AHS in SCSI command", "err", err)
			c.reject(&p.Header, pdu.RejectInvalidPDUField, false)
			c.sess.order(m.CmdSN, m.Immediate, c.releaseFn(m.Immediate))
			return
		}
		t.cdb = append(make([]byte, 0, 16+len(ext)), m.CDB[:]...)
		t.cdb = append(t.cdb, ext...)
	}
	imm := p.Data
	if len(imm) > 0 {
		limit := c.params.FirstBurstLength
		switch {
		case !m.Write || !c.params.ImmediateData || uint32(len(imm)) > m.ExpectedDataTransferLength ||
			(limit > 0 && len(imm) > limit):
			// RFC 7143 §11.3.4: immediate data only for writes, only when
			// negotiated, and within FirstBurstLength and the EDTL.
			c.badInput("unexpected immediate data", "len", len(imm), "edtl", m.ExpectedDataTransferLength)
			c.reject(&p.Header, pdu.RejectProtocolError, false)
			c.sess.order(m.CmdSN, m.Immediate, c.releaseFn(m.Immediate))
			return
		}
	}
	t.imm = imm
	c.sess.order(m.CmdSN, m.Immediate, t)
}

// deliver starts the task when CmdSN ordering reaches it.
func (t *task) deliver() { t.c.startTask(t) }

// releaseFn returns a delivery function that only frees the CmdSN slot of a
// PDU that was rejected.
func (c *conn) releaseFn(immediate bool) deliverer {
	return deliverFunc(func() {
		if !immediate {
			c.sess.release()
		}
	})
}

func (c *conn) startTask(t *task) {
	t.execDone, t.sent = make(chan struct{}), make(chan struct{})
	t.ext, t.hasExt = scsi.CommandExtent(t.cdb)
	imm := t.imm
	t.imm = nil
	if !c.sess.addTask(t) {
		c.badInput("SCSI command reuses a task tag in use", "itt", t.itt)
		c.reject(&t.hdr, pdu.RejectTaskInProgress, false)
		if !t.immediate {
			c.sess.release()
		}
		return
	}
	// The task enters its logical unit's task set now, before any
	// data-out, so that task management reaches it while it waits for
	// data as well as while it executes.
	if lu := c.sess.target.LUNs.LogicalUnit(c.sess.nexus, t.lun); lu != nil {
		lu.Tasks().Add(&t.entry, c.sess.nexus, uint64(t.itt), t)
	}
	if !t.write || t.edtl == 0 {
		// A read's data-in buffer is charged before it runs, in
		// delivery order like every charge (budget.go).
		if c.reserve(t, false) {
			t.execute()
		}
		return
	}
	if t.edtl > c.srv.cfg.MaxTransferLength {
		// Refuse before allocating; later data for this tag is ignored.
		c.failTask(t, senseInvalidCDB)
		return
	}
	if pre := c.immBuf; pre != nil && len(imm) > 0 && &pre[0] == &imm[0] && uint32(cap(pre)) >= t.edtl {
		// The reader already put the immediate data at the start of a
		// buffer of the whole transfer, charged for it.
		t.buf = pre[:t.edtl]
		t.received = uint32(len(imm))
		t.setCharge()
		c.immBuf, c.immCharge = nil, 0
	} else {
		c.dropImmBuf()
		// The F bit clear or immediate data: unsolicited data is on its
		// way, and the reader cannot set it aside.
		if !c.reserve(t, len(imm) > 0 || !t.final) {
			return
		}
		t.buf = getBuf(int(t.edtl))
		t.received = uint32(copy(t.buf, imm))
	}
	c.beginData(t)
}

// beginData starts gathering a write's data-out into its charged buffer,
// which holds the immediate data already received: unsolicited data up to
// FirstBurstLength when InitialR2T=No and the command's F bit is clear
// (RFC 7143 §11.3.1: with F set no unsolicited Data-Out follows), R2Ts for
// the rest.
func (c *conn) beginData(t *task) {
	t.mu.Lock()
	ok := t.state == taskGathering
	if ok {
		t.counted.Store(true)
		c.gathering.Add(1)
	}
	t.mu.Unlock()
	if !ok {
		// Aborted meanwhile.
		c.giveBuf(&t.wcharge)
		return
	}
	t.unsolNext = t.received
	t.unsolLimit = t.received
	if !c.params.InitialR2T && !t.final {
		fb := uint32(c.params.FirstBurstLength)
		t.unsolLimit = min(fb, t.edtl)
		if t.unsolLimit < t.received {
			t.unsolLimit = t.received
		}
	}
	t.unsolDone = t.unsolNext >= t.unsolLimit
	if t.unsolLimit < t.edtl {
		t.holes = append(t.holes, span{t.unsolLimit, t.edtl - t.unsolLimit})
	}
	c.solicit(t)
	t.maybeExecute()
}

// stopGathering uncounts the task from its connection's gathering tasks,
// once, when it leaves the gathering state.
func (t *task) stopGathering() {
	if t.counted.CompareAndSwap(true, false) {
		t.c.gathering.Add(-1)
	}
}

// needsInBuf reports whether the task reads into a data-in buffer of the
// transport's (charged to the budget).
func (t *task) needsInBuf() bool {
	return t.read && t.edtl > 0 && t.edtl <= t.c.srv.cfg.MaxTransferLength
}

// bufBytes is what the task's buffers are charged: the data-out buffer
// of a write and the data-in buffer of a read (both for a bidirectional
// command).
func (t *task) bufBytes() int64 {
	var n int64
	if t.write {
		n += int64(t.edtl)
	}
	if t.needsInBuf() {
		n += int64(t.edtl)
	}
	return n
}

// setCharge records a charge of bufBytes as the task's write and read
// parts.
func (t *task) setCharge() {
	if t.write {
		t.wcharge.Store(int64(t.edtl))
	}
	if t.needsInBuf() {
		t.rcharge.Store(int64(t.edtl))
	}
}

// proceed starts a task whose buffers were charged: a write gathers its
// data-out, anything else executes.
func (c *conn) proceed(t *task) {
	if t.write && t.edtl > 0 {
		t.buf = getBuf(int(t.edtl))
		c.beginData(t)
		return
	}
	t.execute()
}

// solicit sends R2Ts for the task's unsolicited holes, each at most
// MaxBurstLength, keeping at most MaxOutstandingR2T outstanding.
func (c *conn) solicit(t *task) {
	maxOut := max(c.params.MaxOutstandingR2T, 1)
	burst := uint32(max(c.params.MaxBurstLength, 512))
	for len(t.r2ts) < maxOut && len(t.holes) > 0 {
		h := &t.holes[0]
		n := min(h.n, burst)
		c.nextTTT++
		if c.nextTTT == pdu.ReservedTag {
			c.nextTTT = 1
		}
		seq := &r2tSeq{ttt: c.nextTTT, off: h.off, n: n, next: h.off}
		t.r2ts = append(t.r2ts, seq)
		h.off += n
		h.n -= n
		if h.n == 0 {
			t.holes = t.holes[1:]
		}
		m := pdu.R2T{LUN: t.lun, ITT: t.itt, TTT: seq.ttt, R2TSN: t.r2tSN,
			BufferOffset: seq.off, DesiredDataLength: seq.n}
		t.r2tSN++
		it := &outItem{fillSN: true}
		m.Encode(&it.hdr)
		// The reader writes the R2T itself with its next flush: no
		// hand-off to the writer goroutine on every burst of a write.
		c.sendDeferred(it)
	}
}

// handleDataOut places a Data-Out PDU's data into its task (RFC 7143
// §11.7), checking TTT, DataSN and buffer offset as ERL 0 requires.
func (c *conn) handleDataOut(p *pdu.PDU) {
	var m pdu.DataOut
	m.Decode(&p.Header)
	t := c.sess.findTask(m.ITT)
	if t == nil || t.c != c {
		// Data for a task that already failed or was aborted: drop it.
		c.log.Debug("Data-Out for unknown task", "itt", m.ITT)
		return
	}
	t.mu.Lock()
	gathering := t.state == taskGathering
	t.mu.Unlock()
	if !gathering || t.buf == nil {
		return
	}
	n := uint32(len(p.Data))
	if m.TTT == pdu.ReservedTag {
		switch {
		case t.unsolDone:
			c.failTask(t, senseTooMuchData)
		case m.DataSN != t.unsolDataSN:
			c.failTask(t, senseDataPhase)
		case m.BufferOffset != t.unsolNext || m.BufferOffset+n > t.unsolLimit || m.BufferOffset+n < m.BufferOffset:
			c.failTask(t, senseDataOffset)
		default:
			place(t.buf[m.BufferOffset:], p.Data)
			t.received += n
			t.unsolNext += n
			t.unsolDataSN++
			if m.Final {
				t.unsolDone = true
				if t.unsolNext < t.unsolLimit {
					// The initiator ended its unsolicited burst early:
					// solicit what it left out.
					t.holes = append([]span{{t.unsolNext, t.unsolLimit - t.unsolNext}}, t.holes...)
					c.solicit(t)
				}
			}
			t.maybeExecute()
		}
		return
	}
	idx := -1
	for i, s := range t.r2ts {
		if s.ttt == m.TTT {
			idx = i
			break
		}
	}
	if idx < 0 {
		c.failTask(t, senseBadTTT)
		return
	}
	s := t.r2ts[idx]
	switch {
	case m.DataSN != s.dataSN:
		c.failTask(t, senseDataPhase)
		return
	case m.BufferOffset != s.next || m.BufferOffset+n > s.off+s.n || m.BufferOffset+n < m.BufferOffset:
		c.failTask(t, senseDataOffset)
		return
	}
	place(t.buf[m.BufferOffset:], p.Data)
	t.received += n
	s.next += n
	s.dataSN++
	if s.next == s.off+s.n {
		t.r2ts = append(t.r2ts[:idx], t.r2ts[idx+1:]...)
		c.solicit(t)
	} else if m.Final {
		c.failTask(t, senseDataOffset)
		return
	}
	t.maybeExecute()
}

// place copies data to dst unless the reader already put it there.
func place(dst, data []byte) {
	if len(data) > 0 && len(dst) > 0 && &dst[0] == &data[0] {
		return
	}
	copy(dst, data)
}

// maybeExecute starts the task once all its data-out has arrived.
func (t *task) maybeExecute() {
	if t.received == t.edtl && t.unsolDone && len(t.r2ts) == 0 && len(t.holes) == 0 {
		t.execute()
	}
}

// execute hands the task to the SCSI layer on its own goroutine.
func (t *task) execute() {
	t.mu.Lock()
	if t.state != taskGathering {
		t.mu.Unlock()
		// Aborted or failed before it ran: no data-in buffer is needed.
		t.c.giveBuf(&t.rcharge)
		return
	}
	t.state = taskExecuting
	t.mu.Unlock()
	t.stopGathering()
	if len(t.deps) > 0 {
		// Earlier tasks must finish first (ORDERED, or an overlapping
		// write): wait for them off the reader goroutine.
		t.c.executing.Add(1)
		go func() {
			for _, d := range t.deps {
				select {
				case <-d:
				case <-t.ss.done:
				}
			}
			t.deps = nil
			t.mu.Lock()
			aborted := t.state == taskAborted
			t.mu.Unlock()
			if aborted {
				t.c.executing.Add(-1)
				t.endAborted()
				return
			}
			t.run()
		}()
		return
	}
	c := t.c
	alone := c.executing.Add(1) == 1
	lone := c.lone.arrived(alone && c.in.Buffered() == 0 && c.inSocket != nil)
	fast := c.inlineOK()
	if alone && !scsi.LongRunning(t.cdb) && (fast || lone && !c.srv.cfg.NoInline) {
		// Nothing else of this connection is executing, and commands
		// are fast, or arrive one at a time (lone.go): run on the reader
		// goroutine, saving a goroutine hand-off (most of a fast read's
		// latency); the response is flushed with the others when the
		// reader runs out of input.
		t.inline = true
		t.run()
		if !fast {
			c.noteInputDuringSlow()
		}
		return
	}
	t.c.srv.workers.Run(t.run)
}

func (t *task) run() {
	t.cmd = scsi.Command{Nexus: t.ss.nexus, LUN: t.lun, CDB: t.cdb, Attr: t.attr,
		ExpectedDataLength: t.edtl}
	cmd := &t.cmd
	if t.write {
		cmd.DataOut = t.buf[:t.received]
	}
	if scsi.LongRunning(t.cdb) {
		// Long commands learn of an abort through Done.
		t.mu.Lock()
		ch := make(chan struct{})
		cmd.Done = ch
		if t.state == taskAborted {
			close(ch)
		} else {
			t.cancel = ch
		}
		t.mu.Unlock()
	}
	var inBuf []byte
	if t.needsInBuf() {
		// Charged when the task started (reserve).
		inBuf = getBuf(int(t.edtl))
		cmd.DataInBuf = inBuf
	}
	res := t.ss.target.LUNs.Execute(cmd)
	t.c.noteExec(res.Elapsed)
	// The buffer goes back to its pool after the writer has sent it when
	// the result uses it, else now.
	if inBuf != nil && (len(res.Data) == 0 || &res.Data[0] != &inBuf[:1][0]) {
		putBuf(inBuf)
		inBuf = nil
		t.c.giveBuf(&t.rcharge)
	}
	t.dataInBuf = inBuf
	t.c.executing.Add(-1)
	t.respond(res)
	if t.write && !t.read && t.buf != nil {
		// The SCSI layer is done with the data-out; nothing else refers
		// to a write buffer once the task has executed.
		putBuf(t.buf)
		t.buf = nil
	}
	t.c.giveBuf(&t.wcharge)
}

// failTask ends a task that is still gathering data with CHECK CONDITION.
func (c *conn) failTask(t *task, sense []byte) {
	t.mu.Lock()
	if t.state != taskGathering {
		t.mu.Unlock()
		return
	}
	t.state = taskExecuting
	t.mu.Unlock()
	t.stopGathering()
	c.badInput("write data sequence error; failing the task", "itt", t.itt)
	t.respond(scsi.Result{Status: scsi.StatusCheckCondition, Sense: sense})
	// The buffer is left to the garbage collector: the reader may still
	// hold a slice of it.
	c.giveBuf(&t.wcharge)
}

// respond queues the task's response (TASK ABORTED, or none, if it was
// aborted), then releases the task's tag and CmdSN slot.
func (t *task) respond(res scsi.Result) {
	t.mu.Lock()
	if t.state == taskAborted {
		t.mu.Unlock()
		t.c.giveBuf(&t.rcharge)
		t.endAborted()
		return
	}
	t.state = taskDone
	t.mu.Unlock()
	// The tag is free for reuse once the initiator sees the response, so
	// it leaves the table first.
	t.complete()
	it := t.response(res)
	if j := it.dataIn; j != nil {
		j.task = t
	} else {
		it.task = t
	}
	t.queue(it)
}

// queue hands the task's response to the writer: on the reader goroutine
// with its next flush when the task ran there.
func (t *task) queue(it *outItem) {
	if t.inline {
		t.c.sendDeferred(it)
		return
	}
	if !t.c.send(it) {
		t.markSent()
	}
}

// endAborted ends an aborted task: with TASK ABORTED status when another
// I_T nexus aborted it (SAM-5 5.6, TAS set), else without a response
// (RFC 7143 §4.2.3.3). t.state is taskAborted.
func (t *task) endAborted() {
	t.complete()
	if !t.abortStatus {
		t.markSent()
		return
	}
	m := pdu.SCSIResponse{Status: scsi.StatusTaskAborted, ITT: t.itt}
	it := &t.out
	*it = outItem{fillSN: true, advance: true, task: t}
	m.Encode(&it.hdr)
	t.queue(it)
}

// complete does the bookkeeping of a finished or aborted task, once.
func (t *task) complete() {
	t.once.Do(func() {
		t.ss.removeTask(t)
		t.entry.Remove()
		if !t.immediate {
			t.ss.release()
		}
		close(t.execDone)
	})
}

// markSent releases the tasks ordered behind this one.
func (t *task) markSent() { t.sentOnce.Do(func() { close(t.sent) }) }

// AbortCommand is abort, as the task's logical unit calls it
// (scsi.Aborter).
func (t *task) AbortCommand(status bool) bool { return t.abort(status) }

// abort marks the task aborted and waits until it is out of the SCSI layer;
// it is the task's scsi.AbortFunc. With status the task completes with
// TASK ABORTED status, else without a response. It reports false if the
// response was already queued.
func (t *task) abort(status bool) bool {
	t.mu.Lock()
	prev := t.state
	if prev == taskDone || prev == taskAborted {
		t.mu.Unlock()
		<-t.execDone
		return prev == taskAborted
	}
	t.state = taskAborted
	t.abortStatus = status
	if t.cancel != nil {
		close(t.cancel)
		t.cancel = nil
	}
	t.mu.Unlock()
	if prev == taskGathering {
		t.stopGathering()
		t.c.giveBuf(&t.wcharge)
		t.c.giveBuf(&t.rcharge)
		t.endAborted()
	}
	<-t.execDone
	return true
}

// response builds the status (and data-in) for a finished task, with the
// residual of RFC 7143 §11.4.5: for reads, the data the command produced
// against the expected length; for writes, the data the CDB called for.
func (t *task) response(res scsi.Result) *outItem {
	var overflow, underflow bool
	var residual uint32
	want := uint32(0)
	switch {
	case t.read:
		want = uint32(min(len(res.Data), 1<<31))
	case t.write:
		want = res.DataOutLength
	default:
		want = uint32(min(len(res.Data), 1<<31))
	}
	if t.read || t.write || want > 0 {
		if want > t.edtl {
			overflow, residual = true, want-t.edtl
		} else if want < t.edtl {
			underflow, residual = true, t.edtl-want
		}
	}
	var sense []byte
	if len(res.Sense) > 0 {
		sense = make([]byte, 2+len(res.Sense))
		binary.BigEndian.PutUint16(sense, uint16(len(res.Sense)))
		copy(sense[2:], res.Sense)
	}
	t.ss.countIO(t, res)
	data := res.Data
	if !t.read {
		data = nil
	}
	if uint32(len(data)) > t.edtl {
		data = data[:t.edtl]
	}
	if len(data) > 0 {
		j := &t.din
		*j = dataInJob{lun: t.lun, itt: t.itt, data: data, status: res.Status,
			overflow: overflow, underflow: underflow, residual: residual, buf: t.dataInBuf,
			charge: t.rcharge.Swap(0)}
		t.dataInBuf = nil
		if res.Status != scsi.StatusGood || sense != nil {
			j.resp = &pdu.SCSIResponse{Status: res.Status, ITT: t.itt,
				Overflow: overflow, Underflow: underflow, ResidualCount: residual}
			j.sense = sense
		}
		t.out = outItem{dataIn: j}
		return &t.out
	}
	t.c.giveBuf(&t.rcharge)
	// ExpDataSN counts the R2T and Data-In PDUs sent for the command
	// (RFC 7143 §11.4.6).
	m := pdu.SCSIResponse{Status: res.Status, ITT: t.itt, Overflow: overflow,
		Underflow: underflow, ResidualCount: residual, ExpDataSN: t.r2tSN}
	it := &t.out
	*it = outItem{fillSN: true, advance: true, data: sense}
	m.Encode(&it.hdr)
	return it
}
