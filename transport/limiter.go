package transport

import (
	"sync"
	"time"

	"l2hub/hub"
)

// limiter rate-limits a recurring log message: at most one per interval,
// reporting how many were suppressed in between.
type limiter struct {
	mu         sync.Mutex
	clock      hub.Clock
	every      time.Duration
	last       time.Time
	logged     bool
	suppressed int
}

func newLimiter(clock hub.Clock, every time.Duration) *limiter {
	return &limiter{clock: clock, every: every}
}

// allow says whether to log now and how many messages were suppressed since
// the last one logged.
func (l *limiter) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if l.logged && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.logged, l.last, l.suppressed = true, now, 0
	return true, n
}
