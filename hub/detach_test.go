package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// TestDetachCountsFramesInFlightAsPortDown: the frames the writer was
// handing the transport when the hub itself detached the peer were lost
// because the peer went, not because the transport failed: they count as
// port-down, like the frames still queued behind them, never write-error.
func TestDetachCountsFramesInFlightAsPortDown(t *testing.T) {
	cutInFlight(t, "a detach", func(h *hub.Hub, _ *chanIO) {
		if err := h.Detach("b"); err != nil {
			t.Fatal(err)
		}
	})
}

// cutInFlight queues 5 frames for a port b whose peer reads nothing, so
// that its writer blocks in a write, has cut end that write (how), and
// checks that all 5 count as port-down, none as write-error.
func cutInFlight(t *testing.T, how string, cut func(h *hub.Hub, b *chanIO)) {
	t.Helper()
	h, a, b := stalledPort(t, nil)
	for i := range 5 {
		a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i))
	}
	st := h.Stats(context.Background(), "b")
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return st.TxFrames.Load() == 5 && len(b.writes) > 0
	})
	cut(h, b)
	waitFor(t, func() bool { return st.Drops(hub.DropDown)+st.Drops(hub.DropWrite) == 5 })
	if got := st.Drops(hub.DropWrite); got != 0 {
		t.Errorf("got %d write-error drops, %d port-down, for frames %s cut short; want all 5 port-down", got, st.Drops(hub.DropDown), how)
	}
}

// TestTransportClosedUnderAWriteIsPortDown: a transport closed under the
// writer by its own side (a port's runner closing its connections as
// serve stops, before the hub detaches the peer) lost the frames it held
// because the port went down, as a detach does: port-down, not
// write-error, which a clean stop must not show.
func TestTransportClosedUnderAWriteIsPortDown(t *testing.T) {
	cutInFlight(t, "a closed transport", func(_ *hub.Hub, b *chanIO) { b.Close() }) // net.ErrClosed to the blocked write
}

// TestTransportThatClosedItselfIsPortDown: a write that fails with
// net.ErrClosed while the hub has not ended the attachment (the
// transport's own side closed it; its reader has not noticed yet) lost
// its frames because the port went down: port-down, not write-error.
func TestTransportThatClosedItselfIsPortDown(t *testing.T) {
	h, a, b := stalledPort(t, fmt.Errorf("conn: %w", net.ErrClosed))
	a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "x")
	st := h.Stats(context.Background(), "b")
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return st.TxFrames.Load() == 1 && len(b.writes) > 0
	})
	b.setReading(true) // the blocked write returns net.ErrClosed; b's reader still waits
	waitFor(t, func() bool { return st.Drops(hub.DropDown)+st.Drops(hub.DropWrite) == 1 })
	if got := st.Drops(hub.DropWrite); got != 0 {
		t.Errorf("got %d write-error drops, %d port-down, for a frame whose transport closed itself; want port-down", got, st.Drops(hub.DropDown))
	}
}

// TestPeerClosedByItsTransportSaysSo: a connection its transport closes
// (as a port stops with the session) detaches with a reason that says so,
// not Go's "use of closed network connection", in the log and the peer
// event observers see.
func TestPeerClosedByItsTransportSaysSo(t *testing.T) {
	w := &gatedWriter{}
	logger := slog.New(slog.NewTextHandler(w, nil))
	_, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch), Logger: logger}, "a", "b")
	ios["a"].Close()
	waitFor(t, func() bool { return strings.Contains(w.String(), `msg="peer detached" port=a`) })
	if out := w.String(); !strings.Contains(out, `reason="read: the connection was closed on the hub's side, as its port stopped"`) || strings.Contains(out, "use of closed") {
		t.Errorf("got log\n%s\nwant a's detach to say its connection was closed on the hub's side", out)
	}
}

// TestRemovedDestinationLetsSendersGo: a sender paused on b's queue
// resumes when b is removed, and sends on unpaused.
func TestRemovedDestinationLetsSendersGo(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Hour, Backlog: 8})
	a, _ := c.AddPort("a", "", hub.Discard{})
	qb := &manualQueue{}
	b, _ := c.AddPort("b", "", qb)
	for range 4 {
		c.Ingress(a, sized(60))
	}
	if !c.Paused(a) {
		t.Fatal("a not paused by b's full queue")
	}
	if err := c.RemovePort(b); err != nil {
		t.Fatal(err)
	}
	if c.Paused(a) {
		t.Error("a still paused on a removed port")
	}
	c.Ingress(a, sized(60))
	if c.Paused(a) {
		t.Error("a paused again after b's removal")
	}
	hub.ReleaseAll(qb.frames)
}

// TestReattachedSenderStartsUnpaused: a sender paused on b whose peer
// detaches and re-attaches is no longer paused; its next frame for b,
// still full, pauses it again, once; b's peer reading lets it go.
func TestReattachedSenderStartsUnpaused(t *testing.T) {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	c := hub.NewCore(hub.CoreConfig{Mode: hub.ModeHub, Clock: clock, QueueLen: 4, Stall: time.Hour})
	a, _ := c.AddPort("a", "", hub.Discard{})
	qb := &manualQueue{}
	b, _ := c.AddPort("b", "", qb)
	for range 4 {
		c.Ingress(a, sized(60))
	}
	if err := c.SetEgress(a, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEgress(a, hub.Discard{}); err != nil {
		t.Fatal(err)
	}
	if c.Paused(a) {
		t.Fatal("a paused after re-attaching")
	}
	c.Ingress(a, sized(60))
	if got := c.Stats(a).Pauses.Load(); !c.Paused(a) || got != 2 {
		t.Fatalf("got a paused %v after %d pauses, want paused again (2 pauses)", c.Paused(a), got)
	}
	qb.take(len(qb.frames))
	c.Drained(b)
	if c.Paused(a) {
		t.Error("a still paused after b drained")
	}
}

// TestQueuedCopiesLostOnDetachCountTwice pins the counters' rule (README,
// counters): a sends 5 frames to b, whose VM reads nothing, then b's VM
// is detached. The 5 copies were handed to b's queue (tx 5) and lost with
// its VM (port-down 5): tx plus the drops of copies never queued (none)
// is what a sent, and tx is what was written to b's VM (none) plus the
// queued copies it lost.
func TestQueuedCopiesLostOnDetachCountTwice(t *testing.T) {
	h, a, b := stalledPort(t, nil)
	for i := range 5 {
		a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i))
	}
	ctx := context.Background()
	sb := h.Stats(ctx, "b")
	waitFor(t, func() bool { return sb.TxFrames.Load() == 5 })
	if err := h.Detach("b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return sb.Drops(hub.DropDown) == 5 })
	if got := h.Stats(ctx, "a").RxFrames.Load(); got != 5 {
		t.Errorf("a: got rx %d, want 5", got)
	}
	if st := sb.Snapshot(); st.TxFrames != 5 || len(st.Drops) != 1 {
		t.Errorf("b: got tx %d, drops %v; want tx 5 and port-down 5 alone: each queued copy lost counts twice", st.TxFrames, st.Drops)
	}
	if n := len(b.toPeer); n != 0 {
		t.Errorf("b's VM got %d frames, want none (it read nothing)", n)
	}
}
