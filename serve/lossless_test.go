package serve_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sync"
	"sync/atomic"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/hub/hubtest"
	"l2hub/loadgen"
	"l2hub/serve"
	"l2hub/transport"
)

// The data plane's promise, tested over real sockets through the serve
// session: with every receiver reading, a QEMU-protocol client that writes
// frames as fast as TCP takes them loses nothing, whatever the load, and a
// receiver that stops reading costs the others at most the stall time. No
// assertion here depends on how fast the machine is: the senders are held
// back, never timed.

// lossClient is a VM on one port: a QEMU stream client with its own MAC.
type lossClient struct {
	id   byte
	name string
	conn *transport.StreamConn
}

func (c *lossClient) mac() [6]byte { return [6]byte{0x02, 0, 0, 0, 0x10, c.id} }

// etherLoss marks the tests' frames; hellos carry a zero sequence length.
const etherLoss = 0x88b6

// lossFrame is a frame of size bytes from c to dst carrying seq.
func lossFrame(size int, c *lossClient, dst [6]byte, seq uint32) []byte {
	f := make([]byte, size)
	src := c.mac()
	copy(f, dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], etherLoss)
	f[14] = c.id
	binary.BigEndian.PutUint32(f[15:], seq)
	return f
}

// loopbackPorts returns the specs of TCP ports on free loopback ports, one
// for each name, given as "c" or with options as "c,stall=200ms".
func loopbackPorts(t *testing.T, names ...string) []transport.Spec {
	t.Helper()
	var specs []transport.Spec
	for _, n := range names {
		name, opts, _ := strings.Cut(n, ",")
		text := name + "=tcp:127.0.0.1:0"
		if opts != "" {
			text += "," + opts
		}
		spec, err := transport.ParseSpec(text)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, spec)
	}
	return specs
}

// attachLossClients connects a client to each port of sess, in order (ids
// from 1), and waits until every one is attached.
func attachLossClients(t *testing.T, sess *serve.Session) []*lossClient {
	t.Helper()
	var clients []*lossClient
	for i, p := range sess.Bound() {
		clients = append(clients, &lossClient{id: byte(i + 1), name: p.Spec.Name, conn: dialVM(t, p.Spec.Address)})
	}
	waitAttached(t, sess)
	return clients
}

// startLossSession serves cfg's ports (tcp on loopback, port 0) in-process
// and connects a client to each; every client says hello and hears every
// other's hello, so the switch has learned them all.
func startLossSession(t *testing.T, cfg serve.Config, names ...string) (*serve.Session, []*lossClient) {
	t.Helper()
	cfg.Control = "off"
	cfg.Ports = append(cfg.Ports, loopbackPorts(t, names...)...)
	sess := startSession(t, cfg, func(err error) { t.Errorf("transport stopped: %v", err) })
	clients := attachLossClients(t, sess)
	for _, c := range clients {
		if err := c.conn.WriteFrame(lossFrame(60, c, hubtest.Broadcast, 0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		for range len(clients) - 1 {
			readFrame(t, c.conn)
		}
	}
	return sess, clients
}

// send writes n frames from c to dst as fast as the socket takes them, one
// write per frame, as QEMU does.
func send(c *lossClient, size int, dst [6]byte, n int) error {
	for i := range n {
		if err := c.conn.WriteFrame(lossFrame(size, c, dst, uint32(i+1))); err != nil {
			return fmt.Errorf("%s: frame %d: %w", c.name, i+1, err)
		}
	}
	return nil
}

// receive reads until it has want frames from each sender (by client id),
// checking that each sender's arrive in order, every one once. A sender
// that sends nothing for the guard time ends it with an error: a hang,
// not a slow machine, since the guard is generous.
func receive(c *lossClient, want map[byte]int) error {
	next := make(map[byte]uint32, len(want))
	left := 0
	for id, n := range want {
		next[id] = 1
		left += n
	}
	// A watchdog closes the connection if no frame arrives for lossGuard.
	var got atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(lossGuard)
		defer tick.Stop()
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if g := got.Load(); g == last {
					c.conn.Close()
					return
				} else {
					last = g
				}
			}
		}
	}()
	buf := make([]byte, transport.DefaultMaxFrame)
	for left > 0 {
		n, err := c.conn.ReadFrame(buf)
		got.Add(1)
		if err != nil {
			return fmt.Errorf("%s: %d frames missing: %w", c.name, left, err)
		}
		if n < 19 || binary.BigEndian.Uint16(buf[12:]) != etherLoss {
			return fmt.Errorf("%s: a frame that is not the test's: %x", c.name, buf[:min(n, 20)])
		}
		id, seq := buf[14], binary.BigEndian.Uint32(buf[15:])
		if seq == 0 {
			continue // a late hello
		}
		if _, ok := want[id]; !ok || seq != next[id] {
			return fmt.Errorf("%s: frame %d from client %d, want frame %d: lost, duplicated or out of order", c.name, seq, id, next[id])
		}
		next[id]++
		left--
	}
	return nil
}

// lossGuard bounds how long a receiver waits for the next frame.
const lossGuard = 60 * time.Second

// noDrops fails t for any frame the hub dropped, on any port.
func noDrops(t *testing.T, sess *serve.Session) {
	t.Helper()
	ports, err := sess.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		for reason, n := range p.Stats.Drops {
			t.Errorf("port %s dropped %d frames as %s, want none", p.Name, n, reason)
		}
	}
}

// run runs fns concurrently and returns their errors joined.
func runAll(fns ...func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// noStall is the stall time of the ports whose readers read all the time:
// longer than any test, so that a machine too loaded to run a reader for a
// while (the default stall time is 2s) does not make it drop frames.
const noStall = time.Hour

// lossFrames is how many frames each sender sends: 200 000, as the issue
// asks, or a tenth with -short.
func lossFrames() int {
	if testing.Short() {
		return 20_000
	}
	return 200_000
}

// TestUnpacedPairLosesNothing: the default hub (`l2hub` with no arguments,
// on free ports) and two QEMU stream clients that write as fast as TCP
// allows, both ways at once: every frame arrives, in order, and no drop
// counter moves. The stall time is an hour, not 2s: every reader here reads
// all the time, but a loaded machine may not run one for a while, and a
// stall is not what this test is about (TestStalledPort... is).
func TestUnpacedPairLosesNothing(t *testing.T) {
	for _, size := range []int{64, 1500} {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			cfg := serve.DefaultConfig()
			cfg.Ports, cfg.Stall = nil, noStall
			sess, c := startLossSession(t, cfg, "a", "b")
			n := lossFrames()
			a, b := c[0], c[1]
			err := runAll(
				func() error { return send(a, size, b.mac(), n) },
				func() error { return send(b, size, a.mac(), n) },
				func() error { return receive(a, map[byte]int{b.id: n}) },
				func() error { return receive(b, map[byte]int{a.id: n}) },
			)
			if err != nil {
				t.Fatal(err)
			}
			noDrops(t, sess)
			t.Logf("%d frames each way; senders paused %d times", n, pauses(t, sess))
		})
	}
}

func pauses(t *testing.T, sess *serve.Session) uint64 {
	ports, err := sess.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, p := range ports {
		n += p.Stats.Pauses
	}
	return n
}

// TestIncastLosesNothing: four clients send unpaced to one receiver at
// once, unicast through the switch and broadcast through a hub (where every
// client receives everyone else's): every frame arrives, in order per
// sender, and no drop counter moves.
func TestIncastLosesNothing(t *testing.T) {
	n := lossFrames() / 4
	t.Run("unicast", func(t *testing.T) {
		sess, c := startLossSession(t, serve.Config{Mode: hub.ModeSwitch, Stall: noStall}, "r", "s1", "s2", "s3", "s4")
		r, senders := c[0], c[1:]
		want := map[byte]int{}
		fns := []func() error{func() error { return receive(r, want) }}
		for _, s := range senders {
			want[s.id] = n
			fns = append(fns, func() error { return send(s, 64, r.mac(), n) })
		}
		if err := runAll(fns...); err != nil {
			t.Fatal(err)
		}
		noDrops(t, sess)
	})
	t.Run("broadcast-hub-mode", func(t *testing.T) {
		n := n / 4
		sess, c := startLossSession(t, serve.Config{Mode: hub.ModeHub, Stall: noStall}, "r", "s1", "s2", "s3", "s4")
		senders := c[1:]
		var fns []func() error
		for _, rc := range c {
			want := map[byte]int{}
			for _, s := range senders {
				if s != rc {
					want[s.id] = n
				}
			}
			fns = append(fns, func() error { return receive(rc, want) })
		}
		for _, s := range senders {
			fns = append(fns, func() error { return send(s, 200, hubtest.Broadcast, n) })
		}
		if err := runAll(fns...); err != nil {
			t.Fatal(err)
		}
		noDrops(t, sess)
	})
}

// TestStalledPortCostsTheOthersOnlyTheStallTime: a client that never reads
// is sent everything a and b send (hub mode floods it all), far more than
// any socket buffer holds. Its port holds a and b back for the stall time
// and then drops its own frames ("stalled"); b still gets every frame a
// sends, in order, and b's own traffic to a flows throughout. Every frame
// for c is accounted for, queued or dropped as stalled, and what waits for
// c stays within its bound: the resident set grows by a small part of what
// c was sent.
func TestStalledPortCostsTheOthersOnlyTheStallTime(t *testing.T) {
	n := lossFrames() / 4
	// c stalls after 200ms; a and b, whose readers a loaded machine may
	// not run for a while, never do within the test.
	sess, c := startLossSession(t, serve.Config{Mode: hub.ModeHub, Stall: noStall}, "a", "b", "c,stall=200ms")
	a, b := c[0], c[1] // c connects and never reads again
	rss0, _ := loadgen.RSS()
	err := runAll(
		func() error { return send(a, 1500, hubtest.Broadcast, n) },
		func() error { return send(b, 64, a.mac(), n) },
		func() error { return receive(a, map[byte]int{b.id: n}) },
		func() error { return receive(b, map[byte]int{a.id: n}) },
	)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := sess.Ports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		switch p.Name {
		case "c":
			st := p.Stats
			if st.Stalls == 0 || st.Drops["stalled"] == 0 {
				t.Errorf("port c: %d stalls, %d frames dropped as stalled; want it to have stalled", st.Stalls, st.Drops["stalled"])
			}
			for reason, k := range st.Drops {
				if reason != "stalled" {
					t.Errorf("port c dropped %d frames as %s, want only stalled drops", k, reason)
				}
			}
			// Each of a's and b's frames (and their hellos) was handed to
			// c's queue (TxFrames) or dropped there: none lost, none twice.
			if got, want := st.TxFrames+st.Drops["stalled"], uint64(2*n+2); got != want {
				t.Errorf("port c: %d frames queued + %d dropped as stalled = %d, want the %d a and b sent",
					st.TxFrames, st.Drops["stalled"], got, want)
			}
		default:
			for reason, k := range p.Stats.Drops {
				t.Errorf("port %s dropped %d frames as %s, want none", p.Name, k, reason)
			}
		}
	}
	rss1, err := loadgen.RSS()
	if err != nil || rss0 == 0 || testing.Short() {
		return // no /proc here, or too little was sent to tell
	}
	// c was sent n 1500-byte frames: an unbounded queue would keep them all
	// (over 100 MiB in the hub's 2 KiB frame buffers). Bounded, c's queue
	// holds at most DefaultBacklog frames (16 MiB); measured growth is
	// 14 MiB, 37 MiB with the race detector's shadow memory.
	limit := int64(48 << 20)
	if raceEnabled {
		limit *= 2
	}
	growth := int64(rss1) - int64(rss0)
	t.Logf("resident set grew by %d MiB while c stalled", growth>>20)
	if growth > limit {
		t.Errorf("resident set grew by %d MiB while c stalled, more than %d MiB: is what waits for c bounded?", growth>>20, limit>>20)
	}
}

// TestLongQueueLosesNothing: a port given a long queue (queue=8192, the
// old backlog bound; queue=50000, whose 1500-byte frames pass the byte
// bound long before the frame mark) holds its sender back before it drops
// anything: b reads nothing until a is paused (its socket window closed),
// then everything; every frame arrives, in order, and no drop counter
// moves. a writes 64 frames per writev(2), so that the hub's reader takes
// whole batches (a read buffer's worth), as it does from a busy VM.
func TestLongQueueLosesNothing(t *testing.T) {
	const size, n = 1500, 60_000 // past the queue, its bytes and both sides' socket buffers
	for _, queue := range []int{8192, 50_000} {
		t.Run(fmt.Sprintf("queue=%d", queue), func(t *testing.T) {
			cfg := serve.DefaultConfig()
			cfg.Ports, cfg.Stall = nil, noStall
			sess, c := startLossSession(t, cfg, "a", fmt.Sprintf("b,queue=%d", queue))
			a, b := c[0], c[1]
			sent := make(chan error, 1)
			go func() { sent <- sendBatches(a, size, b.mac(), n) }()
			paused, err := waitPaused(t, sess, "a", "b", sent)
			if !paused {
				a.conn.Close() // a may be paused for good: b reads no more
				t.Fatalf("before a was paused: %v", err)
			}
			err = runAll(
				func() error { return <-sent },
				func() error {
					err := receive(b, map[byte]int{a.id: n})
					if err != nil {
						a.conn.Close()
					}
					return err
				},
			)
			if err != nil {
				t.Fatal(err)
			}
			noDrops(t, sess)
		})
	}
}

// sendBatches is send with 64 frames per write.
func sendBatches(c *lossClient, size int, dst [6]byte, n int) error {
	batch := make([]*hub.Frame, 0, 64)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < cap(batch); i++ {
			batch = append(batch, hub.FrameOf(lossFrame(size, c, dst, uint32(i+1))))
		}
		_, err := c.conn.WriteFrames(batch)
		hub.ReleaseAll(batch)
		if err != nil {
			return fmt.Errorf("%s: frames up to %d: %w", c.name, i, err)
		}
	}
	return nil
}

// waitPaused waits until port from is paused (true), or port to has
// dropped a frame or sent, the sender, is done (false, and why).
func waitPaused(t *testing.T, sess *serve.Session, from, to string, sent chan error) (bool, error) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for time.Now().Before(deadline) {
		ports, err := sess.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			switch {
			case p.Name == to && len(p.Stats.Drops) > 0:
				return false, fmt.Errorf("port %s dropped %v with %d frames queued", p.Name, p.Stats.Drops, p.Queued)
			case p.Name == from && p.Flow.Paused:
				return true, nil
			}
		}
		select {
		case err := <-sent:
			return false, errors.Join(err, fmt.Errorf("port %s sent everything and was never paused", from))
		case <-time.After(time.Millisecond):
		}
	}
	return false, fmt.Errorf("port %s neither paused nor dropping after %v", from, hangGuard)
}

// TestBroadcastersUnderADelayLoseNothing: many clients in hub mode
// broadcast at once, every link under a delay, each writing 64 frames per
// writev(2) so that the hub reads them in whole batches: the hub-wide delay
// mark pauses each sender at the frame that passes it, so what the paused
// senders still send (one frame each, a copy per other client) fits the
// room above the mark and every frame arrives. A reader that forwarded
// the rest of each batch past the mark sent 20 × 64 × 19 copies, more
// than that room (16 384), and lost frames as delay-full.
func TestBroadcastersUnderADelayLoseNothing(t *testing.T) {
	const clients, size = 20, 60
	const n = 640 // 10 batches each
	dir := t.TempDir()
	cfg := serve.Config{Mode: hub.ModeHub, Stall: noStall, Policy: filepath.Join(dir, "delay.yaml")}
	if err := os.WriteFile(cfg.Policy, []byte("seed: 1\nrules:\n  - {name: slow, delay: 300ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	names := make([]string, clients)
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i)
	}
	sess, c := startLossSession(t, cfg, names...)
	var fns []func() error
	for _, rc := range c {
		want := map[byte]int{}
		for _, s := range c {
			if s != rc {
				want[s.id] = n
			}
		}
		fns = append(fns, func() error { return receive(rc, want) })
	}
	for _, s := range c {
		fns = append(fns, func() error { return sendBatches(s, size, hubtest.Broadcast, n) })
	}
	if err := runAll(fns...); err != nil {
		t.Fatal(err)
	}
	noDrops(t, sess)
}
