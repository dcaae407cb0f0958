package netstack_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/vsim"
	"l2hub/transport/netstack"
)

// outage delays every frame by a millisecond and, once port a has sent
// its first frames of bulk data, drops everything a sends for a window of
// virtual time: a partition that heals, or a switch that stopped reading
// for a moment, taking the whole flight in the air.
type outage struct {
	after  int           // frames a sends before the outage starts
	length time.Duration // how long it lasts
	sent   int
	start  time.Duration
	began  bool
}

func (o *outage) Decide(now time.Duration, l hub.Link, _ []byte, dec *hub.Decision) {
	dec.Copies = append(dec.Copies, hub.Copy{Delay: time.Millisecond})
	if l.FromName != "a" {
		return
	}
	o.sent++
	if o.sent == o.after {
		o.start, o.began = now, true
	}
	if o.began && now < o.start+o.length {
		dec.Drop = true
	}
}

// TestTCPRecoversFromAnOutage: a 100 ms outage in the middle of a bulk
// transfer costs a virtual host about one retransmission timeout, as it
// costs a Linux guest (223 ms in all here), not a crawl of one segment per
// timeout: with gVisor's RACK loss detection left on, this transfer took
// 4.3 s of virtual time, and 1 MB at 1500 B frames 30 s. Virtual time: the
// figures hold on any machine under any load.
func TestTCPRecoversFromAnOutage(t *testing.T) {
	sim := vsim.New(vsim.Config{Mode: hub.ModeSwitch, Policy: &outage{after: 40, length: 100 * time.Millisecond}})
	defer sim.Close()
	host := func(name string, last byte) *netstack.Host {
		h, err := netstack.New(netstack.Config{
			MAC:   net.HardwareAddr{0x02, 0, 0, 0, 0, last},
			Addr:  netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, last}), 24),
			MTU:   9000, // jumbo frames: fewer events for the simulation to settle
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
	a, b := host("a", 1), host("b", 2)
	ln, err := b.ListenTCP(7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := bytes.Repeat([]byte("l2hub outage "), 80_000) // 1 MB: ~120 segments
	type result struct {
		got []byte
		err error
	}
	received := make(chan result, 1)
	if err := sim.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			received <- result{err: err}
			return
		}
		defer c.Close()
		got, err := io.ReadAll(c)
		received <- result{got, err}
	}); err != nil {
		t.Fatal(err)
	}
	if err := sim.Go(func() {
		c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(b.Addr(), 7000))
		if err != nil {
			received <- result{err: err}
			return
		}
		c.Write(payload)
		c.Close()
	}); err != nil {
		t.Fatal(err)
	}
	var r result
	done := func() bool {
		select {
		case r = <-received:
			return true
		default:
			return false
		}
	}
	if err := sim.Run(done, time.Minute); err != nil {
		t.Fatalf("after %v of virtual time: %v", sim.Clock.Elapsed(), err)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !bytes.Equal(r.got, payload) {
		t.Fatalf("received %d bytes that differ from the %d sent", len(r.got), len(payload))
	}
	// The outage (100 ms) and one retransmission timeout (200 ms at
	// least) are unavoidable; the rest of the transfer takes tens of
	// milliseconds at a 2 ms round trip.
	const bound = 2 * time.Second
	took := sim.Clock.Elapsed()
	t.Logf("1 MB across a 100 ms outage in %v of virtual time (%+v)", took, sim.Stats())
	if took > bound {
		t.Errorf("the transfer took %v of virtual time, want under %v", took, bound)
	}
}
