package initiator

import (
	"context"
	"sync"

	"github.com/halun/halun/internal/iscsi/pdu"
)

type taskKind uint8

const (
	kindSCSI taskKind = iota + 1
	kindTMF
	kindNOP
	kindText
	kindLogout
)

func (k taskKind) String() string {
	switch k {
	case kindSCSI:
		return "SCSI command"
	case kindTMF:
		return "task management"
	case kindNOP:
		return "NOP-Out"
	case kindText:
		return "text"
	case kindLogout:
		return "logout"
	}
	return "unknown"
}

// Task is one outstanding exchange identified by its initiator task tag: a
// SCSI command (from Start or SendCommand) or an internal TMF, NOP, text or
// logout request.
type Task struct {
	kind  taskKind
	itt   uint32
	seq   uint64 // issue order within the session
	lun   uint64 // encoded LUN field
	cmdSN uint32

	// SCSI commands.
	dataOut []byte
	unsol   int        // bytes sent as immediate or unsolicited data
	asm     *assembler // nil for commands without read data
	r2tSeen uint32     // R2TSN count when asm is nil (reader only)
	r2tMu   sync.Mutex
	r2ts    []r2tReq
	r2tSig  chan struct{}

	// Task management.
	tmfFn  uint8
	refITT uint32

	done chan struct{}
	resp *Response
	err  error
	hdr  pdu.Header // reply header of non-SCSI tasks
	data []byte     // reply data of non-SCSI tasks (a copy)
}

type r2tReq struct {
	ttt            uint32
	offset, length int
}

func newTask(kind taskKind) *Task {
	return &Task{kind: kind, done: make(chan struct{})}
}

// ITT is the task's initiator task tag.
func (t *Task) ITT() uint32 { return t.itt }

// CmdSN is the command sequence number the task was sent with.
func (t *Task) CmdSN() uint32 { return t.cmdSN }

// Done is closed when the task has ended.
func (t *Task) Done() <-chan struct{} { return t.done }

// Wait waits for the command's response. If ctx ends first it returns
// ctx.Err() and the task stays outstanding: its data transfer continues and
// its response, when it comes, is consumed. A task terminated by a
// completed task management function returns ErrTaskAborted.
func (t *Task) Wait(ctx context.Context) (*Response, error) {
	select {
	case <-t.done:
		return t.resp, t.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// finish ends the task. Only the goroutine that removed the task from the
// session's table calls it, so it runs once.
func (t *Task) finish(resp *Response, err error) {
	t.resp, t.err = resp, err
	close(t.done)
}

func (t *Task) finishHeader(h *pdu.Header, data []byte) {
	t.hdr = *h
	t.data = append([]byte(nil), data...)
	close(t.done)
}

func (t *Task) finishPDU(itt uint32, data []byte) {
	t.data = append([]byte(nil), data...)
	close(t.done)
}

func (t *Task) pushR2T(r r2tReq) {
	t.r2tMu.Lock()
	t.r2ts = append(t.r2ts, r)
	t.r2tMu.Unlock()
	select {
	case t.r2tSig <- struct{}{}:
	default:
	}
}

func (t *Task) popR2T() (r2tReq, bool) {
	t.r2tMu.Lock()
	defer t.r2tMu.Unlock()
	if len(t.r2ts) == 0 {
		return r2tReq{}, false
	}
	r := t.r2ts[0]
	t.r2ts = t.r2ts[1:]
	return r, true
}
