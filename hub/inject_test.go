package hub_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestWaitRoom: an injection that waits for room before each frame is held
// back at a pausing port's high-water mark as a VM sending to it is, goes
// on once the port's peer has read it down to the low-water mark, and
// loses nothing; a port that does not pause, or has no peer, never makes
// it wait.
func TestWaitRoom(t *testing.T) {
	const queue = 8
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), QueueLen: queue, Stall: time.Hour}, "b")
	b := ios["b"]
	b.setReading(false)
	ctx := context.Background()
	const n = 5 * queue
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := h.WaitRoom(ctx, "b"); err != nil {
				done <- err
				return
			}
			if r, err := h.Inject(ctx, "b", hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i)), hub.InjectNotes); err != nil || r != hub.DropNone {
				done <- fmt.Errorf("frame %d: %v, %v", i, r, err)
				return
			}
			sent.Add(1)
		}
		done <- nil
	}()
	congested := func() bool {
		var c bool
		h.Do(ctx, func(core *hub.Core) { id, _ := core.Lookup("b"); c = core.Congested(id) })
		return c
	}
	waitFor(t, func() bool { return congested() && sent.Load() == queue })
	// Congested, b holds the injection: however long it is given, the
	// queue does not grow (the stall time is an hour). Its peer then
	// reads everything.
	b.setReading(true)
	for i := range n {
		if got, want := strings.TrimRight(string(recv(t, b)[14:]), "\x00"), fmt.Sprint(i); got != want {
			t.Fatalf("frame %d: got %q, want %q", i, got, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := h.Stats(ctx, "b").Drops(hub.DropBacklogFull); d != 0 {
		t.Errorf("b dropped %d injected frames as backlog-full", d)
	}
	// A port without a peer holds nothing back: no wait.
	if err := h.AddPort("c", ""); err != nil {
		t.Fatal(err)
	}
	for range 2 * queue {
		if err := h.WaitRoom(ctx, "c"); err != nil {
			t.Fatal(err)
		}
		if r, _ := h.Inject(ctx, "c", hubtest.Frame(hubtest.Broadcast, macA, "x"), nil); r != hub.DropDown {
			t.Fatalf("Inject into a port with no peer: %v, want port-down", r)
		}
	}
	if err := h.WaitRoom(ctx, "nope"); err == nil {
		t.Error("WaitRoom on an unknown port: no error")
	}
}
