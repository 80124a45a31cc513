package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
)

// ClientTLS runs the TLS client handshake over raw and returns the
// connection with a write buffer beneath TLS. crypto/tls writes each
// record — at most 16 KiB — with its own system call, so a 1 MiB write
// took 64; beneath the buffer a batch of frames leaves in a few large
// writes when the connection is flushed (frameWriter does, after each
// batch). The handshake itself is not buffered. raw is closed if the
// handshake fails.
func ClientTLS(ctx context.Context, raw net.Conn, cfg *tls.Config) (net.Conn, error) {
	u := &underBuffer{Conn: raw, w: bufio.NewWriterSize(raw, 256<<10)}
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

// underBuffer is the connection TLS writes to: unbuffered until on (the
// handshake waits for its answers), then buffered until flush.
type underBuffer struct {
	net.Conn
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
