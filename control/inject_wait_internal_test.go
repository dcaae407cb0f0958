package control

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"l2hub/hub"
)

// lateClock is a hub.Clock whose timers fire only when a test fires one,
// and whose fired timer's function then runs only when the test runs it:
// the system's timers start a fired function on a goroutine of its own,
// which may run after the code that stopped the timer too late has moved
// on. It is used from one goroutine.
type lateClock struct{ timers []*lateTimer }

type lateTimer struct {
	f       func()
	pending bool
}

func (t *lateTimer) Stop() bool {
	was := t.pending
	t.pending = false
	return was
}

func (t *lateTimer) Reset(time.Duration) bool {
	was := t.pending
	t.pending = true
	return was
}

func (c *lateClock) Now() time.Time { return hub.DefaultEpoch }

func (c *lateClock) AfterFunc(_ time.Duration, f func()) hub.Timer {
	t := &lateTimer{f: f, pending: true}
	c.timers = append(c.timers, t)
	return t
}

// fire fires the one pending timer and returns its function, not run yet.
func (c *lateClock) fire(t *testing.T) func() {
	var f func()
	for _, tm := range c.timers {
		if tm.pending {
			if f != nil {
				t.Fatal("more than one timer pending")
			}
			tm.pending, f = false, tm.f
		}
	}
	if f == nil {
		t.Fatal("no timer pending")
	}
	return f
}

// lateRoom is an InjectFlow whose port has room for every wait, the first
// coming just as the wait's idle timer fires: that timer's function runs
// only during the second wait. Its other methods are not called.
type lateRoom struct {
	Target
	t     *testing.T
	clock *lateClock
	waits int
	late  func()
}

func (r *lateRoom) WaitRoom(ctx context.Context, port string) error {
	r.waits++
	switch r.waits {
	case 1:
		r.late = r.clock.fire(r.t)
	case 2:
		r.late()
	}
	return ctx.Err()
}

func (r *lateRoom) InjectFrame(context.Context, string, []byte) (hub.DropReason, error) {
	return hub.DropNone, nil
}

// TestInjectLateTimerEndsOnlyItsWait: room that comes as a wait's idle
// timeout fires lets the stream go on, and the timer's function, however
// late it runs, ends only the wait it bounded: the next wait, which has
// room, is not failed as held back.
func TestInjectLateTimerEndsOnlyItsWait(t *testing.T) {
	clock := &lateClock{}
	target := &lateRoom{t: t, clock: clock}
	s := &Server{Target: target, clock: clock}
	body := AppendInjectFrame(nil, make([]byte, 60))
	res, err := s.inject(context.Background(), context.Background(), "a", bytes.NewReader(body), func() {})
	if err != nil {
		t.Fatalf("got inject = %v, want the frame sent", err)
	}
	if want := (InjectResponse{Port: "a", Frames: 1, Bytes: 60}); !reflect.DeepEqual(res, want) {
		t.Errorf("got inject = %+v, want %+v", res, want)
	}
	if target.waits != 2 {
		t.Errorf("got %d waits for room, want 2", target.waits)
	}
}
