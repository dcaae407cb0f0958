package vsim_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/idle"
	"l2hub/internal/vsim"
	"l2hub/transport/netstack"
)

func TestClockFiresInDeadlineOrder(t *testing.T) {
	sim := vsim.New(vsim.Config{})
	defer sim.Close()
	c := sim.Clock
	var got []string
	fired := make(chan string, 8)
	note := func(s string) func() { return func() { fired <- s } }
	c.AfterFunc(30*time.Millisecond, note("c"))
	c.AfterFunc(10*time.Millisecond, note("a"))
	c.AfterFunc(10*time.Millisecond, note("b")) // same deadline: after a
	stopped := c.AfterFunc(20*time.Millisecond, note("stopped"))
	reset := c.AfterFunc(5*time.Millisecond, note("reset"))
	ch := hub.After(c, 20*time.Millisecond)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer returned false")
	}
	if stopped.Stop() {
		t.Fatal("a second Stop returned true")
	}
	reset.Reset(40 * time.Millisecond)

	for {
		moved, err := sim.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !moved {
			break
		}
		if err := idle.Settle(); err != nil {
			t.Fatal(err)
		}
	drain:
		for {
			select {
			case s := <-fired:
				got = append(got, s+"@"+c.Elapsed().String())
			default:
				break drain
			}
		}
	}
	want := []string{"a@10ms", "b@10ms", "c@30ms", "reset@40ms"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	select {
	case at := <-ch:
		if d := at.Sub(hub.DefaultEpoch); d != 20*time.Millisecond {
			t.Errorf("After(20ms) delivered %v after the start, want 20ms", d)
		}
	default:
		t.Error("After(20ms) never fired")
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("got %d timers pending after the run, want 0", n)
	}
}

func newHost(t *testing.T, sim *vsim.Sim, name string, last byte) *netstack.Host {
	t.Helper()
	h, err := netstack.New(netstack.Config{
		MAC:   net.HardwareAddr{0x02, 0, 0, 0, 0, last},
		Addr:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, last}), 24),
		Clock: sim.Clock,
		Rand:  rand.NewChaCha8([32]byte{last}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := sim.Attach(name, h.Describe(), h); err != nil {
		t.Fatal(err)
	}
	return h
}

// delay holds every frame on every link for d.
type delay time.Duration

func (d delay) Decide(_ time.Duration, _ hub.Link, _ []byte, dec *hub.Decision) {
	dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Duration(d)})
}

// TestPingTakesExactlyTheLinkDelay: with every link delayed by 7 ms, a ping
// (ARP request, reply, echo, reply: four crossings) takes exactly 28 ms of
// virtual time, whatever the machine's speed.
func TestPingTakesExactlyTheLinkDelay(t *testing.T) {
	sim := vsim.New(vsim.Config{Mode: hub.ModeSwitch, Policy: delay(7 * time.Millisecond)})
	defer sim.Close()
	a := newHost(t, sim, "a", 1)
	b := newHost(t, sim, "b", 2)
	pinged := make(chan error, 1)
	var at time.Duration
	if err := sim.Go(func() {
		pinged <- a.Ping(context.Background(), b.Addr(), 1)
	}); err != nil {
		t.Fatal(err)
	}
	var perr error
	done := func() bool {
		select {
		case perr = <-pinged:
			at = sim.Clock.Elapsed()
			return true
		default:
			return false
		}
	}
	if err := sim.Run(done, time.Minute); err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatal(perr)
	}
	if at != 28*time.Millisecond {
		t.Errorf("ping returned at %v of virtual time, want 28ms", at)
	}
	if st := sim.Stats(); st.Sent != 4 || st.Delivered != 4 {
		t.Errorf("got %+v, want 4 frames sent and 4 delivered", st)
	}
}

func TestRunReportsStall(t *testing.T) {
	sim := vsim.New(vsim.Config{})
	defer sim.Close()
	newHost(t, sim, "a", 1)
	if err := sim.Run(func() bool { return false }, time.Minute); err != vsim.ErrStalled {
		t.Fatalf("got %v, want ErrStalled", err)
	}
}

// digest hashes every frame the core sees with its time, port and
// direction: two runs with one digest produced the same capture.
type digest struct {
	h      hash.Hash
	frames int
}

func (d *digest) Observe(ev *hub.Event) {
	fmt.Fprintf(d.h, "%d %s %v %x\n", ev.Time.UnixNano(), ev.PortName, ev.Dir, ev.Frame)
	d.frames++
}

// echo runs one TCP echo session from a to b: a writes while it reads
// the echo, b writes back each read as it gets it. Every segment wakes two
// goroutines of a stack at once (its TCP processor and the program on the
// socket), and what the program has read or written by the time the
// processor sends decides the segments and windows: a capture that
// repeats needs the two to run one after the other.
func echo(t *testing.T) (string, int) {
	t.Helper()
	d := &digest{h: sha256.New()}
	sim := vsim.New(vsim.Config{Mode: hub.ModeSwitch, Observers: []hub.Observer{d}, Policy: delay(time.Millisecond)})
	defer sim.Close()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("got GOMAXPROCS %d while a Sim is open, want 1", got)
	}
	a := newHost(t, sim, "a", 1)
	b := newHost(t, sim, "b", 2)
	ln, err := b.ListenTCP(7)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 30_000
	back := make(chan int, 1)
	if err := sim.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Go(func() {
		c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(b.Addr(), 7))
		if err != nil {
			back <- -1
			return
		}
		go func() {
			chunk := make([]byte, 700)
			for i := 0; i < size; i += len(chunk) {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
		n, buf := 0, make([]byte, 900)
		for n < size {
			k, err := c.Read(buf)
			n += k
			if err != nil {
				break
			}
		}
		c.Close()
		back <- n
	}); err != nil {
		t.Fatal(err)
	}
	n := -2
	if err := sim.Run(func() bool {
		select {
		case n = <-back:
			return true
		default:
			return false
		}
	}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if want := (size + 699) / 700 * 700; n != want {
		t.Fatalf("a got %d bytes back, want %d", n, want)
	}
	return fmt.Sprintf("%x", d.h.Sum(nil)), d.frames
}

// TestRepeatsAtAnyGOMAXPROCS: a process that runs at two processors gets
// the same frames at the same virtual times from run to run, since a Sim
// holds it at one while it is open (and gives the two back at Close).
func TestRepeatsAtAnyGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	first, frames := echo(t)
	for i := range 11 { // unpinned, about one run in ten differs
		if got, n := echo(t); got != first {
			t.Fatalf("run %d: got digest %s of %d frames, want %s of %d as in the first run", i+2, got, n, first, frames)
		}
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("got GOMAXPROCS %d after every Sim closed, want 2 again", got)
	}
}
