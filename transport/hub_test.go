package transport_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// liveHub runs a real hub.Hub with one port per spec, each opened and run
// by its transport Runner, until the test ends.
type liveHub struct {
	h       *hub.Hub
	runners map[string]transport.Runner
}

func startHub(t *testing.T, specs ...transport.Spec) *liveHub {
	t.Helper()
	return startHubWith(t, transport.Options{}, specs...)
}

// startHubWith is startHub with the runners' options; the redial delays
// are short unless opts sets them.
func startHubWith(t *testing.T, opts transport.Options, specs ...transport.Spec) *liveHub {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	}
	h, err := hub.New(hub.Config{Mode: hub.ModeHub, Clock: wallclock.Clock{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		if err := h.Run(ctx); err != nil {
			t.Errorf("hub Run: %v", err)
		}
	})
	lh := &liveHub{h: h, runners: map[string]transport.Runner{}}
	for _, s := range specs {
		if err := h.AddPort(s.Name, s.String()); err != nil {
			t.Fatal(err)
		}
		if s.Transport == "" { // a pipe, attached by the test
			continue
		}
		r, err := s.Open(opts)
		if err != nil {
			t.Fatalf("Open(%s): %v", s, err)
		}
		lh.runners[s.Name] = r
		wg.Go(func() {
			if err := r.Run(ctx, h); err != nil {
				t.Errorf("Run(%s): %v", s, err)
			}
		})
	}
	return lh
}

// waitPort waits until the named port's status satisfies ok; what says
// what the test waits for, should it not come.
func (lh *liveHub) waitPort(t *testing.T, name, what string, ok func(hub.PortStatus) bool) {
	t.Helper()
	deadline := time.Now().Add(transporttest.HangGuard)
	for time.Now().Before(deadline) {
		ports, err := lh.h.Ports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ports {
			if p.Name == name && ok(p) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("port %q: %s within %v", name, what, transporttest.HangGuard)
}

// waitAttached waits until the port has had attaches peers and has one now.
func (lh *liveHub) waitAttached(t *testing.T, name string, attaches uint64) {
	t.Helper()
	lh.waitPort(t, name, fmt.Sprintf("no peer attached (attach #%d)", attaches), func(p hub.PortStatus) bool {
		return p.Attached && p.Stats.Attaches == attaches
	})
}

// waitDetached waits until the port has no peer.
func (lh *liveHub) waitDetached(t *testing.T, name string) {
	t.Helper()
	lh.waitPort(t, name, "peer still attached", func(p hub.PortStatus) bool { return !p.Attached })
}

// dialVM connects to the "vm" port's listener over network (tcp or unix),
// as a VM's stream back end does; the connection closes when the test
// ends.
func (lh *liveHub) dialVM(t *testing.T, network string) net.Conn {
	t.Helper()
	c, err := net.Dial(network, lh.runners["vm"].Spec().Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitPaused waits until the core holds the port's sender back.
func (lh *liveHub) waitPaused(t *testing.T, name string) {
	t.Helper()
	lh.waitPort(t, name, "not paused", func(p hub.PortStatus) bool { return p.Flow.Paused })
}

// vmEnd is one VM's end in the hub tests, with a unique source MAC.
type vmEnd struct {
	name string
	io   hub.PortIO
	mac  byte
	echo bool // hears its own frames (multicast member)
}

func broadcast(src byte, seq int) []byte {
	f := transporttest.Frame(src, 60, seq)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return f
}

// readFrom reads v's next frame, skipping its own echoes, failing the test
// if none comes.
func (v *vmEnd) read(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, transport.DefaultMaxFrame)
	for {
		ch := make(chan error, 1)
		var n int
		go func() {
			var err error
			n, err = hub.ReadFrame(v.io, buf)
			ch <- err
		}()
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("VM %s: read: %v", v.name, err)
			}
		case <-time.After(transporttest.HangGuard):
			v.io.Close()
			t.Fatalf("VM %s: no frame within %v", v.name, transporttest.HangGuard)
		}
		if v.echo && buf[11] == v.mac {
			continue
		}
		return buf[:n]
	}
}

// vmAndPeer starts a hub with a stream port "vm" of transport tr (TCP or
// unix) and a port "peer" attached to a pipe, whose far end it returns
// with the network to dial the vm port on.
func vmAndPeer(t *testing.T, tr transport.Transport) (lh *liveHub, network string, peer *transport.PipeEnd) {
	t.Helper()
	network, addr := "tcp", "127.0.0.1:0"
	if tr == transport.Unix {
		network, addr = "unix", filepath.Join(t.TempDir(), "hub.sock")
	}
	lh = startHub(t, transport.Spec{Name: "vm", Transport: tr, Address: addr}, transport.Spec{Name: "peer"})
	a, peer := transport.Pipe()
	if _, err := lh.h.Attach("peer", a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return lh, network, peer
}

// Every transport on one real hub: each VM's broadcast reaches every other
// VM exactly once and never comes back to its sender.
func TestEveryTransportThroughHub(t *testing.T) {
	dir := t.TempDir()
	vmListen, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer vmListen.Close()
	udpVM := freeUDPAddr(t)
	specs := []transport.Spec{
		{Name: "tcp", Transport: transport.TCP, Address: "127.0.0.1:0"},
		{Name: "unix", Transport: transport.Unix, Address: filepath.Join(dir, "hub.sock")},
		{Name: "tcp-dial", Transport: transport.TCPDial, Address: vmListen.Addr().String()},
		{Name: "udp", Transport: transport.UDP, Address: "127.0.0.1:0", Peer: udpVM},
		{Name: "unixgram", Transport: transport.Unixgram, Address: filepath.Join(dir, "hubgram.sock"), Peer: filepath.Join(dir, "vmgram.sock")},
		{Name: "pipe"},
	}
	// A spec names the group's port (the VMs share it): take one a probe got.
	if probe, err := transport.JoinMcast(mcastGroup+":0", "127.0.0.1", 0, 0); err == nil {
		probe.Close()
		specs = append(specs, transport.Spec{Name: "mcast", Transport: transport.Mcast, Address: probe.LocalAddr().String()})
	} else {
		t.Logf("multicast on loopback is not available here, leaving it out: %v", err)
	}
	lh := startHub(t, specs...)

	var vms []*vmEnd
	add := func(name string, io hub.PortIO, echo bool) {
		t.Cleanup(func() { io.Close() })
		vms = append(vms, &vmEnd{name: name, io: io, mac: byte(0xc0 + len(vms)), echo: echo})
	}
	for _, s := range specs {
		var r transport.Runner
		if s.Transport != "" {
			r = lh.runners[s.Name]
		}
		switch s.Transport {
		case transport.TCP, transport.Unix:
			c, err := transport.DialStream(context.Background(), map[transport.Transport]string{transport.TCP: "tcp", transport.Unix: "unix"}[s.Transport], r.Spec().Address, 0)
			if err != nil {
				t.Fatal(err)
			}
			add(s.Name, c, false)
		case transport.TCPDial:
			c, err := vmListen.Accept()
			if err != nil {
				t.Fatal(err)
			}
			add(s.Name, transport.NewStreamConn(c, 0), false)
		case transport.UDP:
			c, err := transport.ListenUDP(udpVM, r.Spec().Address, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			add(s.Name, c, false)
		case transport.Unixgram:
			c, err := transport.ListenUnixgram(s.Peer, s.Address, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			add(s.Name, c, false)
		case transport.Mcast:
			c, err := transport.JoinMcastLikeQEMU(r.Spec().Address, "127.0.0.1", 0)
			if err != nil {
				t.Fatal(err)
			}
			add(s.Name, c, true)
		case "":
			a, b := transport.Pipe()
			if _, err := lh.h.Attach(s.Name, a); err != nil {
				t.Fatal(err)
			}
			add(s.Name, b, false)
		}
	}
	for _, s := range specs {
		lh.waitAttached(t, s.Name, 1)
	}

	// One VM at a time, so every VM reads the others' frames in send order:
	// a frame reflected to its sender would show up as a wrong frame.
	for i, from := range vms {
		f := broadcast(from.mac, i)
		if err := hub.WriteFrame(from.io, f); err != nil {
			t.Fatalf("VM %s: write: %v", from.name, err)
		}
		for _, to := range vms {
			if to == from {
				continue
			}
			if got := to.read(t); string(got) != string(f) {
				t.Fatalf("VM %s got %x..., want %s's broadcast %x...", to.name, got[:16], from.name, f[:16])
			}
		}
	}
	for _, s := range specs {
		st := lh.h.Stats(context.Background(), s.Name).Snapshot()
		if want := uint64(len(vms) - 1); st.RxFrames != 1 || st.TxFrames != want {
			t.Errorf("port %s: got rx %d tx %d, want rx 1 tx %d", s.Name, st.RxFrames, st.TxFrames, want)
		}
	}
}

// A port keeps its name and counters across a VM's disconnect and
// reconnect; a second VM is refused while the first is attached; a zero
// length prefix is a runt, counted as one, and the VM stays; a length
// prefix above the maximum costs the VM its connection, and it can come
// back.
func TestStreamPortLifecycleThroughHub(t *testing.T) {
	for _, tr := range []transport.Transport{transport.TCP, transport.Unix} {
		t.Run(string(tr), func(t *testing.T) {
			lh, network, peer := vmAndPeer(t, tr)
			pv := &vmEnd{name: "peer", io: peer, mac: 0xee}
			var raw net.Conn // the last VM's socket, for bytes no framer sends
			dial := func() *vmEnd {
				c := lh.dialVM(t, network)
				raw = c
				sc := transport.NewStreamConn(c, 0)
				t.Cleanup(func() { sc.Close() })
				return &vmEnd{name: "vm", io: sc, mac: 0xc1}
			}
			roundTrip := func(vm *vmEnd, seq int) {
				t.Helper()
				up, down := broadcast(vm.mac, seq), broadcast(pv.mac, seq)
				if err := hub.WriteFrame(vm.io, up); err != nil {
					t.Fatal(err)
				}
				if got := pv.read(t); string(got) != string(up) {
					t.Fatalf("peer got %x, want %x", got[:16], up[:16])
				}
				if err := peer.WriteFrame(down); err != nil {
					t.Fatal(err)
				}
				if got := vm.read(t); string(got) != string(down) {
					t.Fatalf("vm got %x, want %x", got[:16], down[:16])
				}
			}

			vm1 := dial()
			lh.waitAttached(t, "vm", 1)
			roundTrip(vm1, 1)

			intruder := dial()
			buf := make([]byte, transport.DefaultMaxFrame)
			if _, err := hub.ReadFrame(intruder.io, buf); err == nil {
				t.Fatal("a second VM was served while the port was busy")
			}
			roundTrip(vm1, 2)

			vm1.io.Close()
			lh.waitDetached(t, "vm")
			vm2 := dial()
			lh.waitAttached(t, "vm", 2)
			roundTrip(vm2, 3)

			// A zero length prefix: a zero-length runt, not a bad stream.
			if _, err := raw.Write(binary.BigEndian.AppendUint32(nil, 0)); err != nil {
				t.Fatal(err)
			}
			roundTrip(vm2, 4)

			// A length prefix above the maximum: the hub drops the VM.
			if _, err := raw.Write(binary.BigEndian.AppendUint32(nil, transport.DefaultMaxFrame+1)); err != nil {
				t.Fatal(err)
			}
			if _, err := hub.ReadFrame(vm2.io, buf); err == nil {
				t.Fatal("the hub kept a VM that sent a bad length prefix")
			}
			lh.waitDetached(t, "vm")
			vm3 := dial()
			lh.waitAttached(t, "vm", 3)
			roundTrip(vm3, 5)

			st := lh.h.Stats(context.Background(), "vm").Snapshot()
			want := hub.StatsSnapshot{RxFrames: 5, RxBytes: 300, TxFrames: 5, TxBytes: 300, Attaches: 3, Refused: 1,
				Drops: map[string]uint64{"oversize": 1, "runt": 1}}
			if fmt.Sprint(st) != fmt.Sprint(want) {
				t.Errorf("port vm counters: got %+v, want %+v", st, want)
			}
		})
	}
}

// TestRestartedVMWaitsForItsOldConnection: a VM that reconnects while the
// hub has not yet read its old connection to the end (the port's reader is
// paused behind a peer that does not read) is not refused, since QEMU
// before 8.0 never retries a connect: the new connection waits for the old one, and
// the peer gets every frame of both, the old ones first.
func TestRestartedVMWaitsForItsOldConnection(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells a hung-up peer before its data is read (POLLRDHUP)")
	}
	for _, tr := range []transport.Transport{transport.TCP, transport.Unix} {
		t.Run(string(tr), func(t *testing.T) {
			lh, network, peer := vmAndPeer(t, tr)
			dial := func() net.Conn { return lh.dialVM(t, network) }
			// The old VM sends far more than the peer's pipe and queue
			// take, in one write (no socket buffer fills), and goes.
			const old = 1000
			var stream []byte
			for seq := range old {
				stream = binary.BigEndian.AppendUint32(stream, 60)
				stream = append(stream, broadcast(0xc1, seq)...)
			}
			vm1 := dial()
			lh.waitAttached(t, "vm", 1)
			if _, err := vm1.Write(stream); err != nil {
				t.Fatal(err)
			}
			lh.waitPaused(t, "vm")
			vm1.Close()

			vm2 := transport.NewStreamConn(dial(), 0)
			last := broadcast(0xc2, old)
			if err := hub.WriteFrame(vm2, last); err != nil {
				t.Fatal(err)
			}
			pv := &vmEnd{name: "peer", io: peer, mac: 0xee}
			for seq := range old {
				if got, want := pv.read(t), broadcast(0xc1, seq); string(got) != string(want) {
					t.Fatalf("peer's frame %d is %x, want the old VM's frame %d", seq, got[:18], seq)
				}
			}
			if got := pv.read(t); string(got) != string(last) {
				t.Fatalf("peer's frame %d is %x, want the new VM's", old, got[:18])
			}
			lh.waitAttached(t, "vm", 2)
			if st := lh.h.Stats(context.Background(), "vm").Snapshot(); st.Refused != 0 {
				t.Errorf("the port refused %d connections, want none", st.Refused)
			}
		})
	}
}

// TestRapidReconnectsAreNotRefused: a VM that closes and connects again at
// once, before the hub has read the old connection's end, is served: each
// of its lives' frames reaches the peer, and no connection is refused.
func TestRapidReconnectsAreNotRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells a hung-up peer before its data is read (POLLRDHUP)")
	}
	lh, _, peer := vmAndPeer(t, transport.TCP)
	pv := &vmEnd{name: "peer", io: peer, mac: 0xee}
	const lives = 50
	for seq := range lives {
		c, err := net.Dial("tcp", lh.runners["vm"].Spec().Address)
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.WriteFrame(transport.NewStreamConn(c, 0), broadcast(0xc1, seq)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	for seq := range lives {
		if got, want := pv.read(t), broadcast(0xc1, seq); string(got) != string(want) {
			t.Fatalf("peer's frame %d is %x, want the VM's frame of life %d", seq, got[:18], seq)
		}
	}
	if st := lh.h.Stats(context.Background(), "vm").Snapshot(); st.Refused != 0 || st.Attaches != lives {
		t.Errorf("the port refused %d connections and attached %d, want none refused and %d attached", st.Refused, st.Attaches, lives)
	}
}

// TestStoppedFrameFreesThePort: a client that sends a length prefix, or
// part of a frame, and then nothing, is cut off once the frame's bound
// passes (a short one here), the frame counted as a runt, and the port
// takes the next VM. A VM silent between frames for longer than the bound
// keeps its connection.
func TestStoppedFrameFreesThePort(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent []byte
	}{
		{"length-prefix", []byte{0, 0, 0, 60}},
		{"half-a-length-prefix", []byte{0, 0}},
		{"half-a-frame", append([]byte{0, 0, 0, 60}, broadcast(0xc1, 0)[:30]...)},
	} {
		for _, tr := range []transport.Transport{transport.TCP, transport.Unix} {
			t.Run(tc.name+"/"+string(tr), func(t *testing.T) {
				network, addr := "tcp", "127.0.0.1:0"
				if tr == transport.Unix {
					network, addr = "unix", filepath.Join(t.TempDir(), "hub.sock")
				}
				const bound = 20 * time.Millisecond
				lh := startHubWith(t, transport.Options{FrameTimeout: bound}, transport.Spec{Name: "vm", Transport: tr, Address: addr}, transport.Spec{Name: "peer"})
				a, peer := transport.Pipe()
				if _, err := lh.h.Attach("peer", a); err != nil {
					t.Fatal(err)
				}
				defer peer.Close()
				pv := &vmEnd{name: "peer", io: peer, mac: 0xee}
				dial := func() net.Conn { return lh.dialVM(t, network) }

				// Silent between frames for several bounds: still attached.
				quiet := transport.NewStreamConn(dial(), 0)
				lh.waitAttached(t, "vm", 1)
				if err := hub.WriteFrame(quiet, broadcast(0xc1, 1)); err != nil {
					t.Fatal(err)
				}
				pv.read(t)
				time.Sleep(5 * bound)
				if err := hub.WriteFrame(quiet, broadcast(0xc1, 2)); err != nil {
					t.Fatal(err)
				}
				if got, want := pv.read(t), broadcast(0xc1, 2); string(got) != string(want) {
					t.Fatalf("peer got %x, want the quiet VM's second frame", got[:18])
				}
				quiet.Close()
				lh.waitDetached(t, "vm")

				stuck := dial()
				lh.waitAttached(t, "vm", 2)
				if _, err := stuck.Write(tc.sent); err != nil {
					t.Fatal(err)
				}
				stuck.SetReadDeadline(time.Now().Add(transporttest.HangGuard))
				if _, err := stuck.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the hub kept a connection that stopped mid-frame for %v", transporttest.HangGuard)
				}
				lh.waitDetached(t, "vm")

				next := transport.NewStreamConn(dial(), 0)
				lh.waitAttached(t, "vm", 3)
				if err := hub.WriteFrame(next, broadcast(0xc2, 3)); err != nil {
					t.Fatal(err)
				}
				if got, want := pv.read(t), broadcast(0xc2, 3); string(got) != string(want) {
					t.Fatalf("peer got %x, want the next VM's frame", got[:18])
				}
				st := lh.h.Stats(context.Background(), "vm").Snapshot()
				if st.Drops[hub.DropRunt.String()] != 1 || st.Refused != 0 {
					t.Errorf("port vm: got drops %v, refused %d; want runt:1, none refused", st.Drops, st.Refused)
				}
			})
		}
	}
}
