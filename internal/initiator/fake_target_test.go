package initiator

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halun/halun/internal/iscsi/pdu"
)

// fakeTarget is a minimal scripted iSCSI target for the session tests: it
// logs initiators in, serves a RAM disk through READ(16)/WRITE(16) with
// Data-In, R2T and Data-Out, answers NOP, TMF, Text and Logout, and records
// every protocol rule the initiator breaks.
type fakeTarget struct {
	t   testing.TB
	ln  net.Listener
	cfg fakeConfig

	mu         sync.Mutex
	disk       []byte
	violations []string
	conns      []*fakeConn
	wg         sync.WaitGroup
}

type fakeConfig struct {
	maxRecv       int    // declared MaxRecvDataSegmentLength (0: none, so 8192)
	window        uint32 // MaxCmdSN - ExpCmdSN + 1 (0: 32)
	dataInSeg     int    // largest Data-In segment (0: 4096), capped by the initiator's MRDSL
	statusSep     bool   // status in a SCSI Response instead of the final Data-In
	holdWrites    bool   // send no R2Ts: writes wait for data forever
	r2tLen        int    // R2T DesiredDataLength (0: MaxBurstLength)
	refuse        bool   // refuse logins with class 2 detail 3
	rejectOpcode  byte   // CDB opcode answered with a Reject
	badDataSN     bool   // number Data-In from 1
	blocks        int    // disk size in 512-byte blocks (0: 4096)
	offerMaxBurst string // MaxBurstLength answered (empty: echo)
}

func newFakeTarget(t testing.TB, cfg fakeConfig) *fakeTarget {
	if cfg.window == 0 {
		cfg.window = 32
	}
	if cfg.dataInSeg == 0 {
		cfg.dataInSeg = 4096
	}
	if cfg.blocks == 0 {
		cfg.blocks = 4096
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTarget{t: t, ln: ln, cfg: cfg, disk: make([]byte, cfg.blocks*512)}
	ft.wg.Add(1)
	go ft.accept()
	t.Cleanup(ft.close)
	return ft
}

func (ft *fakeTarget) addr() string { return ft.ln.Addr().String() }

func (ft *fakeTarget) close() {
	ft.ln.Close()
	ft.mu.Lock()
	for _, c := range ft.conns {
		c.c.Close()
	}
	ft.mu.Unlock()
	ft.wg.Wait()
	for _, v := range ft.violations {
		ft.t.Errorf("initiator broke a rule: %s", v)
	}
}

func (ft *fakeTarget) violation(format string, a ...any) {
	ft.mu.Lock()
	ft.violations = append(ft.violations, fmt.Sprintf(format, a...))
	ft.mu.Unlock()
}

// conn returns the i-th accepted connection once it is logged in.
func (ft *fakeTarget) conn(i int) *fakeConn {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ft.mu.Lock()
		var fc *fakeConn
		if i < len(ft.conns) {
			fc = ft.conns[i]
		}
		ft.mu.Unlock()
		if fc != nil {
			select {
			case <-fc.loggedIn:
				return fc
			case <-time.After(5 * time.Second):
			}
		}
	}
	ft.t.Fatalf("no logged-in connection %d", i)
	return nil
}

func (ft *fakeTarget) accept() {
	defer ft.wg.Done()
	for {
		c, err := ft.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{ft: ft, c: c, r: pdu.NewReader(c), w: pdu.NewWriter(c),
			writes: map[uint32]*fakeWrite{}, pongs: make(chan uint32, 16), logouts: make(chan struct{}, 1),
			loggedIn: make(chan struct{})}
		ft.mu.Lock()
		ft.conns = append(ft.conns, fc)
		ft.mu.Unlock()
		ft.wg.Add(1)
		go func() {
			defer ft.wg.Done()
			defer c.Close()
			fc.serve()
		}()
	}
}

type fakeConn struct {
	ft *fakeTarget
	c  net.Conn
	r  *pdu.Reader

	wmu sync.Mutex
	w   *pdu.Writer

	mu                     sync.Mutex
	statSN                 uint32
	expCmdSN               uint32
	immediate, initialR2T  bool
	fbl, mbl, maxR2T       int
	initiatorMRDSL         int
	writes                 map[uint32]*fakeWrite
	nextTTT                uint32
	pongs                  chan uint32
	logouts                chan struct{}
	loggedIn               chan struct{}
	discovery              bool
	initiatorName, session string
}

type fakeWrite struct {
	itt         uint32
	lun         uint64
	lba         uint64
	buf         []byte
	got         int
	unsolicited int // bytes expected before R2Ts
	nextUnsolSN uint32
	r2tSN       uint32
	next        int // next offset to solicit
	outstanding map[uint32]*fakeR2T
}

type fakeR2T struct {
	off, end, pos int
	sn            uint32
}

func (fc *fakeConn) send(h *pdu.Header, data []byte) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	_ = fc.w.Write(h, nil, data)
}

// stamp fills StatSN (advancing it when status is set), ExpCmdSN, MaxCmdSN.
func (fc *fakeConn) stamp(h *pdu.Header, status bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	binary.BigEndian.PutUint32(h[24:], fc.statSN)
	if status {
		fc.statSN++
	}
	binary.BigEndian.PutUint32(h[28:], fc.expCmdSN)
	binary.BigEndian.PutUint32(h[32:], fc.expCmdSN+fc.ft.cfg.window-1)
}

func (fc *fakeConn) serve() {
	if !fc.login() {
		return
	}
	close(fc.loggedIn)
	for {
		var p pdu.PDU
		if err := fc.r.Read(&p); err != nil {
			if err != io.EOF && !isClosed(err) {
				fc.ft.violation("reading: %v", err)
			}
			return
		}
		if !fc.handle(&p) {
			return
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset")
}

func (fc *fakeConn) login() bool {
	fc.statSN = 1000
	fc.initiatorMRDSL = 8192
	fc.r.Opts.MaxRecvDataSegmentLength = 8192
	var digestH, digestD bool
	for {
		var p pdu.PDU
		if err := fc.r.Read(&p); err != nil {
			return false
		}
		if p.Header.Opcode() != pdu.OpLoginReq {
			fc.ft.violation("%v during login", p.Header.Opcode())
			return false
		}
		var req pdu.LoginReq
		req.Decode(&p.Header)
		kv, err := pdu.ParseText(p.Data)
		if err != nil {
			fc.ft.violation("login text: %v", err)
			return false
		}
		resp := pdu.LoginResp{Transit: req.Transit, CSG: req.CSG, NSG: req.NSG, ISID: req.ISID, ITT: req.ITT,
			StatSN: fc.statSN, ExpCmdSN: req.CmdSN, MaxCmdSN: req.CmdSN + fc.ft.cfg.window - 1}
		fc.statSN++
		fc.expCmdSN = req.CmdSN
		if req.Transit && req.NSG == 3 {
			resp.TSIH = 1
		}
		var out []pdu.KV
		for _, k := range kv {
			switch k.Key {
			case "InitiatorName":
				fc.initiatorName = k.Value
			case "SessionType":
				fc.mu.Lock()
				fc.discovery = k.Value == "Discovery"
				fc.mu.Unlock()
			case "TargetName", "DefaultTime2Wait", "DefaultTime2Retain", "MaxConnections",
				"DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel", "MaxOutstandingR2T",
				"InitialR2T", "ImmediateData", "FirstBurstLength":
				if k.Key != "TargetName" {
					out = append(out, k)
				}
				n, _ := strconv.Atoi(k.Value)
				switch k.Key {
				case "InitialR2T":
					fc.initialR2T = k.Value == "Yes"
				case "ImmediateData":
					fc.immediate = k.Value == "Yes"
				case "FirstBurstLength":
					fc.fbl = n
				case "MaxOutstandingR2T":
					fc.maxR2T = n
				}
			case "MaxBurstLength":
				v := k.Value
				if fc.ft.cfg.offerMaxBurst != "" {
					v = fc.ft.cfg.offerMaxBurst
				}
				fc.mbl, _ = strconv.Atoi(v)
				out = append(out, pdu.KV{Key: k.Key, Value: v})
			case "AuthMethod":
				out = append(out, pdu.KV{Key: k.Key, Value: "None"})
			case "HeaderDigest", "DataDigest":
				v := k.Value
				v, _, _ = strings.Cut(v, ",")
				out = append(out, pdu.KV{Key: k.Key, Value: v})
				if k.Key == "HeaderDigest" {
					digestH = v == "CRC32C"
				} else {
					digestD = v == "CRC32C"
				}
			case "MaxRecvDataSegmentLength":
				fc.initiatorMRDSL, _ = strconv.Atoi(k.Value)
			default:
				out = append(out, pdu.KV{Key: k.Key, Value: "NotUnderstood"})
			}
		}
		if req.CSG == 1 && fc.ft.cfg.maxRecv > 0 {
			out = append(out, pdu.KV{Key: "MaxRecvDataSegmentLength", Value: strconv.Itoa(fc.ft.cfg.maxRecv)})
		}
		if fc.ft.cfg.refuse {
			resp = pdu.LoginResp{ISID: req.ISID, ITT: req.ITT, StatusClass: 2, StatusDetail: 3}
			out = nil
		}
		var h pdu.Header
		resp.Encode(&h)
		if err := fc.w.Write(&h, nil, pdu.AppendText(nil, out)); err != nil || fc.ft.cfg.refuse {
			return false
		}
		if resp.TSIH != 0 {
			if fc.fbl == 0 {
				fc.fbl = DefaultFirstBurstLength
			}
			if fc.mbl == 0 {
				fc.mbl = DefaultMaxBurstLength
			}
			if fc.maxR2T == 0 {
				fc.maxR2T = 1
			}
			max := fc.ft.cfg.maxRecv
			if max == 0 {
				max = 8192
			}
			fc.r.Opts = pdu.Options{HeaderDigest: digestH, DataDigest: digestD, MaxRecvDataSegmentLength: max}
			fc.w.Opts = pdu.Options{HeaderDigest: digestH, DataDigest: digestD}
			return true
		}
	}
}

// checkCmdSN enforces ordering and the window (RFC 7143 §3.2.2.1).
func (fc *fakeConn) checkCmdSN(op pdu.Opcode, cmdSN uint32, immediate bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if cmdSN != fc.expCmdSN {
		fc.ft.violation("%v CmdSN %d, expected %d", op, cmdSN, fc.expCmdSN)
	}
	if !immediate {
		fc.expCmdSN++
	}
}

func (fc *fakeConn) handle(p *pdu.PDU) bool {
	h := &p.Header
	switch h.Opcode() {
	case pdu.OpSCSICommand:
		var m pdu.SCSICommand
		m.Decode(h)
		fc.checkCmdSN(pdu.OpSCSICommand, m.CmdSN, m.Immediate)
		fc.command(&m, p.Data)
	case pdu.OpDataOut:
		var m pdu.DataOut
		m.Decode(h)
		fc.dataOut(&m, p.Data)
	case pdu.OpNOPOut:
		var m pdu.NOPOut
		m.Decode(h)
		if m.ITT == pdu.ReservedTag {
			fc.pongs <- m.TTT
			return true
		}
		fc.checkCmdSN(pdu.OpNOPOut, m.CmdSN, m.Immediate)
		in := pdu.NOPIn{ITT: m.ITT, TTT: pdu.ReservedTag}
		var r pdu.Header
		in.Encode(&r)
		fc.stamp(&r, true)
		fc.send(&r, p.Data)
	case pdu.OpTaskMgmtReq:
		var m pdu.TaskMgmtReq
		m.Decode(h)
		fc.checkCmdSN(pdu.OpTaskMgmtReq, m.CmdSN, m.Immediate)
		resp := pdu.TMFRespComplete
		fc.mu.Lock()
		switch m.Function {
		case pdu.TMFAbortTask:
			if _, ok := fc.writes[m.RTT]; ok {
				delete(fc.writes, m.RTT)
			} else {
				resp = pdu.TMFRespNoTask
			}
		case pdu.TMFLogicalUnitReset, pdu.TMFAbortTaskSet:
			fc.writes = map[uint32]*fakeWrite{}
		default:
			resp = pdu.TMFRespNotSupported
		}
		fc.mu.Unlock()
		out := pdu.TaskMgmtResp{Response: resp, ITT: m.ITT}
		var r pdu.Header
		out.Encode(&r)
		fc.stamp(&r, true)
		fc.send(&r, nil)
	case pdu.OpTextReq:
		var m pdu.TextReq
		m.Decode(h)
		fc.checkCmdSN(pdu.OpTextReq, m.CmdSN, m.Immediate)
		out := pdu.TextResp{Final: true, ITT: m.ITT, TTT: pdu.ReservedTag}
		var r pdu.Header
		out.Encode(&r)
		fc.stamp(&r, true)
		fc.send(&r, pdu.AppendText(nil, []pdu.KV{{Key: "TargetName", Value: "iqn.2026-11.test:fake"},
			{Key: "TargetAddress", Value: fc.ft.addr() + ",1"}}))
	case pdu.OpLogoutReq:
		var m pdu.LogoutReq
		m.Decode(h)
		fc.checkCmdSN(pdu.OpLogoutReq, m.CmdSN, m.Immediate)
		out := pdu.LogoutResp{ITT: m.ITT}
		var r pdu.Header
		out.Encode(&r)
		fc.stamp(&r, true)
		fc.send(&r, nil)
		fc.logouts <- struct{}{}
		return false
	default:
		fc.ft.violation("unexpected %v", h.Opcode())
		return false
	}
	return true
}

func (fc *fakeConn) status(itt uint32, status uint8, sense []byte, expDataSN uint32, underflow uint32) {
	out := pdu.SCSIResponse{ITT: itt, Status: status, ExpDataSN: expDataSN, Underflow: underflow > 0, ResidualCount: underflow}
	var r pdu.Header
	out.Encode(&r)
	fc.stamp(&r, true)
	var data []byte
	if sense != nil {
		data = append([]byte{0, byte(len(sense))}, sense...)
	}
	fc.send(&r, data)
}

func illegalRequest(asc byte) []byte {
	s := make([]byte, 18)
	s[0], s[2], s[7], s[12] = 0x70, 5, 10, asc
	return s
}

func (fc *fakeConn) command(m *pdu.SCSICommand, data []byte) {
	ft := fc.ft
	if m.CDB[0] == ft.cfg.rejectOpcode && ft.cfg.rejectOpcode != 0 {
		rj := pdu.Reject{Reason: pdu.RejectCommandNotSupported}
		var r, orig pdu.Header
		rj.Encode(&r)
		fc.stamp(&r, true)
		m.Encode(&orig)
		fc.send(&r, orig[:])
		return
	}
	switch m.CDB[0] {
	case 0x00:
		fc.status(m.ITT, StatusGood, nil, 0, 0)
	case 0x88:
		lba := binary.BigEndian.Uint64(m.CDB[2:])
		n := int(binary.BigEndian.Uint32(m.CDB[10:])) * 512
		if lba*512+uint64(n) > uint64(len(ft.disk)) {
			fc.status(m.ITT, StatusCheckCondition, illegalRequest(0x21), 0, 0)
			return
		}
		if !m.Read || int(m.ExpectedDataTransferLength) != n {
			ft.violation("READ(16) of %d bytes with R=%v EDTL %d", n, m.Read, m.ExpectedDataTransferLength)
		}
		ft.mu.Lock()
		src := append([]byte(nil), ft.disk[lba*512:lba*512+uint64(n)]...)
		ft.mu.Unlock()
		seg := min(ft.cfg.dataInSeg, fc.initiatorMRDSL)
		sn := uint32(0)
		if ft.cfg.badDataSN {
			sn = 1
		}
		for off := 0; off < n; off += seg {
			l := min(seg, n-off)
			last := off+l == n
			di := pdu.DataIn{Final: last, HasStatus: last && !ft.cfg.statusSep, ITT: m.ITT, TTT: pdu.ReservedTag,
				DataSN: sn, BufferOffset: uint32(off)}
			sn++
			var r pdu.Header
			di.Encode(&r)
			fc.stamp(&r, di.HasStatus)
			fc.send(&r, src[off:off+l])
		}
		if ft.cfg.statusSep {
			fc.status(m.ITT, StatusGood, nil, sn, 0)
		}
	case 0x8a:
		lba := binary.BigEndian.Uint64(m.CDB[2:])
		n := int(binary.BigEndian.Uint32(m.CDB[10:])) * 512
		if !m.Write || int(m.ExpectedDataTransferLength) != n || lba*512+uint64(n) > uint64(len(ft.disk)) {
			ft.violation("WRITE(16) of %d bytes at %d with W=%v EDTL %d", n, lba, m.Write, m.ExpectedDataTransferLength)
			return
		}
		fc.mu.Lock()
		w := &fakeWrite{itt: m.ITT, lba: lba, buf: make([]byte, n), outstanding: map[uint32]*fakeR2T{}}
		if len(data) > 0 && !fc.immediate {
			ft.violation("immediate data with ImmediateData=No")
		}
		if len(data) > fc.fbl || len(data) > fc.r.Opts.MaxRecvDataSegmentLength {
			ft.violation("immediate data of %d bytes", len(data))
		}
		copy(w.buf, data)
		w.got = len(data)
		w.unsolicited = len(data)
		if !fc.initialR2T {
			w.unsolicited = min(n, fc.fbl)
		}
		if m.Final != (w.unsolicited == len(data)) {
			ft.violation("WRITE F bit %v with %d immediate of %d unsolicited bytes", m.Final, len(data), w.unsolicited)
		}
		w.next = w.unsolicited
		fc.writes[m.ITT] = w
		fc.mu.Unlock()
		fc.progress(w)
	default:
		fc.status(m.ITT, StatusCheckCondition, illegalRequest(0x20), 0, 0)
	}
}

// progress sends R2Ts while allowed, or the status once all data is in.
func (fc *fakeConn) progress(w *fakeWrite) {
	fc.mu.Lock()
	if fc.writes[w.itt] != w {
		fc.mu.Unlock()
		return
	}
	if w.got == len(w.buf) {
		delete(fc.writes, w.itt)
		fc.mu.Unlock()
		fc.ft.mu.Lock()
		copy(fc.ft.disk[w.lba*512:], w.buf)
		fc.ft.mu.Unlock()
		fc.status(w.itt, StatusGood, nil, w.r2tSN, 0)
		return
	}
	if w.got < w.unsolicited || fc.ft.cfg.holdWrites {
		fc.mu.Unlock()
		return
	}
	var r2ts []pdu.R2T
	for len(w.outstanding) < fc.maxR2T && w.next < len(w.buf) {
		l := fc.mbl
		if fc.ft.cfg.r2tLen > 0 {
			l = min(l, fc.ft.cfg.r2tLen)
		}
		l = min(l, len(w.buf)-w.next)
		fc.nextTTT++
		w.outstanding[fc.nextTTT] = &fakeR2T{off: w.next, end: w.next + l, pos: w.next}
		r2ts = append(r2ts, pdu.R2T{ITT: w.itt, TTT: fc.nextTTT, R2TSN: w.r2tSN, BufferOffset: uint32(w.next), DesiredDataLength: uint32(l)})
		w.r2tSN++
		w.next += l
	}
	fc.mu.Unlock()
	for _, m := range r2ts {
		var r pdu.Header
		m.Encode(&r)
		fc.stamp(&r, false)
		fc.send(&r, nil)
	}
}

func (fc *fakeConn) dataOut(m *pdu.DataOut, data []byte) {
	fc.mu.Lock()
	w := fc.writes[m.ITT]
	if w == nil {
		fc.mu.Unlock()
		return // aborted
	}
	v := fc.ft.violation
	if len(data) == 0 || len(data) > fc.r.Opts.MaxRecvDataSegmentLength {
		v("Data-Out of %d bytes", len(data))
	}
	off := int(m.BufferOffset)
	if m.TTT == pdu.ReservedTag {
		if off != w.got || off+len(data) > w.unsolicited || m.DataSN != w.nextUnsolSN {
			v("unsolicited Data-Out at %d+%d DataSN %d (have %d of %d unsolicited, want DataSN %d)",
				off, len(data), m.DataSN, w.got, w.unsolicited, w.nextUnsolSN)
		}
		w.nextUnsolSN++
		if m.Final != (off+len(data) == w.unsolicited) {
			v("unsolicited Data-Out F=%v at %d+%d of %d", m.Final, off, len(data), w.unsolicited)
		}
	} else {
		r := w.outstanding[m.TTT]
		if r == nil || off != r.pos || off+len(data) > r.end || m.DataSN != r.sn {
			v("Data-Out TTT %#x at %d+%d DataSN %d does not fit its R2T %+v", m.TTT, off, len(data), m.DataSN, r)
			fc.mu.Unlock()
			fc.c.Close() // fail fast
			return
		}
		r.pos += len(data)
		r.sn++
		if m.Final != (r.pos == r.end) {
			v("Data-Out F=%v at %d of R2T [%d, %d)", m.Final, r.pos, r.off, r.end)
		}
		if r.pos == r.end {
			delete(w.outstanding, m.TTT)
		}
	}
	if off+len(data) <= len(w.buf) {
		copy(w.buf[off:], data)
		w.got += len(data)
	}
	fc.mu.Unlock()
	fc.progress(w)
}

func (fc *fakeConn) isDiscovery() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.discovery
}

// injectPing sends a NOP-In with a TTT that the initiator must echo.
func (fc *fakeConn) injectPing(ttt uint32) {
	in := pdu.NOPIn{ITT: pdu.ReservedTag, TTT: ttt, LUN: EncodeLUN(1)}
	var r pdu.Header
	in.Encode(&r)
	fc.stamp(&r, false)
	fc.send(&r, nil)
}

// injectAsync sends an Asynchronous Message.
func (fc *fakeConn) injectAsync(event uint8) {
	m := pdu.AsyncMessage{Event: event, Param3: 2}
	var r pdu.Header
	m.Encode(&r)
	fc.stamp(&r, true)
	fc.send(&r, nil)
}
