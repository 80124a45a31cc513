package replication

import "sync"

// rangeLock keeps overlapping byte ranges from being held at once: a
// write waits for every overlapping write before it to finish on the
// primary and every replica, so all of them apply overlapping writes in
// one order. Ranges that do not overlap proceed together.
type rangeLock struct {
	mu   sync.Mutex
	cond *sync.Cond
	held []span
}

type span struct{ off, end int64 }

func (s span) overlaps(o span) bool { return s.off < o.end && o.off < s.end }

// lock waits until [off, off+n) overlaps no held range, and holds it.
func (l *rangeLock) lock(off, n int64) span {
	s := span{off, off + n}
	if n == 0 {
		s.end = off + 1 // a zero-length request orders like a byte
	}
	l.mu.Lock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	for l.conflict(s) {
		l.cond.Wait()
	}
	l.held = append(l.held, s)
	l.mu.Unlock()
	return s
}

func (l *rangeLock) conflict(s span) bool {
	for _, h := range l.held {
		if h.overlaps(s) {
			return true
		}
	}
	return false
}

// unlock releases a held range.
func (l *rangeLock) unlock(s span) {
	l.mu.Lock()
	for i, h := range l.held {
		if h == s {
			l.held[i] = l.held[len(l.held)-1]
			l.held = l.held[:len(l.held)-1]
			break
		}
	}
	l.cond.Broadcast()
	l.mu.Unlock()
}
