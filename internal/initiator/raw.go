package initiator

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// RawConn speaks PDUs on a connection with no session logic, for tests that
// send malformed or out-of-order input. It tracks sequence numbers from the
// PDUs it reads so that tests can build plausible ones: after each ReadPDU,
// ExpStatSN is one past the StatSN of a status-bearing PDU, and ExpCmdSN and
// MaxCmdSN follow the target. CmdSN and NextITT are the test's to advance.
type RawConn struct {
	conn net.Conn
	pre  prefixReader
	r    *pdu.Reader
	wmu  sync.Mutex
	w    *pdu.Writer

	CmdSN, ExpStatSN   uint32
	ExpCmdSN, MaxCmdSN uint32
	NextITT            uint32
	// Params are the negotiated parameters when the RawConn came from a
	// Session or from Login.
	Params Params
}

func newRawConn(c net.Conn, leftover []byte) *RawConn {
	rc := &RawConn{conn: c, w: pdu.NewWriter(c)}
	rc.pre = prefixReader{prefix: leftover, r: c}
	rc.r = pdu.NewReader(&rc.pre)
	return rc
}

// DialRaw opens a TCP connection to addr for raw PDU exchange before (or
// without) login.
func DialRaw(ctx context.Context, addr string) (*RawConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("initiator: connecting to %s: %w", addr, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return newRawConn(c, nil), nil
}

// Login runs a normal login (discovery when o.TargetName is empty) on the
// raw connection, then switches framing to the negotiated digests and
// limits and sets the sequence numbers for full feature phase.
func (rc *RawConn) Login(ctx context.Context, o Options) (Params, error) {
	isid := o.ISID
	if isid == (pdu.ISID{}) {
		isid = randomISID()
	}
	lc := &loginConn{conn: rc.conn, r: rc.r, w: rc.w}
	saved := rc.r.Opts
	rc.r.Opts.MaxRecvDataSegmentLength = loginMaxData
	undo := deadline(ctx, rc.conn, o.timeout())
	res, err := doLogin(lc, &o, isid, o.TargetName == "")
	undo()
	if err != nil {
		rc.r.Opts = saved
		return Params{}, err
	}
	rc.setParams(res.params)
	rc.CmdSN, rc.ExpStatSN, rc.ExpCmdSN, rc.MaxCmdSN, rc.NextITT = res.cmdSN, res.expStatSN, res.expCmdSN, res.maxCmdSN, res.nextITT
	return res.params, nil
}

func (rc *RawConn) setParams(p Params) {
	rc.Params = p
	rc.r.Opts.HeaderDigest, rc.r.Opts.DataDigest = p.HeaderDigest, p.DataDigest
	rc.r.Opts.MaxRecvDataSegmentLength = p.MaxRecvDataSegmentLength
	rc.w.Opts.HeaderDigest, rc.w.Opts.DataDigest = p.HeaderDigest, p.DataDigest
}

// SetDigests sets the CRC32C digests used in both directions.
func (rc *RawConn) SetDigests(header, data bool) {
	rc.r.Opts.HeaderDigest, rc.r.Opts.DataDigest = header, data
	rc.wmu.Lock()
	rc.w.Opts.HeaderDigest, rc.w.Opts.DataDigest = header, data
	rc.wmu.Unlock()
}

// SetMaxRecvDataSegmentLength bounds incoming data segments (0: no bound).
func (rc *RawConn) SetMaxRecvDataSegmentLength(n int) { rc.r.Opts.MaxRecvDataSegmentLength = n }

// SendPDU sends one PDU with the current digests; the header's AHS and data
// segment lengths are set from ahs and data.
func (rc *RawConn) SendPDU(h *pdu.Header, ahs, data []byte) error {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	return rc.w.Write(h, ahs, data)
}

// SendBytes writes b verbatim, for framing tests.
func (rc *RawConn) SendBytes(b []byte) error {
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	_, err := rc.conn.Write(b)
	return err
}

// ReadPDU reads the next PDU and follows the sequence numbers it carries. It
// is not safe to call concurrently with itself.
func (rc *RawConn) ReadPDU() (*pdu.PDU, error) {
	p := new(pdu.PDU)
	err := rc.r.Read(p)
	if err != nil {
		return p, err
	}
	h := &p.Header
	op := h.Opcode()
	if op == pdu.OpLoginResp || op >= pdu.OpNOPIn && op != pdu.OpR2T && !(op == pdu.OpDataIn && h[1]&1 == 0) {
		exp, max := h.Field32(28), h.Field32(32)
		if !snLT(max, exp-1) {
			rc.ExpCmdSN, rc.MaxCmdSN = exp, max
		}
		status := true
		if op == pdu.OpNOPIn && h.ITT() == pdu.ReservedTag {
			status = false
		}
		if status {
			rc.ExpStatSN = h.Field32(24) + 1
		}
	}
	return p, nil
}

// ReadPDUTimeout is ReadPDU with a read deadline d from now.
func (rc *RawConn) ReadPDUTimeout(d time.Duration) (*pdu.PDU, error) {
	_ = rc.conn.SetReadDeadline(time.Now().Add(d))
	defer rc.conn.SetReadDeadline(time.Time{})
	return rc.ReadPDU()
}

// Conn returns the underlying connection.
func (rc *RawConn) Conn() net.Conn { return rc.conn }

// Close closes the connection.
func (rc *RawConn) Close() error { return rc.conn.Close() }

// Raw stops the session and hands its connection over as a RawConn. The
// reader goroutine is stopped exactly at a PDU boundary: a PDU it had begun
// to read is completed and handled, or, if only part of its header had
// arrived, those bytes are the first the RawConn reads. Outstanding tasks end
// with ErrDetached, the session's goroutines have ended when Raw returns,
// and the session can no longer be used (Close on it is then a no-op; close
// the RawConn instead).
func (s *Session) Raw() (*RawConn, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	s.detaching = true
	if !s.inBody {
		_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
	<-s.readerDone
	_ = s.conn.SetReadDeadline(time.Time{})
	s.fail(ErrDetached)
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != ErrDetached {
		// The reader failed on its own.
		s.conn.Close()
		s.wg.Wait()
		return nil, err
	}
	s.wmu.Lock()
	s.wdead = true
	s.wmu.Unlock()
	s.wg.Wait()
	rc := newRawConn(s.conn, s.leftover)
	rc.setParams(s.params)
	s.mu.Lock()
	rc.CmdSN, rc.ExpStatSN, rc.ExpCmdSN, rc.MaxCmdSN, rc.NextITT = s.cmdSN, s.expStatSN, s.expCmdSN, s.maxCmdSN, s.nextITT
	s.mu.Unlock()
	return rc, nil
}
