package replication

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeReplica answers a primary's hello, then reads n requests and
// answers them in reverse order, each with its own sequence number as
// its message; after that it closes the connection.
func fakeReplica(t *testing.T, conn net.Conn, n int) {
	t.Helper()
	defer conn.Close()
	br := bufio.NewReader(conn)
	var f frame
	if _, err := readFrame(br, &f, nil); err != nil {
		t.Errorf("fake replica: hello: %v", err)
		return
	}
	hr := appendHelloReply(nil, volSize, Generation{})
	if _, err := conn.Write(append(appendHeader(nil, &frame{typ: msgReply, offset: statusOK, payload: hr}), hr...)); err != nil {
		t.Errorf("fake replica: hello reply: %v", err)
		return
	}
	seqs := make([]uint64, 0, n)
	for range n {
		if _, err := readFrame(br, &f, nil); err != nil {
			t.Errorf("fake replica: request: %v", err)
			return
		}
		seqs = append(seqs, f.seq)
	}
	for i := len(seqs) - 1; i >= 0; i-- {
		msg := []byte(fmt.Sprint(seqs[i]))
		if _, err := conn.Write(append(appendHeader(nil, &frame{typ: msgReply, seq: seqs[i], offset: statusIO, payload: msg}), msg...)); err != nil {
			t.Errorf("fake replica: reply: %v", err)
			return
		}
	}
}

// dialFake connects a peer to a fakeReplica answering n requests.
func dialFake(t *testing.T, n int) *peer {
	t.Helper()
	primary, replica := net.Pipe()
	go fakeReplica(t, replica, n)
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, _, err := dialPeer(dctx, "fake", func(context.Context) (net.Conn, error) { return primary, nil }, "vol1", 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// TestPeer_AnswersReachTheirRequests: with no reader goroutine, requests
// waiting at once take turns reading the connection, and every one gets
// its own answer, whatever order the replica answers in; the connection's
// end then answers a request still waiting with its failure.
func TestPeer_AnswersReachTheirRequests(t *testing.T) {
	const n = 16
	p := dialFake(t, n)
	calls := make([]call, n)
	for i := range calls {
		calls[i] = p.send(&frame{typ: msgPing})
	}
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.wait()
			if r.err != nil || r.status != statusIO || r.msg != fmt.Sprint(i+1) {
				t.Errorf("request %d: got status %d msg %q err %v, want its own answer", i+1, r.status, r.msg, r.err)
			}
		}()
	}
	wg.Wait()
	// The fake replica has closed the connection: a request sent now is
	// answered by the failure, read by its own wait.
	r := p.send(&frame{typ: msgPing}).wait()
	if r.err == nil {
		t.Fatalf("a request on a closed connection got %+v, want its failure", r)
	}
	if r2 := p.send(&frame{typ: msgPing}).wait(); r2.err == nil {
		t.Fatalf("a request after the failure got %+v, want the failure", r2)
	}
}

// TestPeer_LoneRequestSendsWithoutYielding: a request sent while none
// awaits an answer has no burst to gather and is sent without a yield
// (which would wake a thread where a processor is idle); one sent while
// another is in flight yields first, so requests that are ready share
// its send.
func TestPeer_LoneRequestSendsWithoutYielding(t *testing.T) {
	p := dialFake(t, 2)
	yields := 0
	p.out.gosched = func() { yields++ }
	first := p.send(&frame{typ: msgPing})
	if yields != 0 {
		t.Errorf("a lone request yielded %d times, want 0", yields)
	}
	second := p.send(&frame{typ: msgPing})
	if yields != 1 {
		t.Errorf("a request sent behind another yielded %d times, want 1", yields)
	}
	for i, c := range []call{first, second} {
		if r := c.wait(); r.err != nil || r.status != statusIO {
			t.Errorf("request %d: got %+v, want the fake replica's answer", i+1, r)
		}
	}
}
