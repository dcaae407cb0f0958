package transport

import (
	"testing"
	"time"

	"l2hub/hub"
)

// TestLimiterCountsSuppressed: what a rate-limited log holds back is
// counted and reported with the next line logged.
func TestLimiterCountsSuppressed(t *testing.T) {
	vc := hub.NewVirtualClock(hub.DefaultEpoch)
	l := newLimiter(vc, time.Second)
	var got []int
	for range 3 {
		ok, n := l.allow()
		if ok {
			got = append(got, n)
		}
	}
	vc.Advance(time.Second)
	if ok, n := l.allow(); ok {
		got = append(got, n)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("got logged lines reporting %v suppressed, want [0 2]", got)
	}
}
