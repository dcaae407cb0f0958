package transport_test

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"l2hub/hub"
	"l2hub/transport"
	"l2hub/transport/transporttest"
)

// FuzzDatagramRead feeds the hub's datagram reader what a VM, or anyone
// else on the host, could send to a udp port: any bytes, from the peer or
// from a stranger. Whatever arrives, ReadFrames either hands over exactly
// the datagram, as a frame, or discards it with the reason a *hub.FrameError
// gives; and the peer's next frame still arrives whole.
func FuzzDatagramRead(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(make([]byte, 13), false)
	f.Add(make([]byte, 14), false)
	f.Add(transporttest.Frame(0xb2, 60, 1), false)
	f.Add(transporttest.Frame(0xb2, 1515, 2), false)
	f.Add(transporttest.Frame(0xcc, 60, 3), true)
	const max = 1514
	vmAddr := freeUDPAddr(f)
	h, err := transport.ListenUDP("127.0.0.1:0", vmAddr, max, 0)
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	// The VM and a stranger are plain sockets: a datagram may be anything,
	// even empty, which transport's own VM side would refuse to send.
	hubAddr := h.LocalAddr().(*net.UDPAddr)
	vm, err := net.ListenUDP("udp", mustUDPAddr(f, vmAddr))
	if err != nil {
		f.Fatal(err)
	}
	defer vm.Close()
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	defer stranger.Close()
	good := transporttest.Frame(0xb2, 60, 99)
	frames := make([]*hub.Frame, 8)

	f.Fuzz(func(t *testing.T, data []byte, foreign bool) {
		if len(data) > 9000 {
			data = data[:9000]
		}
		from := vm
		if foreign {
			from = stranger
		}
		if _, err := from.WriteToUDP(data, hubAddr); err != nil {
			t.Fatalf("send: %v", err)
		}
		if _, err := vm.WriteToUDP(good, hubAddr); err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		var reasons []hub.DropReason
		for len(got) == 0 || !bytes.Equal(got[len(got)-1], good) {
			n, err := h.ReadFrames(frames, max)
			var fe *hub.FrameError
			switch {
			case errors.As(err, &fe):
				reasons = append(reasons, fe.Reason)
			case err != nil:
				t.Fatalf("ReadFrames: %v", err)
			}
			for _, fr := range frames[:n] {
				got = append(got, bytes.Clone(fr.Bytes()))
			}
			hub.ReleaseAll(frames[:n])
			if len(got)+len(reasons) > 2 {
				t.Fatalf("read %d frames and %d drops for 2 datagrams", len(got), len(reasons))
			}
		}
		want := hub.DropNone
		switch {
		case foreign:
			want = hub.DropForeign
		case len(data) < transport.MinFrame:
			want = hub.DropRunt
		case len(data) > max:
			want = hub.DropOversize
		}
		if want == hub.DropNone {
			if len(got) != 2 || !bytes.Equal(got[0], data) || len(reasons) != 0 {
				t.Fatalf("a %d-byte frame from the peer: read %d frames, drops %v; want it, then the next", len(data), len(got), reasons)
			}
			return
		}
		if len(got) != 1 || len(reasons) != 1 || reasons[0] != want {
			t.Fatalf("a %d-byte datagram (foreign %v): read %d frames, drops %v; want a %s drop, then the next frame", len(data), foreign, len(got), reasons, want)
		}
	})
}

func mustUDPAddr(tb testing.TB, s string) *net.UDPAddr {
	tb.Helper()
	a, err := net.ResolveUDPAddr("udp", s)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// freeUDPAddr returns a loopback UDP address nothing is bound to.
func freeUDPAddr(tb testing.TB) string {
	tb.Helper()
	return freeUDPAddrs(tb, 1)[0]
}

// freeUDPAddrs is n addresses freeUDPAddr gives, each a port of its own:
// their sockets are all open before any closes, so two of them cannot be
// the same port.
func freeUDPAddrs(tb testing.TB, n int) []string {
	tb.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			tb.Fatal(err)
		}
		defer c.Close()
		addrs[i] = c.LocalAddr().String()
	}
	return addrs
}
