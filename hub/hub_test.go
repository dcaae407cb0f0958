package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// chanIO is one end of an in-memory link: frames written by the hub appear on
// toPeer; frames the test sends arrive through fromPeer. Its buffers are
// deep, as a socket's are, so a test can send while the hub pauses the port.
type chanIO struct {
	fromPeer chan []byte
	toPeer   chan []byte
	closed   chan struct{}
	once     sync.Once
	pending  []byte // a frame ReadFrames left for its next call

	mu     sync.Mutex
	block  chan struct{} // when non-nil, WriteFrames waits on it (a stalled peer)
	credit chan struct{} // while blocked, each frame written takes one (a peer reading a few)
	fail   error         // WriteFrames fails with it (after block)
	reads  []int         // frames per ReadFrames call
	writes []int         // frames per WriteFrames call
}

func newChanIO() *chanIO {
	return &chanIO{fromPeer: make(chan []byte, 4096), toPeer: make(chan []byte, 4096), closed: make(chan struct{}),
		credit: make(chan struct{}, 4096)}
}

// next returns the next frame the peer sent, waiting for one if wait.
func (c *chanIO) next(wait bool) ([]byte, error) {
	if f := c.pending; f != nil {
		c.pending = nil
		return f, nil
	}
	if !wait {
		select {
		case f := <-c.fromPeer:
			return f, nil
		default:
			return nil, nil
		}
	}
	select {
	case f := <-c.fromPeer:
		return f, nil
	case <-c.closed:
		return nil, net.ErrClosed
	}
}

// ReadFrames hands over every frame already waiting, as a stream does with
// one read's frames. A runt is a *hub.FrameError and a frame above max is
// fatal (hub.ErrFrameTooLarge), each on its own call.
func (c *chanIO) ReadFrames(frames []*hub.Frame, max int) (int, error) {
	n := 0
	for n < len(frames) {
		f, err := c.next(n == 0)
		if err != nil {
			return 0, err
		}
		if f == nil {
			break
		}
		if len(f) < hub.EthHeaderLen || len(f) > max {
			if n > 0 {
				c.pending = f
				break
			}
			if len(f) > max {
				return 0, hub.ErrFrameTooLarge
			}
			return 0, &hub.FrameError{Reason: hub.DropRunt, Len: len(f)}
		}
		frames[n] = hub.FrameOf(f)
		n++
	}
	c.mu.Lock()
	c.reads = append(c.reads, n)
	c.mu.Unlock()
	return n, nil
}

func (c *chanIO) WriteFrames(frames []*hub.Frame) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(frames))
	block, fail := c.block, c.fail
	c.mu.Unlock()
	if fail != nil {
		if block != nil {
			select {
			case <-block:
			case <-c.closed:
				return 0, net.ErrClosed
			}
		}
		return 0, fail
	}
	for i, f := range frames {
		if block != nil { // a peer that does not read takes a frame per credit
			select {
			case <-block:
				block = nil
			case <-c.credit:
			case <-c.closed:
				return i, net.ErrClosed
			}
		}
		select {
		case c.toPeer <- bytes.Clone(f.Bytes()):
		case <-c.closed:
			return i, net.ErrClosed
		}
	}
	return len(frames), nil
}

// setReading blocks the peer's writes (false) or lets them through (true).
func (c *chanIO) setReading(reading bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !reading && c.block == nil:
		c.block = make(chan struct{})
	case reading && c.block != nil:
		close(c.block)
		c.block = nil
	}
}

// read has a peer that does not read take n frames, as if it read a few:
// a write blocked in the middle of a batch goes on frame by frame.
func (c *chanIO) read(t *testing.T, n int) [][]byte {
	t.Helper()
	var got [][]byte
	for range n {
		c.credit <- struct{}{}
		select {
		case f := <-c.toPeer:
			got = append(got, f)
		case <-time.After(10 * time.Second):
			t.Fatalf("the peer was let take %d frames and got %d", n, len(got))
		}
	}
	return got
}

func (c *chanIO) reading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.block == nil
}

func (c *chanIO) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

type liveBridge struct {
	t     *testing.T
	h     *hub.Hub
	clock *hub.VirtualClock
	ios   map[string]*chanIO
	names []string
	sent  map[string]bool
	seq   int
}

// runHub makes a hub from cfg and runs it. stop ends Run and returns what
// it returned; it is t's cleanup too, for a test that does not call it.
func runHub(t *testing.T, cfg hub.Config) (h *hub.Hub, stop func() error) {
	t.Helper()
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-ran })
	t.Cleanup(func() { stop() })
	return h, stop
}

func startHub(t *testing.T, cfg hub.Config, ports ...string) (*hub.Hub, map[string]*chanIO) {
	t.Helper()
	h, stop := runHub(t, cfg)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	ios := make(map[string]*chanIO)
	for _, p := range ports {
		if err := h.AddPort(p, "chan "+p); err != nil {
			t.Fatal(err)
		}
		ios[p] = newChanIO()
		if _, err := h.Attach(p, ios[p]); err != nil {
			t.Fatal(err)
		}
	}
	return h, ios
}

func liveBridgeFactory(t *testing.T, cfg hubtest.BridgeConfig) hubtest.Bridge {
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	h, ios := startHub(t, hub.Config{
		Mode: cfg.Mode, Clock: clock, AgingTime: cfg.AgingTime,
		QueueLen: cfg.QueueLen, Overflow: cfg.Overflow, Stall: cfg.Stall,
	}, cfg.Ports...)
	return &liveBridge{t: t, h: h, clock: clock, ios: ios, names: cfg.Ports, sent: map[string]bool{}}
}

func (b *liveBridge) Send(port string, frame []byte) {
	b.sent[port] = true
	b.ios[port].fromPeer <- bytes.Clone(frame)
}

// Advance moves the virtual clock and has the hub run what fell due: the
// live hub's own timer waits in real time.
func (b *liveBridge) Advance(d time.Duration) {
	b.clock.Advance(d)
	if err := b.h.Do(context.Background(), func(c *hub.Core) { c.RunDue() }); err != nil {
		b.t.Fatal(err)
	}
}

func (b *liveBridge) SetReading(port string, reading bool) {
	b.ios[port].setReading(reading)
	if reading { // until the peer has taken what waited and the port flows again
		waitFor(b.t, func() bool {
			st := b.status(port)
			return st.Queued == 0 && !st.Flow.Congested && !st.Flow.Stalled
		})
	}
}

func (b *liveBridge) Read(port string, n int) [][]byte { return b.ios[port].read(b.t, n) }

func (b *liveBridge) status(port string) hub.PortStatus {
	sts, err := b.h.Ports(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	for _, st := range sts {
		if st.Name == port {
			return st
		}
	}
	b.t.Fatalf("no port %s", port)
	return hub.PortStatus{}
}

func (b *liveBridge) Stats(port string) hub.StatsSnapshot { return b.status(port).Stats }

func (b *liveBridge) WaitPaused(port string) {
	waitFor(b.t, func() bool { return b.status(port).Flow.Paused })
}

// Flush makes two rounds of broadcast markers. Round one comes from every
// reading port that sent since the last flush: once the others have it, the
// hub has handled everything those ports sent. Round two comes from every
// reading port: once each has it, everything forwarded before is in (egress
// queues are FIFO), including anything wrongly reflected back to a sender.
// Ports whose peers do not read take no part.
func (b *liveBridge) Flush() map[string][][]byte {
	out := map[string][][]byte{}
	senders := map[string]bool{}
	for p := range b.sent {
		if b.ios[p].reading() {
			senders[p] = true
		}
	}
	var readers []string
	for _, p := range b.names {
		if b.ios[p].reading() {
			readers = append(readers, p)
		}
	}
	if len(senders) == 0 {
		senders = map[string]bool{readers[0]: true}
	}
	b.markerRound(senders, readers, out)
	all := map[string]bool{}
	for _, p := range readers {
		all[p] = true
	}
	b.markerRound(all, readers, out)
	b.sent = map[string]bool{}
	return out
}

func (b *liveBridge) markerRound(from map[string]bool, readers []string, out map[string][][]byte) {
	b.seq++
	markers := map[string][]byte{}
	for p := range from {
		m := hubtest.Frame(hubtest.Broadcast, [6]byte{0x02, 0xff, 0xff, 0xff, byte(b.seq), byte(len(markers))}, "flush-"+p)
		markers[p] = m
		b.ios[p].fromPeer <- m
	}
	for _, p := range readers {
		want := 0
		for sender := range markers {
			if sender != p {
				want++
			}
		}
	read:
		for want > 0 {
			select {
			case f := <-b.ios[p].toPeer:
				if bytes.HasPrefix(f, hubtest.Broadcast[:]) && bytes.HasPrefix(f[6:], []byte{0x02, 0xff, 0xff, 0xff}) {
					if isMarker(f, markers) {
						want--
					}
					continue read // a stale marker from an earlier round
				}
				out[p] = append(out[p], f)
			case <-time.After(10 * time.Second):
				b.t.Fatalf("flush: port %s still waits for %d markers", p, want)
			}
		}
	}
}

func isMarker(f []byte, markers map[string][]byte) bool {
	for _, m := range markers {
		if bytes.Equal(f, m) {
			return true
		}
	}
	return false
}

func TestBridgeLive(t *testing.T) {
	hubtest.TestBridge(t, liveBridgeFactory)
}

func recv(t *testing.T, io *chanIO) []byte {
	t.Helper()
	select {
	case f := <-io.toPeer:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a frame")
		return nil
	}
}

var (
	macA = hubtest.MAC("02:00:00:00:00:0a")
	macB = hubtest.MAC("02:00:00:00:00:0b")
)

func TestAttachBusyAndReconnect(t *testing.T) {
	h, ios := startHub(t, hub.Config{Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "b")
	ctx := context.Background()

	second := newChanIO()
	if _, err := h.Attach("a", second); !errors.Is(err, hub.ErrPortBusy) {
		t.Fatalf("second Attach on a busy port: got err %v, want ErrPortBusy", err)
	}
	if _, err := h.Attach("nope", second); !errors.Is(err, hub.ErrNoPort) {
		t.Fatalf("Attach on unknown port: got err %v, want ErrNoPort", err)
	}

	ios["a"].fromPeer <- hubtest.Frame(macB, macA, "first")
	recv(t, ios["b"])

	// The peer on a goes away; the port keeps its counters.
	ios["a"].Close()
	waitFor(t, func() bool {
		st, _ := h.Ports(ctx)
		return !st[0].Attached
	})
	again := newChanIO()
	done, err := h.Attach("a", again)
	if err != nil {
		t.Fatalf("reattach: %v", err)
	}
	again.fromPeer <- hubtest.Frame(macB, macA, "second")
	recv(t, ios["b"])

	st, err := h.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := st[0]
	if a.Name != "a" || !a.Attached || a.Stats.RxFrames != 2 || a.Stats.Attaches != 2 || a.Stats.Refused != 1 {
		t.Errorf("got port a status %+v, want attached with rx_frames=2 attaches=2 refused=1", a)
	}

	if err := h.Detach("a"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("done not closed after Detach")
	}
	select {
	case <-again.closed:
	default:
		t.Error("Detach did not close the peer's PortIO")
	}
}

func TestOverflowDropCostsOnlyTheStalledQueue(t *testing.T) {
	const queue = 8
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, QueueLen: queue, Overflow: hub.OverflowDrop, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "fast", "slow")
	ios["slow"].setReading(false)

	const n = 500
	for i := range n {
		ios["a"].fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, string(rune('0'+i%10)))
		recv(t, ios["fast"]) // the fast peer gets every frame, in step
	}
	slow := h.Stats(context.Background(), "slow")
	// The queue holds queue frames, the one the stalled writer is writing
	// among them.
	if got, want := slow.Drops(hub.DropQueueFull), uint64(n-queue); got != want {
		t.Errorf("got %d queue-full drops on the stalled port, want %d", got, want)
	}
	if got := h.Stats(context.Background(), "fast").Drops(hub.DropQueueFull); got != 0 {
		t.Errorf("got %d queue-full drops on the fast port, want 0", got)
	}
	if got := h.Stats(context.Background(), "a").Pauses.Load(); got != 0 {
		t.Errorf("a was paused %d times, want never with overflow: drop", got)
	}
	ios["slow"].setReading(true)
}

func TestOversizeAndRuntFromPeer(t *testing.T) {
	h, ios := startHub(t, hub.Config{MaxFrame: 100, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "b")
	ios["a"].fromPeer <- make([]byte, 10) // runt
	ios["a"].fromPeer <- hubtest.Frame(macB, macA, "ok")
	if got := recv(t, ios["b"]); !bytes.Equal(got[14:16], []byte("ok")) {
		t.Fatalf("got %q, want the ok frame", got)
	}
	st := h.Stats(context.Background(), "a")
	if got := st.Drops(hub.DropRunt); got != 1 {
		t.Errorf("got %d runt drops, want 1", got)
	}
	ios["a"].fromPeer <- make([]byte, 101) // chanIO reports ErrFrameTooLarge: fatal
	waitFor(t, func() bool { return st.Drops(hub.DropOversize) == 1 })
	select {
	case <-ios["a"].closed:
	case <-time.After(10 * time.Second):
		t.Fatal("an oversized frame did not close the peer")
	}
}

func TestRunStopsCleanly(t *testing.T) {
	h, stop := runHub(t, hub.Config{Clock: hub.NewVirtualClock(hub.DefaultEpoch)})
	if err := h.AddPort("a", ""); err != nil {
		t.Fatal(err)
	}
	io := newChanIO()
	done, err := h.Attach("a", io)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-done
	if err := h.AddPort("b", ""); !errors.Is(err, hub.ErrStopped) {
		t.Errorf("AddPort after stop: got %v, want ErrStopped", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 10s")
}

func TestInjectGoesStraightToThePort(t *testing.T) {
	h, ios := startHub(t, hub.Config{Mode: hub.ModeSwitch, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "b", "c")
	ctx := context.Background()
	// A frame addressed to nobody in particular still goes only to the port asked for.
	f := hubtest.Frame(hubtest.Broadcast, macA, "injected")
	if r, err := h.Inject(ctx, "c", f, []hub.Note{{Action: "inject"}}); err != nil || r != hub.DropNone {
		t.Fatalf("Inject into c: %v, %v; want it queued", r, err)
	}
	if got := recv(t, ios["c"]); !bytes.Equal(got, f) {
		t.Errorf("port c got %x, want the injected frame", got)
	}
	if _, err := h.Inject(ctx, "nope", f, nil); !errors.Is(err, hub.ErrNoPort) {
		t.Errorf("Inject into an unknown port: got %v, want ErrNoPort", err)
	}
	if _, err := h.Inject(ctx, "a", make([]byte, hub.DefaultMaxFrame+1), nil); !errors.Is(err, hub.ErrFrameTooLarge) {
		t.Errorf("Inject of an oversized frame: got %v, want ErrFrameTooLarge", err)
	}
	// Nothing reached a or b: a marker injected into each after the
	// frame is the first thing each receives (a port's writer keeps order,
	// so a stray copy of the frame would come before it).
	for _, p := range []string{"a", "b"} {
		marker := hubtest.Frame(hubtest.Broadcast, macA, "marker for "+p)
		if _, err := h.Inject(ctx, p, marker, nil); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, ios[p]); !bytes.Equal(got, marker) {
			t.Errorf("port %s got %x first, want only the marker injected into it", p, got)
		}
	}
}

// stalledPort starts a hub whose port b blocks its first write until
// released (and then fails with fail, if set), so frames for it queue up.
func stalledPort(t *testing.T, fail error) (*hub.Hub, *chanIO, *chanIO) {
	t.Helper()
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a")
	b := newChanIO()
	b.fail = fail
	b.setReading(false)
	if err := h.AddPort("b", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("b", b); err != nil {
		t.Fatal(err)
	}
	return h, ios["a"], b
}

func TestWriterBatchesQueuedFrames(t *testing.T) {
	h, a, b := stalledPort(t, nil)
	const n = 20
	for i := range n {
		a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("%02d", i))
	}
	st := h.Stats(context.Background(), "b")
	waitFor(t, func() bool { return st.TxFrames.Load() == n })
	b.setReading(true)
	for i := range n {
		if got, want := string(recv(t, b)[14:16]), fmt.Sprintf("%02d", i); got != want {
			t.Fatalf("frame %d: got payload %q, want %q: batching reordered frames", i, got, want)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if sum(b.writes) != n || !slices.ContainsFunc(b.writes, func(k int) bool { return k > 1 }) {
		t.Errorf("got frames per write %v, want batches covering all %d frames, one of more than one", b.writes, n)
	}
}

func TestWriterCountsEveryFrameOfAFailedBatch(t *testing.T) {
	h, a, b := stalledPort(t, errors.New("broken pipe"))
	for i := range 5 {
		a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprint(i))
	}
	st := h.Stats(context.Background(), "b")
	waitFor(t, func() bool { return st.TxFrames.Load() == 5 })
	b.setReading(true)
	select {
	case <-b.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a failed batch did not detach the peer")
	}
	b.mu.Lock()
	writes := slices.Clone(b.writes)
	b.mu.Unlock()
	// Whether the first write took frame 0 alone or several, the one batch
	// that failed counts every frame it held, and the frames still queued
	// behind it count as port-down: none is lost silently.
	if len(writes) != 1 {
		t.Fatalf("got batches %v, want exactly one (failing) batch", writes)
	}
	waitFor(t, func() bool {
		return st.Drops(hub.DropWrite) == uint64(writes[0]) && st.Drops(hub.DropWrite)+st.Drops(hub.DropDown) == 5
	})
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func TestReaderForwardsBatchesInOrder(t *testing.T) {
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	a := newChanIO()
	a.fromPeer <- make([]byte, 10) // runt: counted, not forwarded
	const n = 40
	for i := range n {
		a.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("%02d", i))
	}
	if err := h.AddPort("a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("a", a); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got, want := string(recv(t, ios["b"])[14:16]), fmt.Sprintf("%02d", i); got != want {
			t.Fatalf("frame %d: got payload %q, want %q", i, got, want)
		}
	}
	st := h.Stats(context.Background(), "a")
	if got := st.RxFrames.Load(); got != n {
		t.Errorf("got RxFrames %d, want %d", got, n)
	}
	if got := st.Drops(hub.DropRunt); got != 1 {
		t.Errorf("got %d runt drops, want 1", got)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.ContainsFunc(a.reads, func(k int) bool { return k > 1 }) {
		t.Errorf("got frames per read %v, want a batch of more than one", a.reads)
	}
}

// TestPortTableIsTheCores: the live hub keeps no port table of its own:
// a peer attached through it is the port's egress in the core, gone when
// it detaches, and a removed port is gone for the hub too; its name can
// be used again.
func TestPortTableIsTheCores(t *testing.T) {
	h, _ := startHub(t, hub.Config{Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "a", "b")
	ctx := context.Background()
	egress := func(name string) (attached, exists bool) {
		if err := h.Do(ctx, func(c *hub.Core) {
			id, ok := c.Lookup(name)
			attached, exists = ok && c.Egress(id) != nil, ok
		}); err != nil {
			t.Fatal(err)
		}
		return attached, exists
	}
	if attached, _ := egress("a"); !attached {
		t.Fatal("got no egress in the core for an attached port")
	}
	if err := h.Detach("a"); err != nil {
		t.Fatal(err)
	}
	if attached, exists := egress("a"); attached || !exists {
		t.Errorf("after Detach got attached %v, exists %v; want a port without a peer", attached, exists)
	}
	if err := h.RemovePort("b"); err != nil {
		t.Fatal(err)
	}
	if _, exists := egress("b"); exists {
		t.Error("a removed port is still in the core")
	}
	if _, err := h.Attach("b", newChanIO()); !errors.Is(err, hub.ErrNoPort) {
		t.Errorf("got Attach to a removed port = %v, want ErrNoPort", err)
	}
	if err := h.AddPort("b", "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("b", newChanIO()); err != nil {
		t.Errorf("got Attach to a re-added port = %v, want it attached", err)
	}
	if ports, err := h.Ports(ctx); err != nil || len(ports) != 2 || ports[1].Description != "again" || !ports[1].Attached {
		t.Errorf("got ports %+v, %v; want a and the new b, attached", ports, err)
	}
}

// droppingIO is a chanIO whose own side drops frames before the hub reads
// them (a hub.KernelDropper), as a datagram socket with a full buffer or a
// virtual host with a full NIC queue does.
type droppingIO struct {
	*chanIO
	drops atomic.Uint64
}

func (d *droppingIO) KernelDrops() uint64 { return d.drops.Load() }

// TestReaderCountsThePeersOwnDrops: what a peer's side drops while the
// port is attached is counted on the port as kernel-overflow, once; what
// it dropped before is not the hub's to count.
func TestReaderCountsThePeersOwnDrops(t *testing.T) {
	h, ios := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	d := &droppingIO{chanIO: newChanIO()}
	d.drops.Store(3)
	if err := h.AddPort("a", "dropping a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("a", d); err != nil {
		t.Fatal(err)
	}
	d.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "first")
	recv(t, ios["b"]) // the reader has started: it took the 3 as its baseline
	d.drops.Add(5)
	d.fromPeer <- hubtest.Frame(hubtest.Broadcast, macA, "after five were dropped")
	recv(t, ios["b"])
	if got := h.Stats(context.Background(), "a").Drops(hub.DropKernel); got != 5 {
		t.Errorf("got %d kernel-overflow drops on a, want the 5 dropped while attached", got)
	}
}

// TestPortsCountThePeersLatestDrops: what a peer's side dropped after the
// hub last read from it shows in Ports at once, though the peer sends
// nothing more to wake the reader (a burst's tail, then silence).
func TestPortsCountThePeersLatestDrops(t *testing.T) {
	h, _ := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	d := &droppingIO{chanIO: newChanIO()}
	d.drops.Store(3) // before it was attached: not the hub's to count
	if err := h.AddPort("a", "dropping a"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Attach("a", d); err != nil {
		t.Fatal(err)
	}
	d.drops.Add(4)
	ports, err := h.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Name == "a" && p.Stats.Drops[hub.DropKernel.String()] != 4 {
			t.Errorf("got a's drops %v in Ports, want kernel-overflow=4 (what it dropped while attached)", p.Stats.Drops)
		}
	}
	if got := h.Stats(context.Background(), "a").Drops(hub.DropKernel); got != 4 {
		t.Errorf("got %d kernel-overflow drops on a's counters, want 4, counted once", got)
	}
}

// remotesIO is a chanIO that reaches remote endpoints of its own (a
// hub.RemoteLister), as a VXLAN port's remote VTEPs are.
type remotesIO struct {
	*chanIO
	remotes []hub.RemoteStatus
}

func (r *remotesIO) Remotes() []hub.RemoteStatus { return r.remotes }

// TestPortsListRemotes: Ports shows an attached RemoteLister's remotes,
// and none for a port whose transport has none or that has no peer.
func TestPortsListRemotes(t *testing.T) {
	ctx := context.Background()
	h, _ := startHub(t, hub.Config{Mode: hub.ModeHub, Clock: hub.NewVirtualClock(hub.DefaultEpoch)}, "b")
	heard := hub.DefaultEpoch.Add(time.Second)
	want := []hub.RemoteStatus{
		{Addr: "10.0.0.2", Sent: 3, Received: 2, LastHeard: heard},
		{Addr: "10.0.0.3", Sent: 3, Quiet: true},
	}
	r := &remotesIO{chanIO: newChanIO(), remotes: want}
	for _, p := range []string{"ov", "idle"} {
		if err := h.AddPort(p, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Attach("ov", r); err != nil {
		t.Fatal(err)
	}
	ports, err := h.Ports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		switch {
		case p.Name == "ov" && !reflect.DeepEqual(p.Remotes, want):
			t.Errorf("got port ov's remotes %+v, want %+v", p.Remotes, want)
		case p.Name != "ov" && p.Remotes != nil:
			t.Errorf("got port %s's remotes %+v, want none", p.Name, p.Remotes)
		}
	}
}

// TestDoFiresDueTimersFirst: a control call never finds a timer overdue
// (a delayed copy the loop is late to deliver): Do fires what is due by
// now before fn, as a frame's arrival does, so a set-policy or an edit fn
// makes comes after every delivery due by then, in the capture too.
func TestDoFiresDueTimersFirst(t *testing.T) {
	clk := hub.NewVirtualClock(hub.DefaultEpoch)
	h, _ := runHub(t, hub.Config{Clock: clk})
	ctx := context.Background()
	fired := false
	if err := h.Do(ctx, func(c *hub.Core) { c.After(5*time.Millisecond, func() { fired = true }) }); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Millisecond) // no driver fires the clock's timers: Run stays asleep, late
	var saw, overdue bool
	if err := h.Do(ctx, func(c *hub.Core) {
		saw = fired
		dl, ok := c.NextDeadline()
		overdue = ok && !dl.After(clk.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if !saw || overdue {
		t.Errorf("got fn run with the timer due at 5ms fired %v, a timer overdue %v; want fired, none overdue", saw, overdue)
	}
}
