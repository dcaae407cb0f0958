package hub_test

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// recorder collects what timers did, from whatever goroutine they run on.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 64)} }

func (r *recorder) note(s string) func() {
	return func() {
		r.mu.Lock()
		r.got = append(r.got, s)
		r.mu.Unlock()
		r.ch <- struct{}{}
	}
}

// wait waits for n more timer functions to have run (on the live hub's
// goroutines, or inside a Driver's Step).
func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("a fired timer's function never ran")
		}
	}
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// TestVirtualClockTimers: a VirtualClock's timers fire only when a Driver
// fires them, in (deadline, creation) order, one per step; Stop and Reset
// take a timer out or move it; moving the clock alone fires nothing.
func TestVirtualClockTimers(t *testing.T) {
	c := hub.NewVirtualClock(hub.DefaultEpoch)
	r := newRecorder()
	c.AfterFunc(30*time.Millisecond, r.note("c"))
	c.AfterFunc(10*time.Millisecond, r.note("a"))
	c.AfterFunc(10*time.Millisecond, r.note("b")) // same deadline: after a
	stopped := c.AfterFunc(20*time.Millisecond, r.note("stopped"))
	reset := c.AfterFunc(5*time.Millisecond, r.note("reset"))
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("got Stop of a pending timer false or a second Stop true")
	}
	if !reset.Reset(40 * time.Millisecond) {
		t.Fatal("got Reset of a pending timer false")
	}
	if n := c.Pending(); n != 4 {
		t.Fatalf("got %d timers pending, want 4", n)
	}
	c.Advance(time.Hour)
	c.Set(hub.DefaultEpoch) // backwards: ignored
	if c.Elapsed() != time.Hour || len(r.list()) != 0 {
		t.Fatalf("after moving the clock: elapsed %v, fired %q; want an hour and nothing fired", c.Elapsed(), r.list())
	}

	c = hub.NewVirtualClock(hub.DefaultEpoch)
	d := hub.Driver{Clock: c}
	r = newRecorder()
	c.AfterFunc(30*time.Millisecond, r.note("c"))
	c.AfterFunc(10*time.Millisecond, r.note("a"))
	c.AfterFunc(10*time.Millisecond, r.note("b"))
	c.AfterFunc(20*time.Millisecond, r.note("stopped")).Stop()
	c.AfterFunc(5*time.Millisecond, r.note("reset")).Reset(40 * time.Millisecond)
	var got []string
	for d.Step() {
		r.wait(t, 1)
		got = append(got, r.list()[len(got)]+"@"+c.Elapsed().String())
	}
	if want := []string{"a@10ms", "b@10ms", "c@30ms", "reset@40ms"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("got %d timers pending after the run, want 0", n)
	}
}

// TestAfterIsDueOnlyWhenDriven: hub.After's channel gets the deadline's
// time once a driver has moved the clock through it, by the time the
// driver returns.
func TestAfterIsDueOnlyWhenDriven(t *testing.T) {
	c := hub.NewVirtualClock(hub.DefaultEpoch)
	ch := hub.After(c, 20*time.Millisecond)
	select {
	case <-ch:
		t.Fatal("After's channel received before the clock moved")
	default:
	}
	(&hub.Driver{Clock: c}).AdvanceTo(hub.DefaultEpoch.Add(time.Second), nil)
	select {
	case at := <-ch:
		if d := at.Sub(hub.DefaultEpoch); d != 20*time.Millisecond {
			t.Errorf("After(20ms) delivered %v after the start, want 20ms", d)
		}
	default:
		t.Fatal("After(20ms) had not delivered when AdvanceTo returned")
	}
}

// TestDriverInterleavesCoreAndClock: the core's timers and the clock's run
// in deadline order, the core's first at the same instant; AdvanceTo calls
// between after each step and stops at the target, Drain runs the rest.
func TestDriverInterleavesCoreAndClock(t *testing.T) {
	c := hub.NewVirtualClock(hub.DefaultEpoch)
	core := hub.NewCore(hub.CoreConfig{Clock: c})
	d := hub.Driver{Clock: c, Core: core}
	var mu sync.Mutex
	var got []string
	note := func(s string) {
		mu.Lock()
		got = append(got, s+"@"+c.Elapsed().String())
		mu.Unlock()
	}
	r := newRecorder()
	core.After(10*time.Millisecond, func() { note("core-10") })
	c.AfterFunc(10*time.Millisecond, func() { note("clock-10"); r.note("")() })
	c.AfterFunc(5*time.Millisecond, func() { note("clock-5"); r.note("")() })
	core.After(20*time.Millisecond, func() { note("core-20") })
	if dl, ok := d.Next(); !ok || dl != hub.DefaultEpoch.Add(5*time.Millisecond) {
		t.Fatalf("got Next() = %v, %v; want the 5ms timer", dl, ok)
	}
	steps := 0
	d.AdvanceTo(hub.DefaultEpoch.Add(15*time.Millisecond), func() {
		steps++
		if steps != 2 { // the core's timer ran on this goroutine; the clock's start their own
			r.wait(t, 1)
		}
	})
	if c.Elapsed() != 15*time.Millisecond || steps != 3 {
		t.Errorf("AdvanceTo(15ms) left the clock at %v after %d steps, want 15ms after 3", c.Elapsed(), steps)
	}
	d.Drain(nil)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"clock-5@5ms", "core-10@10ms", "clock-10@10ms", "core-20@20ms"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if d.Step() {
		t.Error("Step with nothing pending reported a step")
	}
}

// TestLiveHubRunsOnTheVirtualClock: the live hub waits for its timers on
// its Clock, so on a VirtualClock a delayed frame stays in the heap until a
// driver moves the clock to its deadline, then goes out.
func TestLiveHubRunsOnTheVirtualClock(t *testing.T) {
	c := hub.NewVirtualClock(hub.DefaultEpoch)
	_, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: c, Policy: delayAll(10 * time.Millisecond)}, "a", "b")
	f := hubtest.Frame(hubtest.Broadcast, macA, "delayed")
	ios["a"].fromPeer <- f
	// The hub arms its timer on the clock once the frame waits in the heap.
	waitFor(t, func() bool { return c.Pending() == 1 })
	select {
	case got := <-ios["b"].toPeer:
		t.Fatalf("b got %x before the clock reached the delay", got)
	default:
	}
	(&hub.Driver{Clock: c}).AdvanceTo(hub.DefaultEpoch.Add(10*time.Millisecond), nil)
	if got := recv(t, ios["b"]); !bytes.Equal(got, f) {
		t.Errorf("b got %x, want the delayed frame %x", got, f)
	}
}

// TestDriverRunsClockTimersInStep: driven by a Driver alone, a clock
// timer's function has run, at its own deadline, when the step that fired
// it returns: a timer due at 1s reads 1s even when the Driver advances to
// 10s, the timers it re-arms fire at theirs, equal deadlines fire in
// creation order, and Drain leaves nothing pending.
func TestDriverRunsClockTimersInStep(t *testing.T) {
	for _, how := range []string{"advance-to", "drain"} {
		t.Run("rearm-"+how, func(t *testing.T) {
			c := hub.NewVirtualClock(hub.DefaultEpoch)
			d := hub.Driver{Clock: c}
			var got []time.Duration
			var tick func()
			tick = func() {
				got = append(got, c.Elapsed())
				if len(got) < 3 {
					c.AfterFunc(time.Second, tick)
				}
			}
			c.AfterFunc(time.Second, tick)
			if how == "drain" {
				d.Drain(nil)
			} else {
				d.AdvanceTo(hub.DefaultEpoch.Add(10*time.Second), nil)
			}
			if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("got the timers reading %v, want %v", got, want)
			}
			if n := c.Pending(); n != 0 {
				t.Errorf("got %d timers pending, want 0", n)
			}
		})
	}
	t.Run("equal-deadlines", func(t *testing.T) {
		c := hub.NewVirtualClock(hub.DefaultEpoch)
		d := hub.Driver{Clock: c}
		var got []string
		for _, name := range []string{"first", "second", "third"} {
			c.AfterFunc(time.Second, func() {
				got = append(got, name)
				if name == "first" { // due now: after the two already waiting
					c.AfterFunc(0, func() { got = append(got, "first-again") })
				}
			})
		}
		if !d.Step() {
			t.Fatal("got Step() = false with three timers due")
		}
		if want := []string{"first"}; !slices.Equal(got, want) {
			t.Fatalf("after one step got %q, want %q", got, want)
		}
		d.Drain(nil)
		if want := []string{"first", "second", "third", "first-again"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// TestDriverSettleWaitsForClockTimers: with a Settle hook, a clock timer's
// function starts on its own goroutine and Step returns only after Settle;
// a Settle error stops the Driver and is reported by Err.
func TestDriverSettleWaitsForClockTimers(t *testing.T) {
	c := hub.NewVirtualClock(hub.DefaultEpoch)
	done := make(chan time.Duration, 1)
	var settles int
	d := hub.Driver{Clock: c, Settle: func() error {
		settles++
		select {
		case at := <-done: // the function ran, on another goroutine
			if at != time.Second {
				t.Errorf("the timer read %v, want 1s", at)
			}
			return nil
		case <-time.After(10 * time.Second):
			return errors.New("the timer's function never ran")
		}
	}}
	c.AfterFunc(time.Second, func() { done <- c.Elapsed() })
	if !d.Step() || settles != 1 {
		t.Fatalf("got a step with %d settles, want one", settles)
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}

	boom := errors.New("boom")
	d.Settle = func() error { return boom }
	c.AfterFunc(time.Second, func() {})
	c.AfterFunc(2*time.Second, func() {})
	d.Drain(nil)
	if !errors.Is(d.Err(), boom) {
		t.Errorf("got Err() = %v, want %v", d.Err(), boom)
	}
	if n := c.Pending(); n != 1 {
		t.Errorf("got %d timers pending after Settle failed, want 1 (the Driver stops)", n)
	}
}
