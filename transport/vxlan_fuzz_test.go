package transport

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"l2hub/hub"
)

// FuzzVXLANDecap gives a VTEP's decapsulation whatever a host on the
// underlay could send, from each kind of sender: a remote (from its own
// port, or another of its IP), one of two remotes sharing an IP (from a
// port neither has), and a stranger. The result is the inner frame,
// exactly, or a refusal for the reason a plain reading of RFC 7348 gives;
// a unicast source MAC is learned on the remote it came from (for the
// shared IP's unknown port, forgotten), and the table stays within its
// bound.
//
// It runs in process, with no socket round trip (TestVXLANDecapsulation
// sends the same kinds of datagram through a real socket), on the
// smallest underlay MTU, and skips datagrams longer than that carries by
// more than a few bytes: minimising a new input takes a number of runs
// that grows with the square of its length, and with the default
// -fuzzminimizetime of 60s one long input used to take all of a short
// -fuzztime (`make fuzz` passes -fuzzminimizetime $(FUZZMINTIME), 5s).
// The seeds are few, small and valid.
func FuzzVXLANDecap(f *testing.F) {
	frame := vxFrame([6]byte{0x02, 0, 0, 0, 0, 0xb3}, 0xb2)
	good := append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, frame...)
	f.Add(good, byte(0), false)
	f.Add(good[:7], byte(1), false)
	f.Add(append([]byte{0x08, 0, 0, 0, 0, 0, 43, 0}, frame...), byte(2), false)
	f.Add(append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 42, 0xff}, frame[:12]...), byte(3), true)

	remote := netip.MustParseAddrPort("127.0.0.2:4789")
	sharedA, sharedB := netip.MustParseAddrPort("127.0.0.3:4789"), netip.MustParseAddrPort("127.0.0.3:4790")
	v, err := OpenVXLAN(VXLANConfig{Local: netip.MustParseAddrPort("127.0.0.1:0"), VNI: 42, MTU: minVXLANMTU,
		Remotes: []netip.AddrPort{remote, sharedA, sharedB}, Silence: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()
	senders := []struct {
		src   netip.AddrPort
		known bool
		learn netip.AddrPort // invalid: learns nothing
	}{
		{remote, true, remote},
		{netip.MustParseAddrPort("127.0.0.2:51234"), true, remote}, // a kernel VTEP's per-flow port
		{sharedB, true, sharedB},
		{netip.MustParseAddrPort("127.0.0.3:51234"), true, netip.AddrPort{}},
		{netip.MustParseAddrPort("127.0.0.9:4789"), false, netip.AddrPort{}},
	}
	f.Fuzz(func(t *testing.T, d []byte, who byte, truncated bool) {
		if len(d) > vxlanHeaderLen+v.MaxFrame()+8 {
			return
		}
		s := senders[int(who)%len(senders)]
		var want hub.DropReason
		switch {
		case !s.known:
			want = hub.DropForeign
		case len(d) < 8 || d[0]&0x08 == 0:
			want = hub.DropEncap
		case d[4] != 0 || d[5] != 0 || d[6] != 42:
			want = hub.DropVNI
		case truncated:
			want = hub.DropOversize
		case len(d)-8 < MinFrame:
			want = hub.DropRunt
		case len(d)-8 > v.MaxFrame():
			want = hub.DropOversize
		}
		in := bytes.Clone(d)
		inner, err := v.decap(d, s.src, DefaultMaxFrame, truncated)
		if !bytes.Equal(d, in) {
			t.Fatalf("decap changed its datagram")
		}
		var fe *hub.FrameError
		switch {
		case want == hub.DropNone && (err != nil || !bytes.Equal(inner, d[8:])):
			t.Fatalf("a %d-byte datagram from %v: got %x, %v; want its inner frame", len(d), s.src, inner, err)
		case want != hub.DropNone && (!errors.As(err, &fe) || fe.Reason != want || inner != nil):
			t.Fatalf("a %d-byte datagram from %v: got %x, %v; want a %s drop", len(d), s.src, inner, err, want)
		}
		if want == hub.DropNone && inner[6]&1 == 0 {
			got, ok := v.lookup(inner[6:12])
			switch {
			case s.learn.IsValid() && (!ok || got != s.learn):
				t.Fatalf("source %x from %v: got it learned on %v, %v; want %v", inner[6:12], s.src, got, ok, s.learn)
			case !s.learn.IsValid() && ok:
				// From one of the remotes sharing an IP, which unknown:
				// whatever an earlier input taught of the MAC is
				// forgotten, so that frames to it are flooded.
				t.Fatalf("source %x from %v: still learned on %v, want it forgotten", inner[6:12], s.src, got)
			}
		}
		if n, _, _ := v.fdb.stats(); n > fdbSize {
			t.Fatalf("the learning table holds %d MACs, over its %d", n, fdbSize)
		}
	})
}
