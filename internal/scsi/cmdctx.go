package scsi

import (
	"context"
	"time"
)

// cmdContext is the context a command's store calls get: done when the
// transport no longer wants the result (Command.Done: the task was
// aborted or its session ended), so a store waiting on a replica gives up
// with the task. It lives in the pooled task and costs no allocation; it
// is valid only while the command executes.
type cmdContext struct{ done <-chan struct{} }

func (c *cmdContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *cmdContext) Done() <-chan struct{}       { return c.done }
func (c *cmdContext) Value(any) any               { return nil }

func (c *cmdContext) Err() error {
	select {
	case <-c.done: // a nil channel never is
		return context.Canceled
	default:
		return nil
	}
}

// ctx is the command's context for store calls.
func (k *task) ctx() context.Context { return &k.cctx }
