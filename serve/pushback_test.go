package serve_test

import (
	"context"
	"net"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/serve"
	"l2hub/transport"
)

// TestUDPSenderUsesTheBacklog: a UDP VM cannot be pushed back, so the hub
// goes on reading it while the port it sends to is congested (past the
// high-water mark, up to its second mark), rather than leave its burst to
// a socket buffer that overflows: it is not paused, and a stream VM that
// then reads gets every frame, in order, with no drop counted anywhere.
// The VM sends in small bursts, each once the hub has read the one before,
// so no socket buffer overflows whatever the load.
func TestUDPSenderUsesTheBacklog(t *testing.T) {
	vm, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	cfg := serve.Config{Mode: hub.ModeHub, Stall: noStall, Control: "off", Ports: []transport.Spec{
		{Name: "b", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "u", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: vm.LocalAddr().String()},
	}}
	sess := startSession(t, cfg, func(err error) { t.Errorf("transport stopped: %v", err) })
	bound := sess.Bound()
	b := &lossClient{id: 1, name: "b", conn: dialVM(t, bound[0].Spec.Address)}
	hubU, err := net.ResolveUDPAddr("udp", bound[1].Spec.Address)
	if err != nil {
		t.Fatal(err)
	}
	waitAttached(t, sess)
	u := &lossClient{id: 2, name: "u"}

	status := func() (us, bs hub.PortStatus) {
		ports, err := sess.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			switch p.Name {
			case "u":
				us = p
			case "b":
				bs = p
			}
		}
		return us, bs
	}
	sent := 0
	burst := func() {
		for range 50 {
			sent++
			if _, err := vm.WriteToUDP(lossFrame(1500, u, b.mac(), uint32(sent)), hubU); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(hangGuard)
		for {
			us, bs := status()
			switch {
			case us.Flow.Paused:
				t.Fatalf("u paused with %d frames queued for b (congested %v): a UDP VM cannot be pushed back", bs.Queued, bs.Flow.Congested)
			case len(us.Stats.Drops) > 0:
				t.Fatalf("u dropped %v", us.Stats.Drops)
			case us.Stats.RxFrames == uint64(sent):
				return
			case time.Now().After(deadline):
				t.Fatalf("the hub read %d of u's %d frames in %v", us.Stats.RxFrames, sent, hangGuard)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// b reads nothing: once its socket is full, its queue fills past the
	// high-water mark (b congested), and u goes on a thousand frames more.
	for {
		burst()
		if _, bs := status(); bs.Flow.Congested {
			break
		}
	}
	for range 1000 / 50 {
		burst()
	}
	if _, bs := status(); !bs.Flow.Congested || bs.Queued <= hub.DefaultQueueLen {
		t.Fatalf("b holds %d frames, congested %v; want it past its high-water mark", bs.Queued, bs.Flow.Congested)
	}
	if err := receive(b, map[byte]int{u.id: sent}); err != nil {
		t.Fatal(err)
	}
	noDrops(t, sess)
	t.Logf("u sent %d frames without a pause", sent)
}
