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

// The loop's feeder judges what is stamped up to the horizon, in stamp
// order, and holds the rest, a bound too; but a bound before the horizon
// is judged: a console that keeps printing without a newline (its horizon
// moving on) does not hold it for ever.
func TestFeederHorizon(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: feed
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: "login:", within: 100ms}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: q, expect: [{marker: up}]}
`)
	ms := time.Millisecond
	newFeeder := func() (*judge, *feeder) {
		j := newJudge(l, -1, 0, nil)
		return j, &feeder{j: j, act: func([]fire) {}}
	}

	// a's prompt, printed at 90 ms, is handed over at 290 ms: b's line at
	// 150 ms and the bound at 100 ms wait for it, and come after it.
	j, fd := newFeeder()
	fd.take(nil, 120*ms, 90*ms, true)
	fd.take([]event{{vm: 1, at: 150 * ms, text: "booting"}}, 200*ms, 90*ms, false)
	if j.done || j.vms[1].lines != 0 {
		t.Fatalf("got done=%v, b's lines %d before a's prompt, want both held", j.done, j.vms[1].lines)
	}
	fd.take([]event{{vm: 0, prompt: true, at: 90 * ms, text: "login: "}}, 290*ms, noHorizon, false)
	if e := j.expects[0][0]; e.Status != StatusOK || e.At != 90*ms || j.vms[1].lines != 1 {
		t.Errorf("got a's marker %+v, b's lines %d, want the marker at 90ms, then b's line", e, j.vms[1].lines)
	}

	// a keeps printing without a newline: its horizon moves past the
	// bound, which is judged then, without waiting for a prompt.
	j, fd = newFeeder()
	fd.take(nil, 120*ms, 90*ms, true)
	fd.take(nil, 180*ms, 150*ms, false)
	if f := j.first(); !j.done || f == nil || f.Code != "RUN_TIMEOUT" || f.At != 100*ms {
		t.Errorf("got done=%v failure %+v, want RUN_TIMEOUT at 100ms once a's bytes came after it", j.done, f)
	}
}
