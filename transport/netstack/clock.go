package netstack

import (
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"l2hub/hub"
)

// stackClock adapts a hub.Clock to the clock gVisor's stack takes; nil
// leaves the stack its own (the wall clock). The stack's monotonic time is
// the clock's time since the host was made.
func stackClock(c hub.Clock) tcpip.Clock {
	if c == nil {
		return nil
	}
	return tcpipClock{c: c, epoch: c.Now()}
}

type tcpipClock struct {
	c     hub.Clock
	epoch time.Time
}

var _ tcpip.Clock = tcpipClock{}

// Now implements tcpip.Clock.
func (t tcpipClock) Now() time.Time { return t.c.Now() }

// NowMonotonic implements tcpip.Clock.
func (t tcpipClock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(t.c.Now().Sub(t.epoch))
}

// AfterFunc implements tcpip.Clock: f runs where the hub.Clock runs it.
// That is on its own goroutine, as the stack expects, for the wall clock
// and under internal/vsim; a hub.Driver without a Settle hook (hubtest's)
// calls it inside its Step instead, which suits a stack only as long as no
// timer function waits for the stack's other goroutines.
func (t tcpipClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	return tcpipTimer{t.c.AfterFunc(d, f)}
}

// tcpipTimer is a hub.Timer as the stack's timer, whose Reset says nothing.
type tcpipTimer struct{ hub.Timer }

// Reset implements tcpip.Timer.
func (t tcpipTimer) Reset(d time.Duration) { t.Timer.Reset(d) }
