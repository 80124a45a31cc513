package iscsi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halun/halun/internal/iscsi/login"
	"github.com/halun/halun/internal/iscsi/pdu"
)

var (
	errPingTimeout = errors.New("NOP-In ping timed out")
	errLogout      = errors.New("logged out")
	errNotLogin    = errors.New("PDU other than Login Request during login")
)

// conn is one TCP connection: a login phase, then the full feature phase
// with one reader (this goroutine) and one writer goroutine.
type conn struct {
	srv  *Server
	nc   net.Conn
	tpgt uint16
	// portal is the listener that accepted the connection; s.mu guards
	// reading it together with the listener table.
	portal *portal
	log    *slog.Logger

	sess   *session
	cid    uint16
	params login.Negotiated
	// frameOpts are fixed at the end of login, before the writer starts.
	frameOpts pdu.Options

	out  chan *outItem
	done chan struct{}
	// wmu serialises writers of the socket: the writer goroutine and
	// producers that write directly (send). bw is the batch they share.
	wmu sync.Mutex
	bw  *batchWriter
	// writeDeadline is the socket's write deadline now (c.wmu).
	writeDeadline time.Time
	wg            sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	// statSN is owned by the writer goroutine after login.
	statSN  uint32
	pingTTT uint32

	ffp      atomic.Bool
	lastRecv atomic.Int64
	pingSent atomic.Int64

	// executing counts this connection's tasks inside the SCSI layer;
	// execAvg is their moving average execution time in nanoseconds.
	executing atomic.Int32
	execAvg   atomic.Int64
	// in is the connection's input; lone and inSocket (the bytes
	// waiting in the socket; nil if it is not one) decide when a slow
	// command runs on the reader (lone.go); reader goroutine only.
	in       *connReader
	lone     loneCommands
	inSocket func() (int, bool)
	// flushPending: the reader queued responses in the batch without
	// flushing; it flushes before it next waits for input.
	flushPending bool

	// nextTTT numbers R2Ts; reader goroutine only.
	nextTTT uint32
	// immBuf is a write buffer the reader filled with a SCSI command's
	// immediate data, for startTask to adopt, and immCharge its charge;
	// reader goroutine only.
	immBuf    []byte
	immCharge int64
	// acct is the connection's share of the buffered-data budget;
	// gathering counts its tasks that hold a write buffer and wait for
	// data-out; deferred are tasks waiting, in order, for buffer space:
	// reads before they run, writes before their R2Ts (reader goroutine
	// only). See budget.go.
	acct      bufAccount
	gathering atomic.Int32
	deferred  []*task
	// text is the state of a text exchange; reader goroutine only.
	text textState
	// rejectLogged limits bad-input logging to once per connection.
	rejectLogged bool
}

func newConn(srv *Server, nc net.Conn, tpgt uint16) *conn {
	c := &conn{srv: srv, nc: nc, tpgt: tpgt, out: make(chan *outItem, 256), done: make(chan struct{})}
	// A connection's lines name where it came from and through which
	// portal; its first Login Request adds the ISID, and its session's
	// creation the initiator, TSIH and target (loginEnv.Admit).
	c.log = srv.log.With("remote", nc.RemoteAddr().String(), "portal", nc.LocalAddr().String(), "tpgt", tpgt)
	c.lastRecv.Store(time.Now().UnixNano())
	c.acct = bufAccount{b: srv.budget, limit: srv.cfg.MaxSessionBufferedData}
	return c
}

// close ends the connection once; err nil means an orderly close.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.closeErr = err
		close(c.done)
		c.nc.Close()
	})
}

// inlineOK reports whether a lone command may run on the reader goroutine:
// only while commands have been completing fast (page cache, memory,
// tmpfs). Slow storage needs commands in parallel, so the reader must stay
// free to start the next one.
func (c *conn) inlineOK() bool {
	return !c.srv.cfg.NoInline && c.execAvg.Load() < inlineMaxNanos
}

// inlineMaxNanos is the average execution time up to which a connection's
// lone command runs on the reader goroutine.
const inlineMaxNanos = 50_000

// noteExec folds one execution time into the connection's moving average
// (weight 1/8). Racy updates from concurrent tasks only blur the average.
func (c *conn) noteExec(d time.Duration) {
	old := c.execAvg.Load()
	c.execAvg.Store(old + (int64(d)-old)/8)
}

func (c *conn) windowSNs() (uint32, uint32) {
	if c.sess == nil {
		return 0, 0
	}
	return c.sess.windowSNs()
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.close(nil)
	// Whatever is still charged (responses that were never written) is
	// given back once the session's tasks are done.
	defer c.acct.close()
	in := newConnReader(c.nc)
	c.in = in
	c.inSocket = socketInput(c.nc)
	rd := pdu.NewReader(in)
	ok := c.loginPhase(rd)
	if !ok {
		return
	}
	c.ffp.Store(true)
	c.bw = &batchWriter{b: pdu.NewBatch(32 << 10), conn: c}
	c.bw.b.Opts = c.frameOpts
	rd.Opts = c.frameOpts
	rd.Opts.MaxRecvDataSegmentLength = c.params.TargetMaxRecvDataSegmentLength
	c.wg.Add(1)
	go c.writeLoop()
	err := c.readLoop(rd, in)
	c.close(err)
	c.wg.Wait()
	ss := c.sess
	if ss != nil {
		ss.mu.Lock()
		mine := ss.conn == c
		ss.mu.Unlock()
		if mine {
			// ERL 0: losing the only connection ends the session.
			ss.end(err)
		}
	}
	switch {
	case err == nil, errors.Is(err, errLogout), errors.Is(err, errShutdown):
		c.log.Debug("connection closed", "reason", errString(err))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Info("connection closed by initiator")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Warn("initiator stopped reading its responses; dropping connection",
			"write_timeout", c.srv.cfg.WriteTimeout)
	default:
		c.log.Info("connection dropped", "reason", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}

// loginPhase runs the login exchange; it returns true in full feature phase.
func (c *conn) loginPhase(rd *pdu.Reader) bool {
	deadline := time.Now().Add(c.srv.cfg.LoginTimeout)
	c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	env := &loginEnv{c: c}
	neg := login.New(login.Config{PortalGroupTag: c.tpgt, Env: env, Auth: c.authenticator()})
	wr := pdu.NewWriter(c.nc)
	rd.Opts.MaxRecvDataSegmentLength = 8192 * 8
	rd.Accept = func(h *pdu.Header) error {
		if h.Opcode() != pdu.OpLoginReq {
			return errNotLogin
		}
		return nil
	}
	defer func() { rd.Accept = nil }()
	var p pdu.PDU
	first := true
	for {
		err := rd.ReadHeader(&p)
		if errors.Is(err, errNotLogin) {
			// RFC 7143 §6.1: only Login Requests before full feature
			// phase; the rest of such a PDU is not even read.
			c.log.Warn("PDU before login completed; closing", "opcode", p.Header.Opcode().String())
			return false
		}
		if err == nil {
			err = rd.ReadData(&p, nil)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Info("login aborted", append(loginNames(neg), "err", err)...)
			}
			return false
		}
		var req pdu.LoginReq
		req.Decode(&p.Header)
		if first {
			c.log = c.log.With("isid", isidString(req.ISID))
			c.statSN = req.ExpStatSN
			env.cmdSN = req.CmdSN
			c.cid = req.CID
			first = false
		}
		var resp login.Response
		if len(p.AHS) > 0 {
			// A Login Request has no AHS: TotalAHSLength is 0 in every PDU
			// without one (RFC 7143 §11.2.1.5), and §11.2.2 defines AHS
			// types for SCSI Commands only. That is a format error, which
			// ends the connection (§7.7); the Login Response says why first,
			// with 0200, the status this target gives every other
			// malformed Login Request (0207 names missing text keys).
			resp = neg.RefuseRequest(&req, login.StatusInitiatorError,
				fmt.Sprintf("Login Request with %d bytes of AHS", len(p.AHS)))
		} else {
			resp = neg.Step(&req, p.Data)
		}
		h := resp.Header
		h.StatSN = c.statSN
		c.statSN++
		if c.sess != nil {
			h.ExpCmdSN, h.MaxCmdSN = c.sess.windowSNs()
		} else {
			h.ExpCmdSN, h.MaxCmdSN = req.CmdSN, req.CmdSN
		}
		var hdr pdu.Header
		h.Encode(&hdr)
		if resp.Failed {
			// Counted before the refusal is sent, so whoever reads the
			// refusal finds it counted: the login is refused whether or
			// not the response reaches the initiator.
			c.srv.events.loginFailed(h.StatusClass, h.StatusDetail)
			c.log.Info("login refused", append(loginNames(neg), "status", fmt.Sprintf("%02x%02x", h.StatusClass, h.StatusDetail),
				"reason", resp.Reason)...)
			_ = wr.Write(&hdr, nil, resp.Data)
			return false
		}
		if err := wr.Write(&hdr, nil, resp.Data); err != nil {
			return false
		}
		if resp.Done {
			r := neg.Result()
			c.params = r.Params
			c.frameOpts = pdu.Options{HeaderDigest: r.Params.HeaderDigest, DataDigest: r.Params.DataDigest}
			// c.log gained the session's fields in Admit.
			c.srv.events.login(r.TargetName, c.sess.discovery)
			c.log.Info("login complete", "session_type", sessionTypeName(c.sess.discovery),
				"header_digest", r.Params.HeaderDigest, "data_digest", r.Params.DataDigest)
			return true
		}
	}
}

// isidString is an ISID as logs show it: 12 hex digits.
func isidString(isid pdu.ISID) string { return fmt.Sprintf("%x", isid[:]) }

// loginNames are the initiator and target names a login not yet admitted
// has declared, as log attributes.
func loginNames(neg *login.Negotiator) []any {
	var out []any
	ini, tgt := neg.Names()
	if ini != "" {
		out = append(out, "initiator", ini)
	}
	if tgt != "" {
		out = append(out, "target", tgt)
	}
	return out
}

func sessionTypeName(discovery bool) string {
	if discovery {
		return "discovery"
	}
	return "normal"
}

// loginEnv connects the pure negotiator with the server's targets and
// session table.
type loginEnv struct {
	c     *conn
	cmdSN uint32
}

func (e *loginEnv) LookupTarget(name string, tpgt uint16) (login.TargetInfo, bool) {
	t, ok := e.c.srv.lookupTarget(name, tpgt)
	if !ok {
		return login.TargetInfo{}, false
	}
	return login.TargetInfo{Name: t.Name, Alias: t.Alias, PortalGroups: t.PortalGroups, Params: t.Settings}, true
}

// Admit creates the session (reinstating any session of the same I_T nexus)
// or refuses a connection for an existing session, which halun does not
// support beyond MaxConnections=1.
func (e *loginEnv) Admit(r *login.Result) (uint16, uint8, uint8) {
	c, srv := e.c, e.c.srv
	key := sessionKey{initiator: r.InitiatorName, isid: r.ISID, target: r.TargetName, tpgt: c.tpgt}
	if r.TSIH != 0 {
		srv.mu.Lock()
		old, ok := srv.byTSIH[r.TSIH]
		srv.mu.Unlock()
		if !ok || old.key != key {
			return 0, login.ClassInitiatorError, login.DetailSessionDoesNotExist
		}
		// Connection reinstatement of the session's only connection: at
		// ERL 0 this ends the session (RFC 7143 §6.3.4); the initiator then
		// logs in anew.
		old.end(errors.New("connection reinstated"))
		return 0, login.ClassInitiatorError, login.DetailSessionDoesNotExist
	}
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		return 0, login.ClassTargetError, login.DetailServiceUnavailable
	}
	old := srv.sessions[key]
	srv.mu.Unlock()
	if old != nil {
		// Session reinstatement (RFC 7143 §6.3.5): the old session's tasks
		// are aborted and its connection closed before the new one starts.
		c.log.Info("reinstating session", "initiator", r.InitiatorName, "old_tsih", old.tsih)
		old.end(errors.New("session reinstated"))
	}
	ss := newSession(srv, key, r, e.cmdSN)
	if t := srv.targetByName(r.TargetName); t != nil && !ss.discovery {
		ss.target = t
	}
	ss.conn = c
	srv.mu.Lock()
	// Shutdown may have begun since the check above: a session it has not
	// seen must not start.
	if other := srv.sessions[key]; other != nil || srv.closing {
		srv.mu.Unlock()
		return 0, login.ClassTargetError, login.DetailServiceUnavailable
	}
	ss.tsih = srv.allocTSIH()
	// The session's logger, and its connection's from here on: every
	// line about either names the I_T nexus (initiator, ISID, target)
	// and the TSIH. Set before the session is visible to other
	// goroutines (shutdown, admin), which log with it.
	attrs := []any{"initiator", r.InitiatorName, "tsih", ss.tsih}
	if !ss.discovery {
		attrs = append(attrs, "target", r.TargetName)
	}
	ss.log = c.log.With(attrs...)
	c.log = ss.log
	srv.sessions[key] = ss
	srv.byTSIH[ss.tsih] = ss
	srv.mu.Unlock()
	c.sess = ss
	return ss.tsih, 0, 0
}
