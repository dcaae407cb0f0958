package hub_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// gateIO returns one batch of frames from ReadFrames, then blocks in
// KernelDrops (which the reader calls before it takes the hub's lock)
// until gate is closed; later reads wait for Close.
type gateIO struct {
	batch   [][]byte
	reads   int
	kdCalls int
	inKD    chan struct{}
	gate    chan struct{}
	closed  chan struct{}
}

func (g *gateIO) ReadFrames(frames []*hub.Frame, max int) (int, error) {
	g.reads++
	if g.reads == 1 {
		for i, b := range g.batch {
			frames[i] = hub.FrameOf(b)
		}
		return len(g.batch), nil
	}
	<-g.closed
	return 0, net.ErrClosed
}

func (g *gateIO) KernelDrops() uint64 {
	g.kdCalls++
	if g.kdCalls == 2 { // the first is at the reader's start
		close(g.inKD)
		<-g.gate
	}
	return 0
}

func (g *gateIO) WriteFrames(frames []*hub.Frame) (int, error) { return len(frames), nil }
func (g *gateIO) Close() error                                 { close(g.closed); return nil }

// TestReadBatchCountedWhenDetachedBeforeForwarding: frames the reader got
// from a's peer just before a's peer was detached are counted as dropped
// with the port down, not lost with no counter, and not as received: they
// never reached forwarding.
func TestReadBatchCountedWhenDetachedBeforeForwarding(t *testing.T) {
	h, _ := startHub(t, hub.Config{Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	if err := h.AddPort("a", "gate"); err != nil {
		t.Fatal(err)
	}
	g := &gateIO{
		batch: [][]byte{hubtest.Frame(macB, macA, "1"), hubtest.Frame(macB, macA, "2"), hubtest.Frame(macB, macA, "3")},
		inKD:  make(chan struct{}), gate: make(chan struct{}), closed: make(chan struct{}),
	}
	done, err := h.Attach("a", g)
	if err != nil {
		t.Fatal(err)
	}
	<-g.inKD // the reader holds 3 frames from a's peer, not yet forwarded
	if err := h.Detach("a"); err != nil {
		t.Fatal(err)
	}
	close(g.gate)
	<-done
	st := h.Stats(context.Background(), "a")
	if rx, down := st.RxFrames.Load(), st.Drops(hub.DropDown); rx != 0 || down != 3 {
		t.Errorf("got a's rx %d, port-down drops %d; want 0 and 3 (%+v)", rx, down, st.Snapshot())
	}
}

// kdIO is a chanIO whose peer's side counts the frames it dropped.
type kdIO struct {
	*chanIO
	kd atomic.Uint64
}

func (k *kdIO) KernelDrops() uint64 { return k.kd.Load() }

// TestKernelDropsWhilePausedCountedAtDetach: what a port's socket dropped
// while the hub, pausing the port, did not read it is counted when the
// port's peer is detached before the hub reads again.
func TestKernelDropsWhilePausedCountedAtDetach(t *testing.T) {
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, QueueLen: 4, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	if err := h.AddPort("a", "kd"); err != nil {
		t.Fatal(err)
	}
	a := &kdIO{chanIO: newChanIO()}
	done, err := h.Attach("a", a)
	if err != nil {
		t.Fatal(err)
	}
	ios["b"].setReading(false)
	for i := range 20 {
		a.fromPeer <- hubtest.Frame(macB, macA, fmt.Sprint(i))
	}
	waitFor(t, func() bool {
		sts, _ := h.Ports(context.Background())
		for _, st := range sts {
			if st.Name == "a" {
				return st.Flow.Paused
			}
		}
		return false
	})
	a.kd.Store(100) // the socket overflows while the hub does not read it
	if err := h.Detach("a"); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := h.Stats(context.Background(), "a").Drops(hub.DropKernel); got != 100 {
		t.Errorf("got %d kernel-overflow drops on a, want the 100 its socket dropped while paused", got)
	}
}
