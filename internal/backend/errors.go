package backend

import (
	"errors"
	"syscall"
)

// Kinds of I/O failure a store reports, so that the SCSI layer can answer
// each with its own sense data without knowing the operating system's
// error numbers. A store's error wraps its kind together with the cause:
// errors.Is matches both (ErrNoSpace and syscall.ENOSPC).
var (
	// ErrNoSpace: the file system under a thin store has no room left
	// for the data (ENOSPC, EDQUOT). Writes may succeed again once space
	// is freed; reads are unaffected.
	ErrNoSpace = errors.New("no space left for the data")
	// ErrIO: the storage under the store failed the transfer (EIO).
	ErrIO = errors.New("I/O error")
	// ErrUnavailable: the store cannot serve the transfer now but may
	// soon — a replica is being removed from the in-sync set, a promotion
	// is in flight, a peer call timed out. Nothing is known to be
	// written; the initiator should retry, on this path or another.
	ErrUnavailable = errors.New("volume unavailable for now")
	// ErrFenced: this node may no longer serve the volume (another node
	// holds a higher epoch, or this node lost its lease). Nothing is
	// written; the initiator must use another path.
	ErrFenced = errors.New("volume fenced on this node")
)

// kindError is a failure of a known kind; its message is the cause's.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// ioError marks err with its kind when it is one the stores name; other
// errors are returned as they are.
func ioError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &kindError{ErrNoSpace, err}
	case errors.Is(err, syscall.EIO):
		return &kindError{ErrIO, err}
	}
	return err
}
