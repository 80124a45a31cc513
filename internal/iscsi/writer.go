package iscsi

import (
	"encoding/binary"
	"runtime"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// outItem is one unit of work for the connection writer: a single PDU, or a
// read task's whole data-in transfer that the writer cuts into Data-In PDUs.
type outItem struct {
	hdr  pdu.Header
	data []byte
	// fillSN: write StatSN (offset 24), ExpCmdSN and MaxCmdSN at send time.
	fillSN bool
	// advance: this PDU consumes a StatSN.
	advance bool
	// dataIn, when set, describes a read's data-in transfer (hdr unused).
	dataIn *dataInJob
	// after runs on the writer goroutine once the PDU is written.
	after func()
	// task, for a command's status, is marked sent once the PDU is
	// written.
	task *task
	// closeAfter ends the connection once the PDU is written.
	closeAfter bool
}

// dataInJob is the data-in phase of a read, with the status to put into the
// last Data-In PDU when it can carry it (RFC 7143 §11.7.4: GOOD status
// without sense), otherwise followed by a SCSI Response.
type dataInJob struct {
	lun       uint64
	itt       uint32
	data      []byte
	status    uint8
	overflow  bool
	underflow bool
	residual  uint32
	// resp, if set, is sent after the data (status with sense).
	resp  *pdu.SCSIResponse
	sense []byte
	// Once the data is written, buf (the pooled buffer it lives in, if
	// any) goes back to its pool and task is marked sent.
	buf  []byte
	task *task
	// charge is buf's charge to the connection's account, given back
	// with buf.
	charge int64
}

// enqueue hands an item to the writer; false if the connection is gone.
func (c *conn) enqueue(it *outItem) bool {
	select {
	case c.out <- it:
		return true
	case <-c.done:
		return false
	}
}

// writeLoop owns the socket's write side and the connection's StatSN. It
// gathers every PDU that is ready into one batch and sends it with a single
// vectored write; data segments go out from the buffers they were produced
// in. Callbacks that release those buffers run after the write.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	w := c.bw
	ticker := time.NewTicker(c.srv.cfg.NopInterval / 2)
	defer ticker.Stop()
	for {
		var it *outItem
		select {
		case it = <-c.out:
		case <-ticker.C:
			c.wmu.Lock()
			ok := c.checkLiveness(w)
			c.wmu.Unlock()
			if ok {
				continue
			}
			return
		case <-c.done:
			return
		}
		c.wmu.Lock()
		ok := c.writeBatch(w, it)
		c.wmu.Unlock()
		if !ok {
			return
		}
	}
}

// writeBatch writes it and every further item already queued, then
// flushes; false when the connection is done. c.wmu must be held.
func (c *conn) writeBatch(w *batchWriter, it *outItem) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	{
		yielded := false
		for it != nil {
			if err := c.writeItem(w, it); err != nil {
				c.close(err)
				return false
			}
			if it.closeAfter {
				w.flush()
				c.close(nil)
				return false
			}
			if w.b.Size() >= maxBatchBytes || w.b.Segments() >= maxBatchSegments {
				if err := w.flush(); err != nil {
					c.close(err)
					return false
				}
			}
			select {
			case it = <-c.out:
			default:
				it = nil
				if !yielded {
					// Before the flush, let the goroutines that are ready
					// to run queue theirs: the completions of a burst (a
					// replica's replies arrive together) then share one
					// write. Alone, this costs one yield.
					yielded = true
					runtime.Gosched()
					select {
					case it = <-c.out:
					default:
					}
				}
			}
		}
		if err := w.flush(); err != nil {
			c.close(err)
			return false
		}
	}
	return true
}

// sendDeferred adds a response to the batch from the reader goroutine
// without flushing it: the reader flushes (flushIfIdle) before it blocks on
// input, so commands that arrived together are answered with one write.
func (c *conn) sendDeferred(it *outItem) {
	if it.closeAfter || len(c.out) > 0 {
		c.send(it)
		return
	}
	c.wmu.Lock()
	select {
	case <-c.done:
		c.wmu.Unlock()
		return
	default:
	}
	err := c.writeItem(c.bw, it)
	if err == nil && (c.bw.b.Size() >= maxBatchBytes || c.bw.b.Segments() >= maxBatchSegments) {
		err = c.bw.flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.close(err)
		return
	}
	c.flushPending = true
}

// flushIfIdle flushes responses the reader deferred; the reader calls it
// when no complete PDU is waiting in its input buffer.
func (c *conn) flushIfIdle() {
	if !c.flushPending {
		return
	}
	c.flushPending = false
	c.wmu.Lock()
	err := c.bw.flush()
	c.wmu.Unlock()
	if err != nil {
		c.close(err)
	}
}

// send writes a response at once from the calling goroutine when nothing
// is queued and no one is writing, saving the hand-off to the writer
// goroutine (a thread wake-up, most of a fast command's latency); else it
// queues the item for the writer.
func (c *conn) send(it *outItem) bool {
	if len(c.out) == 0 && c.wmu.TryLock() {
		ok := c.writeBatch(c.bw, it)
		c.wmu.Unlock()
		return ok
	}
	return c.enqueue(it)
}

// Batches are flushed at these sizes even when more PDUs are ready, to
// bound latency and the iovec count.
const (
	maxBatchBytes    = 4 << 20
	maxBatchSegments = 512
)

// batchWriter adds PDUs to a batch, flushing when its arena is full, and
// runs the deferred callbacks after each flush.
type batchWriter struct {
	b    *pdu.Batch
	conn *conn
	// What the PDUs in the batch hold until they are written: buffers
	// to give back to their pools, tasks to mark sent, functions to run.
	bufs  [][]byte
	tasks []*task
	// charge is what the buffers in bufs are charged, given back with
	// them (budget.go).
	charge int64
	after  []func()
}

func (w *batchWriter) add(h *pdu.Header, data []byte) error {
	ok, err := w.b.Add(h, nil, data)
	if err != nil || ok {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	_, err = w.b.Add(h, nil, data)
	return err
}

// armWriteDeadline makes sure the socket write about to start has at least
// half the write timeout before it fails: an initiator that stops reading
// (or reads at a byte a second) cannot hold the writer, its buffers and
// tasks past WriteTimeout; the failed write drops the connection. The
// deadline moves only when half of it is used, sparing a timer update per
// write. c.wmu must be held.
func (c *conn) armWriteDeadline() {
	now := time.Now()
	if c.writeDeadline.Sub(now) >= c.srv.cfg.WriteTimeout/2 {
		return
	}
	c.writeDeadline = now.Add(c.srv.cfg.WriteTimeout)
	c.nc.SetWriteDeadline(c.writeDeadline)
}

// defer_ runs fn after the next flush.
func (w *batchWriter) defer_(fn func()) { w.after = append(w.after, fn) }

func (w *batchWriter) flush() error {
	w.conn.armWriteDeadline()
	err := w.b.Flush(w.conn.nc)
	for i, b := range w.bufs {
		putBuf(b)
		w.bufs[i] = nil
	}
	w.bufs = w.bufs[:0]
	if w.charge > 0 {
		w.conn.acct.give(w.charge)
		w.charge = 0
	}
	for i, t := range w.tasks {
		t.markSent()
		w.tasks[i] = nil
	}
	w.tasks = w.tasks[:0]
	for i, fn := range w.after {
		fn()
		w.after[i] = nil
	}
	w.after = w.after[:0]
	return err
}

func (c *conn) writeItem(w *batchWriter, it *outItem) error {
	if it.dataIn != nil {
		return c.writeDataIn(w, it.dataIn)
	}
	if it.fillSN {
		c.stampSN(&it.hdr, it.advance)
	}
	if err := w.add(&it.hdr, it.data); err != nil {
		return err
	}
	if it.after != nil {
		w.defer_(it.after)
	}
	if it.task != nil {
		w.tasks = append(w.tasks, it.task)
	}
	return nil
}

// stampSN writes StatSN, ExpCmdSN and MaxCmdSN at their common offsets.
func (c *conn) stampSN(h *pdu.Header, advance bool) {
	exp, max := c.windowSNs()
	binary.BigEndian.PutUint32(h[24:], c.statSN)
	binary.BigEndian.PutUint32(h[28:], exp)
	binary.BigEndian.PutUint32(h[32:], max)
	if advance {
		c.statSN++
	}
}

// writeDataIn sends a read's data as Data-In PDUs of at most the
// initiator's MaxRecvDataSegmentLength, with F set at the end of every
// MaxBurstLength sequence, and the status in the last PDU when allowed.
//
// The batch may be flushed between the job's PDUs (its arena of headers
// is full, or it holds maxBatchBytes, which bounds each socket write for
// the write timeout): the job's buffer goes back to its pool, and its task
// is marked sent, only with the flush after its last PDU.
func (c *conn) writeDataIn(w *batchWriter, j *dataInJob) error {
	mrdsl := c.params.MaxRecvDataSegmentLength
	if mrdsl <= 0 {
		mrdsl = 8192
	}
	burst := c.params.MaxBurstLength
	if burst <= 0 {
		burst = 262144
	}
	var h pdu.Header
	var sn uint32
	total := len(j.data)
	exp, max := c.windowSNs()
	for off := 0; off < total; {
		n := min(mrdsl, total-off)
		seqEnd := (off/burst + 1) * burst
		if off+n > seqEnd {
			n = seqEnd - off
		}
		last := off+n == total
		m := pdu.DataIn{LUN: j.lun, ITT: j.itt, TTT: pdu.ReservedTag, DataSN: sn,
			BufferOffset: uint32(off), Final: last || off+n == seqEnd,
			ExpCmdSN: exp, MaxCmdSN: max}
		if last && j.resp == nil {
			m.HasStatus, m.Status = true, j.status
			m.Overflow, m.Underflow, m.ResidualCount = j.overflow, j.underflow, j.residual
			m.StatSN = c.statSN
			c.statSN++
		}
		m.Encode(&h)
		if err := w.add(&h, j.data[off:off+n]); err != nil {
			return err
		}
		sn++
		off += n
		if off < total && w.b.Size() >= maxBatchBytes {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	if j.resp != nil {
		j.resp.ExpDataSN = sn
		j.resp.Encode(&h)
		c.stampSN(&h, true)
		if err := w.add(&h, j.sense); err != nil {
			return err
		}
	}
	if j.buf != nil {
		w.bufs = append(w.bufs, j.buf)
	}
	w.charge += j.charge
	j.charge = 0
	if j.task != nil {
		w.tasks = append(w.tasks, j.task)
	}
	return nil
}

// checkLiveness runs on every writer tick: it pings an idle initiator with a
// NOP-In and reports false when a ping went unanswered past the timeout.
func (c *conn) checkLiveness(w *batchWriter) bool {
	if !c.ffp.Load() {
		return true
	}
	now := time.Now()
	last := time.Unix(0, c.lastRecv.Load())
	idle := now.Sub(last)
	sent := c.pingSent.Load()
	if sent != 0 {
		if last.UnixNano() >= sent {
			c.pingSent.Store(0)
			return true
		}
		if now.Sub(time.Unix(0, sent)) > c.srv.cfg.NopTimeout {
			c.log.Warn("initiator did not answer NOP-In ping; dropping connection", "idle", idle.Round(time.Second))
			c.close(errPingTimeout)
			return false
		}
		return true
	}
	if idle < c.srv.cfg.NopInterval {
		return true
	}
	c.pingTTT++
	if c.pingTTT == pdu.ReservedTag {
		c.pingTTT = 1
	}
	m := pdu.NOPIn{LUN: 0, ITT: pdu.ReservedTag, TTT: c.pingTTT}
	var h pdu.Header
	m.Encode(&h)
	c.stampSN(&h, false)
	if err := w.add(&h, nil); err != nil {
		c.close(err)
		return false
	}
	if err := w.flush(); err != nil {
		c.close(err)
		return false
	}
	c.pingSent.Store(now.UnixNano())
	return true
}
