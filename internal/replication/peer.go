package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// reply is a replica's answer to one request.
type reply struct {
	status uint64
	epoch  uint64
	msg    string
	err    error // the connection failed before the reply
}

// peer is the primary's connection to one replica of a volume.
type peer struct {
	name string
	conn net.Conn

	out frameWriter // requests; a burst of them shares one flush

	// in reads the replies, by the goroutine holding the read turn only.
	in *bufio.Reader
	// turn holds the right to read replies while no goroutine reads
	// them. There is no reader goroutine: a request waiting for its
	// answer takes the turn, reads answers, hands each to its request
	// and gives the turn back once its own came (call.wait).
	turn chan struct{}

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]pendingRequest
	broken  error // set once the connection failed
	done    chan struct{}
}

// pendingRequest is a request sent and not yet answered.
type pendingRequest struct {
	ch   chan reply
	sent time.Time
}

// hello is what a replica answers a primary's hello with.
type hello struct {
	size int64
	gen  Generation
}

// dialPeer connects to a replica and says hello for volume at epoch. It
// returns the replica's volume size and its copy's generation. A write
// to the connection that blocks longer than timeout fails it: a replica
// that stops reading (frozen, its disk hung) fills the socket, and a
// request blocked there has no reply timer running yet.
func dialPeer(ctx context.Context, name string, dial func(context.Context) (net.Conn, error), volume string, epoch uint64, timeout time.Duration) (*peer, hello, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, hello{}, fmt.Errorf("replica %s: dial: %w", name, err)
	}
	p := &peer{name: name, conn: conn, out: frameWriter{w: conn}, turn: make(chan struct{}, 1),
		pending: map[uint64]pendingRequest{}, done: make(chan struct{})}
	if f, ok := conn.(flusher); ok {
		p.out.under = f
	}
	fail := func(err error) (*peer, hello, error) {
		conn.Close()
		return nil, hello{}, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	hf := &frame{typ: msgHello, seq: 0, epoch: epoch, payload: []byte(volume)}
	if err := p.out.write(appendHeader(nil, hf), hf.payload); err != nil {
		return fail(fmt.Errorf("replica %s: hello: %w", name, err))
	}
	var f frame
	if _, err := readFrame(br, &f, nil); err != nil {
		return fail(fmt.Errorf("replica %s: hello reply: %w", name, err))
	}
	if f.typ != msgReply {
		return fail(fmt.Errorf("replica %s: %w: hello answered with type %d", name, errProtocol, f.typ))
	}
	if f.offset != statusOK {
		return fail(statusError(name, f.offset, string(f.payload)))
	}
	size, gen, err := parseHelloReply(f.payload)
	if err != nil {
		return fail(fmt.Errorf("replica %s: %w", name, err))
	}
	conn.SetDeadline(time.Time{})
	if timeout > 0 {
		p.out.arm = func() { conn.SetWriteDeadline(time.Now().Add(timeout)) }
		go p.watch(timeout)
	}
	p.in = br
	p.turn <- struct{}{}
	return p, hello{size: size, gen: gen}, nil
}

// call is a request sent to a replica, its answer to come.
type call struct {
	p  *peer
	ch chan reply
}

// wait returns the request's answer: the replica's, or the connection's
// failure. A request waiting alone reads its answer from the connection
// itself, so a lone write's answer wakes the goroutine that needs it
// directly, with no hand-over from a reader goroutine (on a virtual
// machine, waking a goroutine on another thread costs a system call of
// some 20 µs, a good share of a replicated write's round trip). While
// one waiting request reads, the others wait for their answer or for
// the turn, whichever comes first.
func (c call) wait() reply {
	select {
	case r := <-c.ch:
		return r
	case <-c.p.turn:
	}
	r := c.p.readUntil(c.ch)
	c.p.turn <- struct{}{}
	return r
}

// readUntil reads replies and hands each to its request until ch has
// its own. A connection that fails is failed, which answers every
// request waiting (ch's too).
func (p *peer) readUntil(ch chan reply) reply {
	var f frame
	for {
		select {
		case r := <-ch:
			return r
		default:
		}
		if _, err := readFrame(p.in, &f, nil); err != nil {
			p.fail(fmt.Errorf("replica %s: connection: %w", p.name, err))
			return <-ch
		}
		if f.typ != msgReply {
			p.fail(fmt.Errorf("replica %s: %w: type %d from a replica", p.name, errProtocol, f.typ))
			return <-ch
		}
		p.mu.Lock()
		pr, ok := p.pending[f.seq]
		delete(p.pending, f.seq)
		p.mu.Unlock()
		if ok {
			pr.ch <- reply{status: f.offset, epoch: f.epoch, msg: string(f.payload)}
		}
	}
}

// fail marks the connection broken, closes it and fails every pending
// request.
func (p *peer) fail(err error) {
	p.mu.Lock()
	if p.broken != nil {
		p.mu.Unlock()
		return
	}
	p.broken = err
	pending := p.pending
	p.pending = map[uint64]pendingRequest{}
	close(p.done)
	p.mu.Unlock()
	p.conn.Close()
	for _, pr := range pending {
		pr.ch <- reply{err: err}
	}
}

// watchDivisor: the watchdog looks this many times per replica timeout.
const watchDivisor = 8

// watch fails the connection once a request has waited longer than
// timeout for its answer (seen within an eighth of the timeout): every
// waiting request then gets the failure, and the replica leaves the
// in-sync set (Store.await). One watchdog per connection costs less than
// a timer per request.
func (p *peer) watch(timeout time.Duration) {
	t := time.NewTicker(timeout / watchDivisor)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		now := time.Now()
		late := false
		p.mu.Lock()
		for _, pr := range p.pending {
			if now.Sub(pr.sent) > timeout {
				late = true
				break
			}
		}
		p.mu.Unlock()
		if late {
			p.fail(fmt.Errorf("replica %s: no answer within %v", p.name, timeout))
			return
		}
	}
}

// send sends a request; its answer is the call's to wait for. Every
// call is waited for: the answers are read only by waiting calls.
func (p *peer) send(f *frame) call {
	ch := make(chan reply, 1)
	c := call{p: p, ch: ch}
	p.mu.Lock()
	if p.broken != nil {
		err := p.broken
		p.mu.Unlock()
		ch <- reply{err: err}
		return c
	}
	p.seq++
	f.seq = p.seq
	p.pending[f.seq] = pendingRequest{ch: ch, sent: time.Now()}
	// Alone: no other request awaits an answer, so none is in flight
	// and no burst is under way for this one to wait for.
	alone := len(p.pending) == 1
	p.mu.Unlock()
	p.write(f, alone)
	return c
}

// write writes f (alone: see frameWriter.writeNow); a failure fails the
// connection.
func (p *peer) write(f *frame, alone bool) {
	var h [headerLen]byte
	var err error
	if alone {
		err = p.out.writeNow(appendHeader(h[:0], f), f.payload)
	} else {
		err = p.out.write(appendHeader(h[:0], f), f.payload)
	}
	if err != nil {
		p.fail(fmt.Errorf("replica %s: send: %w", p.name, err))
	}
}

// notify sends a message that has no reply (msgActivity). A failure
// fails the connection, and with it the requests that follow.
func (p *peer) notify(f *frame) {
	p.mu.Lock()
	broken := p.broken != nil
	p.mu.Unlock()
	if broken {
		return
	}
	p.write(f, false)
}

func (p *peer) close() { p.fail(errors.New("closed")) }

// statusError turns a replica's status into an error of the kind the
// SCSI layer maps (see Store).
func statusError(name string, status uint64, msg string) error {
	var kind error
	switch status {
	case statusStaleEpoch:
		kind = errStale
	case statusNoSpace:
		kind = errReplicaNoSpace
	case statusRange:
		kind = errReplicaRange
	case statusNoVolume:
		kind = errNoVolume
	default:
		kind = errReplicaIO
	}
	return fmt.Errorf("replica %s: %w: %s", name, kind, msg)
}

var (
	errStale          = errors.New("stale epoch")
	errReplicaNoSpace = errors.New("no space")
	errReplicaRange   = errors.New("out of range")
	errNoVolume       = errors.New("no such volume")
	errReplicaIO      = errors.New("I/O error")
)
