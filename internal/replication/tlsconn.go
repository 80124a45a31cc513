package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
)

// underBufferSize is the size of the buffers beneath TLS.
const underBufferSize = 256 << 10

// ClientTLS runs the TLS client handshake over raw and returns the
// connection with buffers beneath TLS. crypto/tls writes each record —
// at most 16 KiB — with its own system call, so a 1 MiB write took 64;
// beneath the write buffer a batch of frames leaves in a few large
// writes when the connection is flushed (frameWriter does, after each
// batch). The handshake's writes are not buffered. Reads go through a
// buffer as on a server's side (ServerTLS). raw is closed if the
// handshake fails.
func ClientTLS(ctx context.Context, raw net.Conn, cfg *tls.Config) (net.Conn, error) {
	u := &underBuffer{readBuffer: newReadBuffer(raw), w: bufio.NewWriterSize(raw, underBufferSize)}
	tc := tls.Client(u, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", raw.RemoteAddr(), err)
	}
	u.mu.Lock()
	u.on = true
	u.mu.Unlock()
	return &bufferedTLS{Conn: tc, under: u}, nil
}

// bufferedTLS is a TLS connection whose records collect in a buffer until
// Flush.
type bufferedTLS struct {
	*tls.Conn
	under *underBuffer
}

// Flush sends the records written since the last Flush.
func (b *bufferedTLS) Flush() error { return b.under.flush() }

// underBuffer is the connection TLS reads from and writes to: reads
// buffered; writes unbuffered until on (the handshake waits for its
// answers), then buffered until flush.
type underBuffer struct {
	readBuffer
	mu sync.Mutex // TLS may write from a Read (a key update) too
	w  *bufio.Writer
	on bool
}

func (u *underBuffer) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.on {
		return u.Conn.Write(p)
	}
	return u.w.Write(p)
}

func (u *underBuffer) flush() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.w.Flush()
}

// flusher is a connection that buffers beneath and must be flushed.
type flusher interface{ Flush() error }

// ServerTLS returns the server side of a TLS connection over raw, with a
// read buffer beneath TLS. crypto/tls reads the socket about one record
// at a time, so a replica took some 32 read system calls (and as many
// waits in the poller) per MiB received; beneath the buffer one read
// takes whatever has arrived, up to 256 KiB. A buffered reader reads its
// source at most once per call, so a read never waits for more than the
// socket holds: the handshake is unaffected.
func ServerTLS(raw net.Conn, cfg *tls.Config) net.Conn {
	return tls.Server(newReadBuffer(raw), cfg)
}

// readBuffer is a connection whose reads go through a buffer.
type readBuffer struct {
	net.Conn
	r *bufio.Reader
}

func newReadBuffer(raw net.Conn) readBuffer {
	return readBuffer{Conn: raw, r: bufio.NewReaderSize(raw, underBufferSize)}
}

func (c readBuffer) Read(p []byte) (int, error) { return c.r.Read(p) }

// Listen listens on the TCP address addr and returns each connection it
// accepts as ServerTLS does.
func Listen(addr string, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tlsListener{Listener: ln, cfg: cfg}, nil
}

type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return ServerTLS(c, l.cfg), nil
}
