package wallclock

import (
	"testing"
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
