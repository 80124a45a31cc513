package initiator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// Session is a logged-in iSCSI session on one connection. Its methods are
// safe for concurrent use.
type Session struct {
	conn   net.Conn
	opts   Options
	params Params
	xfer   xferParams

	// Reader goroutine state.
	rd   *pdu.Reader
	pre  prefixReader
	hdr  pdu.Header
	rbuf []byte

	wmu   sync.Mutex // serialises writes; guards w and wdead
	w     *pdu.Writer
	wdead bool

	mu        sync.Mutex
	cmdSN     uint32 // next CmdSN to assign
	expCmdSN  uint32
	maxCmdSN  uint32
	expStatSN uint32
	nextITT   uint32
	nextSeq   uint64
	tasks     map[uint32]*Task
	windowCh  chan struct{} // closed when MaxCmdSN advances
	err       error         // why the session ended
	closed    chan struct{} // closed when err is set
	inBody    bool          // reader is inside a PDU
	detaching bool
	leftover  []byte // partial PDU bytes when the reader stopped
	anomalies []string
	logoutReq bool

	readerDone chan struct{}
	wg         sync.WaitGroup
}

// prefixReader reads prefix first, then r.
type prefixReader struct {
	prefix []byte
	r      io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// Dial connects to addr (host:port) and logs in to o.TargetName, returning a
// session in full feature phase. A refused login is a *LoginError.
func Dial(ctx context.Context, addr string, o Options) (*Session, error) {
	return dial(ctx, addr, o, false)
}

func dial(ctx context.Context, addr string, o Options, discovery bool) (*Session, error) {
	if o.InitiatorName == "" {
		return nil, errors.New("initiator: Options.InitiatorName is required")
	}
	if !discovery && o.TargetName == "" {
		return nil, errors.New("initiator: Options.TargetName is required")
	}
	isid := o.ISID
	if isid == (pdu.ISID{}) {
		isid = randomISID()
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("initiator: connecting to %s: %w", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	undo := deadline(dctx, conn, o.timeout())
	res, err := doLogin(newLoginConn(conn), &o, isid, discovery)
	undo()
	if err != nil {
		conn.Close()
		var le *LoginError
		if errors.As(err, &le) {
			return nil, err
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("initiator: login to %s at %s: %w", o.TargetName, addr, err)
	}
	return newSession(conn, o, res), nil
}

func newSession(conn net.Conn, o Options, res *loginResult) *Session {
	s := &Session{
		conn: conn, opts: o, params: res.params, xfer: res.params.xfer(),
		cmdSN: res.cmdSN, expCmdSN: res.expCmdSN, maxCmdSN: res.maxCmdSN,
		expStatSN: res.expStatSN, nextITT: res.nextITT,
		tasks: map[uint32]*Task{}, windowCh: make(chan struct{}), closed: make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	s.pre.r = conn
	s.rd = pdu.NewReader(&s.pre)
	s.rd.Opts = pdu.Options{HeaderDigest: res.params.HeaderDigest, DataDigest: res.params.DataDigest,
		MaxRecvDataSegmentLength: res.params.MaxRecvDataSegmentLength, Alloc: s.alloc}
	s.w = pdu.NewWriter(conn)
	s.w.Opts = pdu.Options{HeaderDigest: res.params.HeaderDigest, DataDigest: res.params.DataDigest}
	go s.readLoop()
	return s
}

// alloc hands the reader a reusable buffer; dispatch copies what it keeps.
func (s *Session) alloc(n int) []byte {
	if cap(s.rbuf) < n {
		s.rbuf = make([]byte, n)
	}
	return s.rbuf[:n]
}

// Negotiated returns the operational parameters agreed at login.
func (s *Session) Negotiated() Params { return s.params }

// Err returns why the session ended, or nil while it is usable.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.closed }

// Anomalies returns the protocol irregularities the initiator tolerated (for
// example a response for an unknown task); a conformant target causes none.
func (s *Session) Anomalies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.anomalies...)
}

func (s *Session) anomaly(format string, a ...any) {
	s.mu.Lock()
	if len(s.anomalies) < 1000 {
		s.anomalies = append(s.anomalies, fmt.Sprintf(format, a...))
	}
	s.mu.Unlock()
}

// Close ends the session without logging out: it closes the connection,
// fails outstanding tasks with ErrClosed and waits for the session's
// goroutines. It is idempotent. Use Logout first for a clean end.
func (s *Session) Close() error {
	s.fail(ErrClosed)
	<-s.readerDone
	s.wg.Wait()
	return nil
}

// fail ends the session with err: the first error wins. Unless the session
// is being detached, the connection is closed.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	tasks := s.tasks
	s.tasks = map[uint32]*Task{}
	detach := s.detaching
	close(s.closed)
	s.mu.Unlock()
	if !detach {
		s.conn.Close()
	}
	for _, t := range tasks {
		t.finish(nil, err)
	}
}

// --- sequence numbers -------------------------------------------------------

// snLT reports a < b in serial number arithmetic (RFC 1982, 32 bits).
func snLT(a, b uint32) bool { return a != b && int32(a-b) < 0 }

// updateWindow applies ExpCmdSN/MaxCmdSN from a target PDU (RFC 7143 §4.2.2.1).
// Called with s.mu held.
func (s *Session) updateWindow(exp, max uint32) {
	if snLT(max, exp-1) {
		return // invalid window: ignore
	}
	if snLT(s.expCmdSN, exp) {
		s.expCmdSN = exp
	}
	if snLT(s.maxCmdSN, max) {
		s.maxCmdSN = max
		close(s.windowCh)
		s.windowCh = make(chan struct{})
	}
}

// windowOpen reports whether a non-immediate command may be sent now.
func (s *Session) windowOpen() bool { return !snLT(s.maxCmdSN, s.cmdSN) }

// waitWindow blocks until the CmdSN window has room.
func (s *Session) waitWindow(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		if s.windowOpen() {
			s.mu.Unlock()
			return nil
		}
		ch := s.windowCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.closed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// allocITT returns a fresh initiator task tag. Called with s.mu held.
func (s *Session) allocITT() uint32 {
	for {
		itt := s.nextITT
		s.nextITT++
		if itt == pdu.ReservedTag {
			continue
		}
		if _, busy := s.tasks[itt]; !busy {
			return itt
		}
	}
}

// write sends one PDU under the write lock.
func (s *Session) write(h *pdu.Header, ahs, data []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeLocked(h, ahs, data)
}

func (s *Session) writeLocked(h *pdu.Header, ahs, data []byte) error {
	if s.wdead {
		return s.endErr()
	}
	if err := s.w.Write(h, ahs, data); err != nil {
		err = fmt.Errorf("initiator: sending %v: %w", h.Opcode(), err)
		s.fail(err)
		return s.endErr()
	}
	return nil
}

func (s *Session) endErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return ErrDetached
}

// --- reader -----------------------------------------------------------------

var errStopReader = errors.New("reader stopped for detach")

func (s *Session) readLoop() {
	defer close(s.readerDone)
	var p pdu.PDU
	for {
		err := s.readPDU(&p)
		if err == errStopReader {
			return
		}
		if err != nil {
			if errors.Is(err, pdu.ErrDataDigest) {
				// At ERL 0 a data digest error ends the connection.
				err = fmt.Errorf("initiator: %v PDU ITT %#x: %w", p.Header.Opcode(), p.Header.ITT(), err)
			} else if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("initiator: connection closed by target: %w", err)
			} else {
				err = fmt.Errorf("initiator: reading PDU: %w", err)
			}
			s.fail(err)
			return
		}
		if err := s.dispatch(&p); err != nil {
			var le *logoutEnd
			if errors.As(err, &le) {
				err = le.reason
			}
			s.fail(err)
			return
		}
		s.mu.Lock()
		stop := s.detaching || s.err != nil
		s.mu.Unlock()
		if stop {
			return
		}
	}
}

// readPDU reads the header itself so that a detach can stop it exactly at a
// PDU boundary, then the rest through the pdu.Reader.
func (s *Session) readPDU(p *pdu.PDU) error {
	n := 0
	for n < pdu.HeaderLen {
		m, err := s.conn.Read(s.hdr[n:])
		n += m
		if err != nil {
			if n == pdu.HeaderLen {
				break
			}
			s.mu.Lock()
			det := s.detaching
			if det {
				s.leftover = append([]byte(nil), s.hdr[:n]...)
			}
			s.mu.Unlock()
			if det && errors.Is(err, os.ErrDeadlineExceeded) {
				return errStopReader
			}
			if n == 0 && err == io.EOF {
				return io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	s.mu.Lock()
	if s.detaching {
		s.leftover = append([]byte(nil), s.hdr[:]...)
		s.mu.Unlock()
		return errStopReader
	}
	s.inBody = true
	s.mu.Unlock()
	s.pre.prefix = s.hdr[:]
	err := s.rd.Read(p)
	s.mu.Lock()
	s.inBody = false
	s.mu.Unlock()
	return err
}

// statusSN checks and advances ExpStatSN for a PDU that carries status. Called
// with s.mu held.
func (s *Session) statusSN(op pdu.Opcode, statSN uint32) error {
	if statSN != s.expStatSN {
		return protoErr("%v StatSN %d, expected %d", op, statSN, s.expStatSN)
	}
	s.expStatSN++
	return nil
}

// lenientStatusSN follows StatSN for Reject and Async Message PDUs, noting
// rather than failing on a gap. Called with s.mu held.
func (s *Session) lenientStatusSN(op pdu.Opcode, statSN uint32) {
	if statSN != s.expStatSN {
		s.anomalyLocked("%v StatSN %d, expected %d", op, statSN, s.expStatSN)
	}
	if !snLT(statSN, s.expStatSN) {
		s.expStatSN = statSN + 1
	}
}

// dispatch handles one PDU from the target. A returned error ends the session.
func (s *Session) dispatch(p *pdu.PDU) error {
	h := &p.Header
	op := h.Opcode()
	if len(p.AHS) > 0 {
		return protoErr("%v with %d bytes of AHS", op, len(p.AHS))
	}
	switch op {
	case pdu.OpDataIn:
		var m pdu.DataIn
		m.Decode(h)
		return s.onDataIn(&m, p.Data)
	case pdu.OpSCSIResponse:
		var m pdu.SCSIResponse
		m.Decode(h)
		return s.onSCSIResponse(&m, p.Data)
	case pdu.OpR2T:
		var m pdu.R2T
		m.Decode(h)
		return s.onR2T(&m)
	case pdu.OpNOPIn:
		var m pdu.NOPIn
		m.Decode(h)
		return s.onNOPIn(&m, p.Data)
	case pdu.OpTaskMgmtResp, pdu.OpLogoutResp, pdu.OpTextResp:
		return s.onReply(p)
	case pdu.OpReject:
		var m pdu.Reject
		m.Decode(h)
		return s.onReject(&m, p.Data)
	case pdu.OpAsyncMessage:
		var m pdu.AsyncMessage
		m.Decode(h)
		return s.onAsync(&m, p.Data)
	}
	return protoErr("unexpected %v PDU in full feature phase", op)
}

// lookup returns the task for itt. Called with s.mu held.
func (s *Session) lookup(op pdu.Opcode, itt uint32, kind taskKind) (*Task, error) {
	t := s.tasks[itt]
	if t == nil {
		return nil, nil
	}
	if t.kind != kind {
		return nil, protoErr("%v for ITT %#x, which is a %v task", op, itt, t.kind)
	}
	return t, nil
}

func (s *Session) onDataIn(m *pdu.DataIn, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	if m.HasStatus {
		if !m.Final {
			return protoErr("Data-In ITT %#x with S bit but not F bit", m.ITT)
		}
		if err := s.statusSN(pdu.OpDataIn, m.StatSN); err != nil {
			return err
		}
	}
	t, err := s.lookup(pdu.OpDataIn, m.ITT, kindSCSI)
	if err != nil {
		return err
	}
	if t == nil {
		s.anomalyLocked("Data-In for unknown ITT %#x", m.ITT)
		return nil
	}
	if t.asm == nil {
		return protoErr("Data-In for ITT %#x, a command without read data", m.ITT)
	}
	if err := t.asm.add(m.DataSN, m.BufferOffset, data); err != nil {
		return protoErr("ITT %#x: %v", m.ITT, err)
	}
	if !m.HasStatus {
		return nil
	}
	resp := &Response{Status: m.Status, ResidualOverflow: m.Overflow,
		ResidualUnderflow: m.Underflow, Residual: m.ResidualCount}
	return s.complete(t, resp)
}

// complete finishes a SCSI task with its response. Called with s.mu held.
func (s *Session) complete(t *Task, resp *Response) error {
	if t.asm != nil {
		d, err := t.asm.complete()
		if err != nil {
			return protoErr("ITT %#x: %v", t.itt, err)
		}
		resp.Data = d
	}
	delete(s.tasks, t.itt)
	t.finish(resp, nil)
	return nil
}

func (s *Session) onSCSIResponse(m *pdu.SCSIResponse, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	if err := s.statusSN(pdu.OpSCSIResponse, m.StatSN); err != nil {
		return err
	}
	t, err := s.lookup(pdu.OpSCSIResponse, m.ITT, kindSCSI)
	if err != nil {
		return err
	}
	if t == nil {
		s.anomalyLocked("SCSI Response for unknown ITT %#x", m.ITT)
		return nil
	}
	resp := &Response{Response: m.Response, Status: m.Status,
		ResidualOverflow: m.Overflow, ResidualUnderflow: m.Underflow, Residual: m.ResidualCount,
		BidiResidualOverflow: m.BidiOverflow, BidiResidualUnderflow: m.BidiUnderflow,
		BidiResidual: m.BidiResidualCount, ExpDataSN: m.ExpDataSN}
	sense, rest, err := ParseResponseData(bytes.Clone(data))
	if err != nil {
		return protoErr("SCSI Response ITT %#x: %v", m.ITT, err)
	}
	resp.Sense, resp.ResponseData = sense, rest
	if m.Response == pdu.ResponseCompleted {
		var seen uint32
		if t.asm != nil {
			seen = t.asm.count()
		} else {
			seen = t.r2tSeen
		}
		if m.ExpDataSN != seen {
			s.anomalyLocked("SCSI Response ITT %#x ExpDataSN %d, initiator saw %d Data-In/R2T PDUs", m.ITT, m.ExpDataSN, seen)
		}
	}
	return s.complete(t, resp)
}

func (s *Session) anomalyLocked(format string, a ...any) {
	if len(s.anomalies) < 1000 {
		s.anomalies = append(s.anomalies, fmt.Sprintf(format, a...))
	}
}

func (s *Session) onR2T(m *pdu.R2T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	t, err := s.lookup(pdu.OpR2T, m.ITT, kindSCSI)
	if err != nil {
		return err
	}
	if t == nil {
		s.anomalyLocked("R2T for unknown ITT %#x", m.ITT)
		return nil
	}
	if m.TTT == pdu.ReservedTag {
		return protoErr("R2T for ITT %#x with the reserved TTT", m.ITT)
	}
	if t.asm != nil {
		if err := t.asm.sn("R2TSN", m.R2TSN); err != nil {
			return protoErr("ITT %#x: %v", m.ITT, err)
		}
	} else {
		if m.R2TSN != t.r2tSeen {
			return protoErr("ITT %#x: R2TSN %d, expected %d", m.ITT, m.R2TSN, t.r2tSeen)
		}
		t.r2tSeen++
	}
	total := uint64(len(t.dataOut))
	switch {
	case m.DesiredDataLength == 0:
		return protoErr("R2T for ITT %#x asks for 0 bytes", m.ITT)
	case uint64(m.BufferOffset)+uint64(m.DesiredDataLength) > total:
		return protoErr("R2T for ITT %#x asks for [%d, +%d) of a %d-byte write", m.ITT, m.BufferOffset, m.DesiredDataLength, total)
	case int(m.BufferOffset) < t.unsol:
		return protoErr("R2T for ITT %#x asks for offset %d, within the %d bytes already sent unsolicited", m.ITT, m.BufferOffset, t.unsol)
	case int(m.DesiredDataLength) > s.params.MaxBurstLength:
		return protoErr("R2T for ITT %#x asks for %d bytes, MaxBurstLength is %d", m.ITT, m.DesiredDataLength, s.params.MaxBurstLength)
	}
	t.pushR2T(r2tReq{ttt: m.TTT, offset: int(m.BufferOffset), length: int(m.DesiredDataLength)})
	return nil
}

func (s *Session) onNOPIn(m *pdu.NOPIn, data []byte) error {
	s.mu.Lock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	if m.ITT == pdu.ReservedTag {
		s.mu.Unlock()
		if m.TTT == pdu.ReservedTag {
			return nil // unsolicited, no reply wanted
		}
		// A ping from the target: answer with the TTT echoed (RFC 7143
		// §11.18.3), from a goroutine so the reader never blocks on writes.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.mu.Lock()
			out := pdu.NOPOut{Immediate: true, LUN: m.LUN, ITT: pdu.ReservedTag, TTT: m.TTT,
				CmdSN: s.cmdSN, ExpStatSN: s.expStatSN}
			s.mu.Unlock()
			var h pdu.Header
			out.Encode(&h)
			_ = s.write(&h, nil, nil)
		}()
		return nil
	}
	defer s.mu.Unlock()
	if m.TTT != pdu.ReservedTag {
		return protoErr("NOP-In answering ITT %#x carries TTT %#x", m.ITT, m.TTT)
	}
	if err := s.statusSN(pdu.OpNOPIn, m.StatSN); err != nil {
		return err
	}
	t, err := s.lookup(pdu.OpNOPIn, m.ITT, kindNOP)
	if err != nil {
		return err
	}
	if t == nil {
		s.anomalyLocked("NOP-In for unknown ITT %#x", m.ITT)
		return nil
	}
	delete(s.tasks, t.itt)
	t.finishPDU(m.ITT, data)
	return nil
}

// onReply handles TMF, Logout and Text responses.
func (s *Session) onReply(p *pdu.PDU) error {
	h := &p.Header
	op := h.Opcode()
	kind := map[pdu.Opcode]taskKind{pdu.OpTaskMgmtResp: kindTMF, pdu.OpLogoutResp: kindLogout, pdu.OpTextResp: kindText}[op]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(h.Field32(28), h.Field32(32))
	if err := s.statusSN(op, h.Field32(24)); err != nil {
		return err
	}
	t, err := s.lookup(op, h.ITT(), kind)
	if err != nil {
		return err
	}
	if t == nil {
		s.anomalyLocked("%v for unknown ITT %#x", op, h.ITT())
		return nil
	}
	delete(s.tasks, t.itt)
	if kind == kindTMF {
		var m pdu.TaskMgmtResp
		m.Decode(h)
		if m.Response == pdu.TMFRespComplete {
			s.terminateAffected(t)
		}
	}
	t.finishHeader(h, p.Data)
	if kind == kindLogout && h[2] == pdu.LogoutRespOK {
		return &logoutEnd{reason: t.err}
	}
	return nil
}

// terminateAffected ends the tasks a completed TMF aborted: the target sends
// no responses for them (RFC 7143 §4.2.3.3). Called with s.mu held.
func (s *Session) terminateAffected(tmf *Task) {
	for itt, t := range s.tasks {
		if t.kind != kindSCSI || t.seq > tmf.seq {
			continue
		}
		hit := false
		switch tmf.tmfFn {
		case pdu.TMFAbortTask:
			hit = itt == tmf.refITT
		case pdu.TMFAbortTaskSet, pdu.TMFClearTaskSet, pdu.TMFLogicalUnitReset:
			hit = t.lun == tmf.lun
		case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
			hit = true
		}
		if hit {
			delete(s.tasks, itt)
			t.finish(nil, ErrTaskAborted)
		}
	}
}

func (s *Session) onReject(m *pdu.Reject, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	s.lenientStatusSN(pdu.OpReject, m.StatSN)
	if len(data) < pdu.HeaderLen {
		s.anomalyLocked("Reject (reason 0x%02x) with %d bytes of data, not a header", m.Reason, len(data))
		return nil
	}
	re := &RejectError{Reason: m.Reason}
	copy(re.Header[:], data)
	itt := re.Header.ITT()
	t := s.tasks[itt]
	if t == nil || itt == pdu.ReservedTag {
		s.anomalyLocked("Reject (reason 0x%02x) of %v ITT %#x with no waiting task", m.Reason, re.Header.Opcode(), itt)
		return nil
	}
	delete(s.tasks, itt)
	t.finish(nil, re)
	return nil
}

func (s *Session) onAsync(m *pdu.AsyncMessage, data []byte) error {
	s.mu.Lock()
	s.updateWindow(m.ExpCmdSN, m.MaxCmdSN)
	s.lenientStatusSN(pdu.OpAsyncMessage, m.StatSN)
	s.mu.Unlock()
	ev := AsyncEvent{Event: m.Event, VCode: m.VCode, LUN: m.LUN, Param1: m.Param1, Param2: m.Param2, Param3: m.Param3}
	if m.Event == pdu.AsyncSCSIEvent {
		ev.Sense, _, _ = ParseResponseData(bytes.Clone(data))
	}
	if s.opts.OnAsyncEvent != nil {
		s.opts.OnAsyncEvent(ev)
	}
	switch m.Event {
	case pdu.AsyncLogoutRequest:
		// Log out within Parameter3 seconds (RFC 7143 §11.9.1); new
		// commands are refused meanwhile.
		s.mu.Lock()
		s.logoutReq = true
		s.mu.Unlock()
		wait := time.Duration(m.Param3) * time.Second
		if wait <= 0 {
			wait = 5 * time.Second
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			_ = s.logout(ctx, ErrLogoutRequested)
		}()
	case pdu.AsyncDropConnection, pdu.AsyncDropAllConnections:
		return ErrTargetDropped
	}
	return nil
}
