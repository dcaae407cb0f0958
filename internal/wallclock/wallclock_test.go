package wallclock

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestWallFollowsMonotonic: for any two readings, the wall times differ by
// exactly what the monotonic readings do, and never run backwards.
func TestWallFollowsMonotonic(t *testing.T) {
	var c Clock
	prev := c.Now()
	for range 100_000 {
		now := c.Now()
		mono := now.Sub(prev) // uses the monotonic readings
		wall := now.Round(0).Sub(prev.Round(0))
		if wall != mono || wall < 0 {
			t.Fatalf("wall step %v, monotonic step %v: want equal and non-negative", wall, mono)
		}
		prev = now
	}
	if d := time.Since(prev); d < 0 || d > time.Minute {
		t.Errorf("the clock's reading is %v from time.Now", d)
	}
}

// TestAfterFunc: a timer fires once its time has passed, not before, and a
// stopped one never does. It runs in a synctest bubble, whose fake time
// the system's timers follow, so the test waits for nothing real.
func TestAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c Clock
		fired := make(chan struct{}, 2)
		c.AfterFunc(time.Second, func() { fired <- struct{}{} })
		stopped := c.AfterFunc(time.Second, func() { fired <- struct{}{} })
		if !stopped.Stop() {
			t.Fatal("Stop of a pending timer returned false")
		}
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if len(fired) != 0 {
			t.Fatal("a timer fired before its time")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if len(fired) != 1 {
			t.Fatalf("got %d timers fired at their time, want 1 (the other was stopped)", len(fired))
		}
	})
}
