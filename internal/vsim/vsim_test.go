package vsim_test

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
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
