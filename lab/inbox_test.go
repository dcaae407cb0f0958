package lab

import (
	"sync"
	"testing"
	"time"

	"l2hub/hub"
)

// An event stamped before the time a take returns is taken by it, however
// the readers' goroutines are scheduled: whatever a later take returns was
// stamped at or after the earlier take's time. (A bound judged at that time
// sees every line stamped before it.) The clock moves all the while.
func TestInboxTakesEveryEventStampedBeforeItsTime(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	in := newInbox(clock, clock.Now())
	const readers, lines = 4, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				clock.Advance(time.Microsecond)
			}
		}
	}()
	for vm := range readers {
		wg.Go(func() {
			for range lines {
				in.put(event{vm: vm, text: "line"})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var taken int
	last := time.Duration(-1) // the time of the take before
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-in.ready:
		}
		evs, now, _ := in.take()
		for _, ev := range evs {
			if ev.at < last {
				t.Fatalf("got an event stamped %v in a take after one at %v, want it taken then", ev.at, last)
			}
		}
		taken += len(evs)
		last = now
	}
	close(stop)
	if taken != readers*lines {
		t.Errorf("got %d events taken, want %d", taken, readers*lines)
	}
}

// A closed inbox drops what comes and frees a reader waiting for room.
func TestInboxClosedDrops(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	in := newInbox(clock, clock.Now())
	for range maxQueued {
		in.put(event{text: "x"})
	}
	waiting := make(chan struct{})
	go func() {
		in.put(event{text: "one too many"}) // waits for room
		close(waiting)
	}()
	in.close()
	select {
	case <-waiting:
	case <-time.After(hangGuard):
		t.Fatal("a reader waiting for room still waits after close")
	}
	if evs, _, _ := in.take(); len(evs) != 0 {
		t.Errorf("got %d events from a closed inbox, want none", len(evs))
	}
}
