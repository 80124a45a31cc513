package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halun/halun/internal/cluster/pki"
)

// countingConn counts the reads and writes that reach the socket.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A 1 MiB frame over ClientTLS leaves in a few socket writes (the buffer
// beneath TLS), not one per 16 KiB record, and arrives whole.
func TestClientTLSBatchesRecords(t *testing.T) {
	ida, idb := twoStorageNodes(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", idb.ServerTLS(pki.RequireRole(pki.RoleStorage)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 1 << 20
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		var f frame
		p, err := readFrame(bufio.NewReader(c), &f, nil)
		if err != nil {
			got <- nil
			return
		}
		got <- p
		io.Copy(io.Discard, c)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw}
	conn, err := ClientTLS(context.Background(), cc, ida.ClientTLS("b", pki.RequireRole(pki.RoleStorage)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fw := &frameWriter{w: bufio.NewWriterSize(conn, 256<<10), under: conn.(flusher)}
	before := cc.writes.Load()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	f := &frame{typ: msgWrite, payload: payload}
	if err := fw.write(appendHeader(nil, f), payload); err != nil {
		t.Fatal(err)
	}
	if n := cc.writes.Load() - before; n > 8 {
		t.Errorf("1 MiB took %d socket writes, want it batched (at most 8; one per TLS record would be 64)", n)
	}
	var p []byte
	select {
	case p = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the frame never arrived: the buffer beneath TLS was not flushed")
	}
	if len(p) != size || p[size-1] != payload[size-1] {
		t.Errorf("the frame arrived with %d bytes", len(p))
	}
}

// A 1 MiB frame that has arrived is read from the socket in a few large
// reads beneath TLS (ServerTLS), not some 40 (crypto/tls reads about a
// record at a time), and
// arrives whole.
func TestServerTLSBuffersReads(t *testing.T) {
	ida, idb := twoStorageNodes(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 1 << 20
	sent := make(chan struct{})
	type result struct {
		p     []byte
		reads int64
		err   error
	}
	got := make(chan result, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		raw.(*net.TCPConn).SetReadBuffer(8 << 20) // the whole frame fits while nobody reads
		cr := &countingConn{Conn: raw}
		c := ServerTLS(cr, idb.ServerTLS(pki.RequireRole(pki.RoleStorage)))
		defer c.Close()
		if err := c.(*tls.Conn).Handshake(); err != nil {
			got <- result{err: err}
			return
		}
		<-sent
		before := cr.reads.Load()
		var f frame
		p, err := readFrame(bufio.NewReaderSize(c, 64<<10), &f, nil)
		got <- result{p, cr.reads.Load() - before, err}
		io.Copy(io.Discard, c)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw.(*net.TCPConn).SetWriteBuffer(8 << 20)
	conn, err := ClientTLS(context.Background(), raw, ida.ClientTLS("b", pki.RequireRole(pki.RoleStorage)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fw := &frameWriter{w: bufio.NewWriterSize(conn, 256<<10), under: conn.(flusher)}
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 11)
	}
	f := &frame{typ: msgWrite, payload: payload}
	if err := fw.write(appendHeader(nil, f), payload); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let loopback deliver it all
	close(sent)
	var r result
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the frame never arrived")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.reads > 16 {
		t.Errorf("1 MiB took %d socket reads, want them buffered (at most 16; unbuffered it takes about 40)", r.reads)
	}
	if len(r.p) != size || r.p[size-1] != payload[size-1] || r.p[size/2] != payload[size/2] {
		t.Errorf("the frame arrived with %d bytes, or changed", len(r.p))
	}
}
