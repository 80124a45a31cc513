package scsi

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// SANITIZE (SBC-4 5.30, sanitize operations SBC-4 4.11). The operation
// runs on its own goroutine, owned by the LU: it survives the command
// being aborted, LU and target resets and the loss of the nexus that
// started it, as SBC-4 4.11.3 requires. While it runs, every command but
// INQUIRY, REPORT LUNS and REQUEST SENSE is NOT READY, SANITIZE IN
// PROGRESS with a progress indication. A sanitize that fails leaves the LU
// in sanitize failure mode (media access is MEDIUM ERROR, SANITIZE COMMAND
// FAILED) until a successful SANITIZE or, if the failed one set AUSE, an
// EXIT FAILURE MODE.
//
// OVERWRITE writes the pattern over every block; BLOCK ERASE and
// CRYPTOGRAPHIC ERASE are offered on thin LUs, where they deallocate every
// block: the data is gone from the store (holes punched), which is what
// erasing the media encryption key would achieve on a self-encrypting
// drive. Unmapped blocks read as zeros, so reads after either succeed
// (WABEREQ, WACEREQ 01b).

const opSanitize = 0x48

// Sanitize service actions (SBC-4 table 71).
const (
	saSanitizeOverwrite  = 0x01
	saSanitizeBlockErase = 0x02
	saSanitizeCrypto     = 0x03
	saSanitizeExitFail   = 0x1f
)

const (
	ascSanitizeInProgress    = 0x041b
	ascSanitizeCommandFailed = 0x3103
)

// DefaultSanitizeRate is how many bytes per second an OVERWRITE writes when
// LUConfig.SanitizeRate is zero: sanitizing one volume must not starve the
// other volumes on the same disk, as RAID resync speed limits do.
const DefaultSanitizeRate = 128 << 20

// sanitizeChunk is the unit a sanitize writes or deallocates at a time.
const sanitizeChunk = 1 << 20

// sanitizeOp is a running sanitize operation.
type sanitizeOp struct {
	done     chan struct{}
	err      error         // set before done is closed
	progress atomic.Uint32 // 0..65535 of 65536
}

// sanitizeDataOut is the PARAMETER LIST LENGTH (bytes 7-8).
func sanitizeDataOut(k *task) uint32 { return uint32(be16(k.cdb[7:])) }

func sanitizeBlockErase(lu *LU) bool { return lu.cfg.Thin }

func opSanitizeRun(k *task) Result {
	lu := k.lu
	cdb := k.cdb
	immed := cdb[1]&0x80 != 0
	ause := cdb[1]&0x20 != 0
	sa := cdb[1] & 0x1f
	if cdb[1]&0x40 != 0 {
		return k.invalidCDB(1, 6)
	}
	for i := 2; i <= 6; i++ {
		if cdb[i] != 0 {
			return k.invalidCDB(i, -1)
		}
	}
	plen := int(be16(cdb[7:]))
	var pattern []byte
	var passes int
	var invert bool
	switch sa {
	case saSanitizeOverwrite:
		if plen <= 4 || plen > int(lu.bs)+4 {
			return k.invalidCDB(7, -1)
		}
		p := k.cmd.DataOut
		if len(p) < plen {
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		p = p[:plen]
		invert = p[0]&0x80 != 0
		passes = int(p[0] & 0x1f)
		ipl := int(be16(p[2:]))
		switch {
		case p[0]&0x60 != 0: // TEST
			return k.invalidParam(0, 6)
		case passes == 0:
			return k.invalidParam(0, 4)
		case ipl == 0 || ipl > int(lu.bs):
			return k.invalidParam(2, -1)
		case 4+ipl > plen:
			return k.fail(keyIllegalRequest, ascParameterListLengthError)
		}
		// The pattern repeats to fill each block.
		pattern = make([]byte, lu.bs)
		for off := 0; off < len(pattern); off += ipl {
			copy(pattern[off:], p[4:4+ipl])
		}
	case saSanitizeBlockErase, saSanitizeCrypto:
		if !sanitizeBlockErase(lu) {
			return k.invalidCDB(1, 4)
		}
		if plen != 0 {
			return k.invalidCDB(7, -1)
		}
	case saSanitizeExitFail:
		if plen != 0 {
			return k.invalidCDB(7, -1)
		}
		lu.mu.Lock()
		defer lu.mu.Unlock()
		if lu.sanitizeFailed && !lu.sanitizeAUSE {
			// Only a SANITIZE with AUSE may be left this way (SBC-4
			// 4.11.4); a new sanitize is needed.
			return k.fail(keyMediumError, ascSanitizeCommandFailed)
		}
		lu.sanitizeFailed = false
		return Good
	default:
		return k.invalidCDB(1, 4)
	}

	op := &sanitizeOp{done: make(chan struct{})}
	lu.mu.Lock()
	if lu.sanitize != nil {
		lu.mu.Unlock()
		return k.notReady(ascSanitizeInProgress)
	}
	lu.sanitize = op
	lu.mu.Unlock()
	go lu.runSanitize(op, sa, pattern, passes, invert, ause)
	if immed {
		return Good
	}
	select {
	case <-op.done:
	case <-k.cmd.Done:
		// The transport gave up on the command (aborted, session
		// gone); the operation goes on (SBC-4 4.11.3).
		return Result{Status: StatusTaskAborted}
	}
	if op.err != nil {
		return k.fail(keyMediumError, ascSanitizeCommandFailed)
	}
	return Good
}

// runSanitize performs the operation and leaves sanitize state.
func (lu *LU) runSanitize(op *sanitizeOp, sa byte, pattern []byte, passes int, invert, ause bool) {
	var err error
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
		if err != nil {
			lu.log.Error("scsi: sanitize failed", "lu", lu.cfg.Serial, "err", err)
		} else {
			lu.log.Info("scsi: sanitize complete", "lu", lu.cfg.Serial, "service_action", sa)
		}
		lu.mu.Lock()
		lu.sanitize = nil
		lu.sanitizeFailed = err != nil
		lu.sanitizeAUSE = ause
		op.err = err
		lu.mu.Unlock()
		close(op.done)
	}()
	lu.log.Info("scsi: sanitize started", "lu", lu.cfg.Serial, "service_action", sa)
	// The operation outlives the command that started it (SBC-4 4.11):
	// its store calls are not cut short with the command.
	ctx := context.Background()
	total := uint64(lu.nblocks()) << lu.shift
	if sa != saSanitizeOverwrite {
		err = lu.eraseAll(ctx, op, total)
		return
	}
	rate := lu.cfg.SanitizeRate
	if rate <= 0 {
		rate = DefaultSanitizeRate
	}
	buf := make([]byte, sanitizeChunk)
	start := time.Now()
	var written int64
	for pass := range passes {
		for off := 0; off < len(buf); off += len(pattern) {
			copy(buf[off:], pattern)
		}
		if invert && pass%2 == 1 {
			for i := range buf {
				buf[i] = ^buf[i]
			}
		}
		for off := uint64(0); off < total; off += sanitizeChunk {
			n := min(uint64(sanitizeChunk), total-off)
			lu.rmw.Lock()
			werr := lu.store.WriteAt(ctx, buf[:n], int64(off), false)
			lu.rmw.Unlock()
			if werr != nil {
				err = werr
				return
			}
			written += int64(n)
			op.progress.Store(uint32((uint64(pass)*total + off + n) * 65535 / (uint64(passes) * total)))
			// Pace to rate bytes per second.
			if ahead := time.Duration(float64(written)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	err = lu.store.Sync(ctx)
}

// eraseAll deallocates every block.
func (lu *LU) eraseAll(ctx context.Context, op *sanitizeOp, total uint64) error {
	for off := uint64(0); off < total; off += 64 * sanitizeChunk {
		n := min(uint64(64*sanitizeChunk), total-off)
		lu.rmw.Lock()
		err := lu.store.Unmap(ctx, int64(off), int64(n))
		lu.rmw.Unlock()
		if err != nil {
			return err
		}
		op.progress.Store(uint32((off + n) * 65535 / total))
	}
	return lu.store.Sync(ctx)
}

// sanitizeGateLocked is the check every command passes while a sanitize
// runs or failed (SBC-4 4.11.3, 4.11.4). lu.mu must be held.
func (k *task) sanitizeGateLocked(flags opFlags, d *opDesc) *Result {
	lu := k.lu
	if flags&fNoUA != 0 { // INQUIRY, REPORT LUNS, REQUEST SENSE
		return nil
	}
	if op := lu.sanitize; op != nil {
		r := checkCondition(sense{key: keyNotReady, asc: ascSanitizeInProgress,
			sks: progressIndication(op.progress.Load())}, k.desc)
		return &r
	}
	if lu.sanitizeFailed && flags&fMedium != 0 && (d == nil || d.op != opSanitize) {
		r := k.fail(keyMediumError, ascSanitizeCommandFailed)
		return &r
	}
	return nil
}

// progressIndication is the progress indication sense key specific field
// (SPC-4 4.5.2.4.4).
func progressIndication(p uint32) [3]byte {
	return [3]byte{0x80, byte(p >> 8), byte(p)}
}

// notReady is NOT READY with asc.
func (k *task) notReady(asc uint16) Result { return k.fail(keyNotReady, asc) }

// SanitizeProgress reports the running SANITIZE's progress, 0 to 1, and
// whether one runs.
func (lu *LU) SanitizeProgress() (float64, bool) {
	lu.mu.RLock()
	op := lu.sanitize
	lu.mu.RUnlock()
	if op == nil {
		return 0, false
	}
	return float64(op.progress.Load()) / 65536, true
}
