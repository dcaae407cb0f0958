package hub_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// midBatch attaches a port "a" whose peer has 64 frames for b waiting, so
// that the hub's reader takes them in one read, to a hub of port b, whose
// peer reads nothing, with a queue of 4. It returns once a is paused.
func midBatch(t *testing.T) (*hub.Hub, map[string]*chanIO, *chanIO, <-chan struct{}) {
	t.Helper()
	const queue = 4
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, QueueLen: queue, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	ios["b"].setReading(false)
	if err := h.AddPort("a", "chan a"); err != nil {
		t.Fatal(err)
	}
	a := newChanIO()
	for i := range 64 {
		a.fromPeer <- hubtest.Frame(macB, macA, fmt.Sprint(i))
	}
	done, err := h.Attach("a", a)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return portStatus(t, h, "a").Flow.Paused })
	a.mu.Lock()
	reads := append([]int(nil), a.reads...)
	a.mu.Unlock()
	if len(reads) != 1 || reads[0] != 64 {
		t.Fatalf("the reader read %v frames per call, want one read of 64: the test needs a whole batch", reads)
	}
	return h, ios, a, done
}

// TestReaderPausesMidBatch: a sender is paused at the frame that passes its
// receiver's high-water mark, not at the end of the batch it was read in:
// the rest of the batch waits in the reader, not in the receiver's queue,
// and goes on, in order and with nothing lost, once the receiver reads.
func TestReaderPausesMidBatch(t *testing.T) {
	h, ios, _, _ := midBatch(t)
	b := portStatus(t, h, "b")
	a := portStatus(t, h, "a")
	if b.Queued > b.Flow.QueueLen+1 || a.Stats.RxFrames > uint64(b.Flow.QueueLen+1) {
		t.Errorf("a paused with %d of its 64 frames forwarded and %d queued for b, want at most one past b's high-water mark (%d)",
			a.Stats.RxFrames, b.Queued, b.Flow.QueueLen)
	}
	ios["b"].setReading(true)
	for i := range 64 {
		select {
		case f := <-ios["b"].toPeer:
			if got, want := strings.TrimRight(string(f[14:]), "\x00"), fmt.Sprint(i); got != want {
				t.Fatalf("frame %d: b got %q, want %q", i, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("b got %d of the 64 frames", i)
		}
	}
	for _, name := range []string{"a", "b"} {
		if st := portStatus(t, h, name); len(st.Stats.Drops) != 0 || st.Flow.Paused {
			t.Errorf("port %s: drops %v, paused %v; want none, not paused", name, st.Stats.Drops, st.Flow.Paused)
		}
	}
}

// TestHeldFramesCountedWhenDetached: the frames a paused reader holds from
// its peer's last read when the peer is detached are counted as dropped
// with the port down, not lost uncounted, and not as received: they never
// reached forwarding (a capture does not show them).
func TestHeldFramesCountedWhenDetached(t *testing.T) {
	h, _, _, done := midBatch(t)
	forwarded := portStatus(t, h, "a").Stats.RxFrames
	if err := h.Detach("a"); err != nil {
		t.Fatal(err)
	}
	<-done
	st := h.Stats(context.Background(), "a")
	if rx, down := st.RxFrames.Load(), st.Drops(hub.DropDown); rx != forwarded || down != 64-forwarded {
		t.Errorf("got a's rx %d, port-down drops %d; want %d (the frames forwarded) and %d (those the reader held)", rx, down, forwarded, 64-forwarded)
	}
}
