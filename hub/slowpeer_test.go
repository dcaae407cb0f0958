package hub_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// pacedIO is a peer that takes the frames written to it one at a time,
// each period after the one before, on a virtual clock it moves itself (a
// transport with no PeerBacklog: the hub sees its progress per write). A
// gated write first reports its size on entered, then waits for the gate.
type pacedIO struct {
	h       *hub.Hub
	clock   *hub.VirtualClock
	toPeer  chan []byte
	entered chan int
	closed  chan struct{}
	once    sync.Once

	mu     sync.Mutex
	period time.Duration
	gate   chan struct{}
}

func newPacedIO(h *hub.Hub, clock *hub.VirtualClock, period time.Duration) *pacedIO {
	return &pacedIO{h: h, clock: clock, period: period, toPeer: make(chan []byte, 1024),
		entered: make(chan int, 1), closed: make(chan struct{})}
}

func (p *pacedIO) ReadFrames([]*hub.Frame, int) (int, error) { <-p.closed; return 0, net.ErrClosed }

func (p *pacedIO) WriteFrames(frames []*hub.Frame) (int, error) {
	p.mu.Lock()
	period, gate := p.period, p.gate
	p.mu.Unlock()
	if gate != nil {
		p.entered <- len(frames)
		select {
		case <-gate:
		case <-p.closed:
			return 0, net.ErrClosed
		}
	}
	for i, f := range frames {
		p.clock.Advance(period)
		if err := p.h.Do(context.Background(), func(c *hub.Core) { c.RunDue() }); err != nil {
			return i, net.ErrClosed
		}
		p.toPeer <- bytes.Clone(f.Bytes())
	}
	return len(frames), nil
}

func (p *pacedIO) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// set changes the peer's period and has its writes wait at a new gate
// (gated) or none, letting through a write waiting at the old one.
func (p *pacedIO) set(period time.Duration, gated bool) {
	p.mu.Lock()
	old := p.gate
	p.period, p.gate = period, nil
	if gated {
		p.gate = make(chan struct{})
	}
	p.mu.Unlock()
	if old != nil {
		close(old)
	}
}

func (p *pacedIO) take(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-p.toPeer:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("the peer got no frame within 10s")
		return nil
	}
}

func portStatus(t *testing.T, h *hub.Hub, name string) hub.PortStatus {
	t.Helper()
	sts, err := h.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no port %s", name)
	return hub.PortStatus{}
}

// TestPeerSlowingMidRunIsNotStalled: b's peer takes a frame a millisecond
// after a sends it, then slows to one frame per 100ms while a floods it.
// Slow is not stalled: within the 3s stall time it takes 30 frames. Its
// writer's batch, one frame while frames came one at a time, grows no
// faster than the peer shows it takes them, so the write under way when
// b congests lasts nowhere near the stall time; b never stalls and not a
// frame is lost.
func TestPeerSlowingMidRunIsNotStalled(t *testing.T) {
	const (
		stall    = 3 * time.Second
		queueLen = 128
		fast     = 20
		burst    = 100 // below the queue: b's writer picks its batch from these before b congests
	)
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: clock, Stall: stall, QueueLen: queueLen}, "a")
	b := newPacedIO(h, clock, time.Millisecond)
	if err := h.AddPort("b", "paced"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("b", b); err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	send := func(n int) {
		for range n {
			f := hubtest.Frame(macB, macA, fmt.Sprint("frame ", len(sent)))
			sent = append(sent, f)
			ios["a"].fromPeer <- f
		}
	}
	var got [][]byte
	for range fast {
		send(1)
		got = append(got, b.take(t))
	}
	b.set(100*time.Millisecond, true)
	send(1)
	<-b.entered
	send(burst)
	waitFor(t, func() bool { return portStatus(t, h, "b").Queued == 1+burst }) // the gated write's frame too
	b.set(100*time.Millisecond, true)
	batch := <-b.entered
	send(queueLen)
	waitFor(t, func() bool { return portStatus(t, h, "b").Flow.Congested })
	b.set(100*time.Millisecond, false)
	for len(got) < len(sent) {
		got = append(got, b.take(t))
	}
	for i := range got {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("the peer's frame %d is %q, want %q: frames lost or out of order", i, got[i][14:], sent[i][14:])
		}
	}
	if st := portStatus(t, h, "b").Stats; st.Stalls != 0 {
		t.Errorf("b stalled %d times (the write under way as it congested held %d frames), want never: its peer took a frame every 100ms", st.Stalls, batch)
	}
}

// backlogIO is a chanIO that shows its peer's progress within a write
// (PeerBacklog), as a stream socket does.
type backlogIO struct{ *chanIO }

func (backlogIO) PeerBacklog() (int, bool) { return 0, true }

// TestWriterBatchSizing: a writer hands a transport that shows its peer's
// progress (PeerBacklog) all that is queued at once; to one that does not,
// a batch no larger than the peer has shown it takes, which a single
// frame's write does not show for 20.
func TestWriterBatchSizing(t *testing.T) {
	for _, tt := range []struct {
		name    string
		backlog bool
		want    []int
	}{
		{"peer-backlog-takes-all-queued", true, []int{1, 20}},
		{"no-peer-backlog-grows-from-one", false, []int{1, 2, 4, 8, 6}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a")
			b := newChanIO()
			b.setReading(false)
			var io hub.PortIO = b
			if tt.backlog {
				io = backlogIO{b}
			}
			if err := h.AddPort("b", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Attach("b", io); err != nil {
				t.Fatal(err)
			}
			ios["a"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "first")
			waitFor(t, func() bool {
				b.mu.Lock()
				defer b.mu.Unlock()
				return len(b.writes) == 1
			})
			for i := range 20 {
				ios["a"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i))
			}
			waitFor(t, func() bool { return portStatus(t, h, "b").Queued == 21 })
			b.setReading(true)
			for range 21 {
				recv(t, b)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if !slices.Equal(b.writes, tt.want) {
				t.Errorf("got frames per write %v, want %v", b.writes, tt.want)
			}
		})
	}
}
