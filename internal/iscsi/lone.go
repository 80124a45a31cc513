package iscsi

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// loneMin is how many commands in a row must have found the connection
// idle before a slow command runs on the reader goroutine.
const loneMin = 4

// loneCommands tells when an initiator sends one command at a time (queue
// depth 1) to a connection whose commands are slow, so a command may run
// on the reader goroutine although it is slow (a replicated write waits
// for its replica). Handing it to a worker costs a thread wake-up — on a
// virtual machine some 20 µs and a context switch on another CPU, a good
// share of a lone write's latency — and the reader has nothing else to do
// meanwhile: nothing is arriving behind the command. Where commands do
// overlap, a slow command running on the reader would hold up the next,
// so the streak of lone commands starts over as soon as one did not
// arrive alone, or input arrived while a slow command ran. A change to a
// deeper queue therefore costs at most one command's wait. Reader
// goroutine only.
type loneCommands struct {
	run int // commands in a row that arrived alone, up to loneMin+1
}

// arrived records a command about to execute; alone: nothing else of the
// connection was executing and no input was read ahead of it. It reports
// whether the command may run on the reader even though it is slow.
func (l *loneCommands) arrived(alone bool) bool {
	if !alone {
		l.run = 0
		return false
	}
	if l.run <= loneMin {
		l.run++
	}
	return l.run > loneMin
}

// overlapped records that input arrived while a slow command ran on the
// reader: the initiator has more than one command outstanding.
func (l *loneCommands) overlapped() { l.run = 0 }

// noteInputDuringSlow ends the streak of lone commands if input arrived
// while a slow command ran on the reader (read ahead, or waiting in the
// socket; a count that fails counts as input).
func (c *conn) noteInputDuringSlow() {
	if n, ok := c.inSocket(); !ok || n > 0 || c.in.Buffered() > 0 {
		c.lone.overlapped()
	}
}

// socketInput returns a function that reports how many bytes wait unread
// in nc's socket, or nil when nc is not a socket.
func socketInput(nc any) func() (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() (int, bool) {
		n, ierr := 0, error(nil)
		if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
			return 0, false
		}
		return n, true
	}
}
