package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// gatedWriter is a log's writer that, once shut, blocks every write until
// opened again: a stderr whose reader stopped reading.
type gatedWriter struct {
	mu   sync.Mutex
	gate chan struct{} // nil: open; else writes wait for it to close
	buf  bytes.Buffer
}

func (w *gatedWriter) shut() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gate == nil {
		w.gate = make(chan struct{})
	}
}

func (w *gatedWriter) open() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gate != nil {
		close(w.gate)
		w.gate = nil
	}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	gate := w.gate
	w.mu.Unlock()
	if gate != nil {
		<-gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestBlockedLogHoldsNoFrames: a peer attaching or detaching while the
// log's writer blocks holds only the goroutine that logs it, never the
// hub's lock: the other ports forward on, and the lines come out, in
// order, once the writer takes them again.
func TestBlockedLogHoldsNoFrames(t *testing.T) {
	w := &gatedWriter{}
	log := slog.New(slog.NewTextHandler(w, nil))
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Logger: log}, "a", "b", "c")
	t.Cleanup(w.open) // before the hub stops, whatever failed

	w.shut()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the detach logs, and blocks, here
		defer wg.Done()
		if err := h.Detach("c"); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, func() bool { return isClosed(ios["c"]) })
	again := newChanIO()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := h.Attach("c", again); err != nil {
			t.Error(err)
		}
	}()
	for i := range 20 {
		ios["a"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, string(rune('a'+i)))
		if got := recv(t, ios["b"]); got[14] != byte('a'+i) {
			t.Fatalf("got frame %q on b, want the %dth from a", got[14:15], i)
		}
	}
	w.open()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Detach and Attach did not return once the log was read again")
	}
	out := w.String()
	detached := strings.Index(out, `msg="peer detached" port=c`)
	attached := strings.LastIndex(out, `msg="peer attached" port=c`)
	if detached < 0 || attached < detached {
		t.Errorf("got log\n%s\nwant c's detach, then its second attach", out)
	}
}

func isClosed(c *chanIO) bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// TestBlockedLogOfAMACMoveHoldsNoFrames: the core's own logs (here the
// warning that a MAC moved to another port) are written once the hub lets
// go of its lock, so a log writer that blocks holds only the reader whose
// frame moved the MAC: the other ports forward on, and the warning comes
// out once the writer takes it.
func TestBlockedLogOfAMACMoveHoldsNoFrames(t *testing.T) {
	w := &gatedWriter{}
	log := slog.New(slog.NewTextHandler(w, nil))
	_, ios := startHub(t, hub.Config{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Logger: log}, "a", "b", "c")
	t.Cleanup(w.open) // before the hub stops, whatever failed

	ios["a"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "a learned")
	recv(t, ios["b"])
	recv(t, ios["c"])
	w.shut()
	ios["b"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "a moved to b") // the warning blocks b's reader
	recv(t, ios["a"])
	recv(t, ios["c"])
	for i := range 20 {
		ios["c"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macC, string(rune('a'+i)))
		if got := recv(t, ios["a"]); got[14] != byte('a'+i) {
			t.Fatalf("got frame %q on a, want the %dth from c", got[14:15], i)
		}
	}
	if out := w.String(); strings.Contains(out, "seen on port") {
		t.Fatalf("the MAC move was logged through a shut writer:\n%s", out)
	}
	w.open()
	waitFor(t, func() bool {
		return strings.Contains(w.String(), "MAC 02:00:00:00:00:0a seen on port a, then on port b")
	})
}

// TestBlockedLogHoldsNoTimers: what the core logs as Run fires its timers
// (here b's stall) is written without holding Run, so a log writer that
// blocks does not stop the timers of every other port: c's stall check,
// the only thing left to free a sender that c holds back, still fires.
// (The test reads the ports' counters, not Ports: a Do runs the timers
// due, and would log what they log itself.)
func TestBlockedLogHoldsNoTimers(t *testing.T) {
	const stall = time.Second
	w := &gatedWriter{}
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	driver := &hub.Driver{Clock: clock} // fires Run's timer; the core's timers are Run's to fire
	h, ios := startHub(t, hub.Config{Mode: hub.ModeSwitch, Clock: clock, Stall: stall, QueueLen: 4,
		Logger: slog.New(slog.NewTextHandler(w, nil))}, "a", "b", "c")
	t.Cleanup(w.open) // before the hub stops, whatever failed
	ios["b"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macB, "b is here")
	ios["c"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macC, "c is here")
	for _, p := range []string{"a", "a", "b", "c"} {
		recv(t, ios[p])
	}
	ctx := context.Background()
	a, b, c := h.Stats(ctx, "a"), h.Stats(ctx, "b"), h.Stats(ctx, "c")
	// fill sends a's frames to dst, whose peer stops reading, until dst
	// holds a back.
	fill := func(dst string, mac [6]byte) {
		ios[dst].setReading(false)
		paused := a.Pauses.Load()
		for i := 0; a.Pauses.Load() == paused; i++ {
			ios["a"].fromPeer <- hubtest.Frame(mac, macA, fmt.Sprint("to ", dst, i))
			waitFor(t, func() bool { return len(ios["a"].fromPeer) == 0 || a.Pauses.Load() > paused })
		}
	}
	fill("b", macB)
	w.shut()
	// Time passes until Run finds b stalled and logs it, into the shut
	// writer; then until it finds c stalled: only Run can, a is paused and
	// nothing else comes.
	stalled := func(p *hub.PortStats) func() bool {
		return func() bool { driver.AdvanceTo(clock.Now().Add(stall/4), nil); return p.Stalls.Load() == 1 }
	}
	waitFor(t, stalled(b))
	fill("c", macC)
	waitFor(t, stalled(c))
	if out := w.String(); strings.Contains(out, "port stalled") {
		t.Fatalf("a stall was logged through a shut writer:\n%s", out)
	}
	w.open()
	waitFor(t, func() bool { return strings.Count(w.String(), "port stalled") == 2 })
}
