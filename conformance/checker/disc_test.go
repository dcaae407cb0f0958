package checker

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// TestBroadcastAnnounceIsLearned: a third VM broadcasts a node-b announce
// after node-a and node-b announced normally, and node-a dials it. The OS
// takes broadcasts (smoltcp accepts 255.255.255.255 and 10.42.0.255 on a
// socket bound to <own IP>:37020), so node-a learns it and, following the
// last node-b to announce (§2.4), rightly dials the broadcaster: DISC-006
// fails the broadcaster, SESS-001 does not fail node-a. A datagram on the
// broadcast MAC to another VM's address is not node-a's, nor is a
// broadcast on another VM's MAC (its NIC takes it, node-a's never sees
// it), nor a broadcast whose copy to node-a's port the hub dropped while
// flooding it elsewhere: node-a's dial target stays node-b's unicast
// announce.
func TestBroadcastAnnounceIsLearned(t *testing.T) {
	bcastMAC := mustMAC("ff:ff:ff:ff:ff:ff")
	subnet := netip.MustParseAddr("10.42.0.255")
	tests := []struct {
		name    string
		dstMAC  net.HardwareAddr
		dst     netip.Addr
		why     string // the hub's notes on the broadcast, which a third VM on port c sent
		learned bool
	}{
		{"subnet-broadcast", bcastMAC, subnet, "", true},
		{"limited-broadcast", bcastMAC, netip.MustParseAddr("255.255.255.255"), "", true},
		{"broadcast-mac-to-another-vm", bcastMAC, netip.MustParseAddr("10.42.0.13"), "", false},
		{"subnet-broadcast-to-node-a-mac", hostA.mac, subnet, "", true},
		{"subnet-broadcast-to-node-b-mac", hostB.mac, subnet, "", false},
		{"copy-to-node-a-dropped", bcastMAC, subnet, "c->a: rule loss-a: drop (p=1)", false},
		{"copy-to-node-b-dropped", bcastMAC, subnet, "c->b: rule loss-b: drop (p=1)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			bc := b.add(b.udp(hostC, hostC.ip, tt.dstMAC, tt.dst, 37020, 37020, announceOf(t, conformance.RoleB)))
			f := b.flow(hostA, hostC, 40010, 34568)
			f.connect()
			frames := b.frames
			if tt.why != "" {
				frames = slices.Clone(b.frames)
				for i := range frames {
					_, frames[i].Port = portOf(frames[i])
					frames[i].Dir = DirIngress
				}
				frames[bc-1].Port, frames[bc-1].Why = "c", tt.why
			}
			r := feed(t, Options{}, frames)
			if fd, ok := r.First(DISC006); !ok || fd.Verdict != Fail || !containsInt(fd.Frames, bc) || !strings.Contains(fd.Message, "never broadcasts") {
				t.Errorf("got DISC-006 %v, want the broadcast (frame %d) failed:\n%s", fd, bc, dump(r))
			}
			fd, failed := findingWith(r, SESS001, "dialled 10.42.0.12:34568")
			if tt.learned && failed {
				t.Errorf("got %v, want no SESS-001 against node-a: it learned the broadcast announce:\n%s", fd, dump(r))
			}
			if !tt.learned && (!failed || fd.Verdict != Fail) {
				t.Errorf("got SESS-001 %v (found %v), want node-a's dial to 10.42.0.12 failed: it never received that announce:\n%s", fd, failed, dump(r))
			}
		})
	}
}

// TestInjectedAnnouncesAreNoDevice: DISC-004 counts device ids, so an
// announce the hub injected in node-b's name, saying what node-b says,
// adds no device to its pass.
func TestInjectedAnnouncesAreNoDevice(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	inj := b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, announceOf(t, conformance.RoleB)))
	evs := ingressEvents(b.frames)
	evs[inj-1] = injectEvent(b.frames[inj-1], "a")
	r := liveAndFile(t, evs)
	want := "device ids that keep one key and one port: 2"
	if fd, ok := r.First(DISC004); !ok || fd.Verdict != Pass || !strings.HasSuffix(fd.Message, want) || !containsInt(fd.Frames, inj) {
		t.Errorf("got DISC-004 %v (found %v), want a pass saying %q, citing the injected announce (frame %d):\n%s", fd, ok, want, inj, dump(r))
	}
}

// TestNX10CountsRounds: NX-10 counts announce rounds that repeat the one
// before. A round's multicast and unicast copies are identical by design
// (§2.1), so they are one round, whichever comes first, whether or not
// the round's other copy was lost, and whether or not a kind's copies come
// in a burst (a Linux guest queues its unicast copies until ARP resolves);
// a copy of the same kind again is a repeat.
func TestNX10CountsRounds(t *testing.T) {
	a := announceOf(t, conformance.RoleA)
	tests := []struct {
		name   string
		copies string // m: to the group, u: unicast to node-b
		want   string // "": no NX-10 for node-a
	}{
		{"one-round", "mu", ""},
		{"three-rounds", "mumumu", "repeated the same announce 2 times"},
		{"unicast-first", "umumum", "repeated the same announce 2 times"},
		{"first-unicast-lost", "mmumu", "repeated the same announce 2 times"},
		{"unicast-only", "uuu", "repeated the same announce 2 times"},
		{"unicast-replayed", "muu", "repeated the same announce once"},
		{"unicast-burst", "mmmuuu", "repeated the same announce 2 times"},
		{"burst-then-alternating", "mmmuuumumu", "repeated the same announce 4 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			for _, c := range tt.copies {
				if c == 'm' {
					b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, a))
				} else {
					b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 37020, 37020, a))
				}
				b.wait(64 * time.Millisecond)
			}
			r := feed(t, Options{}, b.frames)
			fd, ok := findingWith(r, NX10, "node-a repeated")
			switch {
			case tt.want == "" && ok:
				t.Errorf("got %v, want no repeat", fd)
			case tt.want != "" && (!ok || !strings.Contains(fd.Message, tt.want)):
				t.Errorf("got NX-10 %v (found %v), want %q:\n%s", fd, ok, tt.want, dump(r))
			}
		})
	}
}

// TestMulticastOnlyAndARP: a node that sent its announces only to the
// group fails DISC-006 when the wire shows it had its peer's MAC (ARP
// from the peer reached it) or its peer was there and it never asked;
// when its ARP requests for the peer got no reply that reached it, or the
// peer never appeared, no unicast copy could reach the wire, and DISC-006
// only warns, saying so. The finding cites the first ARP packet it rests
// on. Announces the hub injected always fail: the injector has no ARP.
func TestMulticastOnlyAndARP(t *testing.T) {
	const req, rep = 1, 2
	mcast := func(b *builder, n int, opts ...frameOpt) {
		for range n {
			b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA)), opts...)
		}
	}
	ask := func(b *builder, opts ...frameOpt) {
		b.wait(time.Second) // a retry, not a copy (dedupe.go)
		b.add(b.arp(req, hostA, hostA.ip, hostB), opts...)
	}
	tests := []struct {
		name    string
		run     func(b *builder)
		verdict Verdict
		want    string // "": no DISC-006 finding about the sender
		about   string // the sender's name in the finding, if not "node-a"
		cites   []int  // frames the finding must cite
	}{
		{"arp-answered", func(b *builder) {
			ask(b)
			b.add(b.arp(rep, hostB, hostB.ip, hostA))
			mcast(b, 3)
		}, Fail, "node-a sent 3 announces to the multicast group and none by unicast, 3 of them after ARP gave it 10.42.0.11's MAC (frame 2): receivers drop", "", nil},
		{"peer-asked-for-it", func(b *builder) {
			b.add(b.arp(req, hostB, hostB.ip, hostA))
			mcast(b, 2)
		}, Fail, "2 of them after ARP gave it 10.42.0.11's MAC (frame 1)", "", nil},
		{"peer-there-never-asked", func(b *builder) {
			b.announce(hostB, announceOf(t, conformance.RoleB))
			mcast(b, 3)
		}, Fail, "node-a sent 3 announces to the multicast group and none by unicast: receivers drop", "", nil},
		{"arp-unanswered", func(b *builder) {
			for range 4 {
				mcast(b, 1)
				ask(b)
			}
		}, Warn, "no unicast announce on the wire: node-a's ARP requests for 10.42.0.11 got no reply (4 requests), and without its peer's MAC a node sends no unicast copy; its 4 announces", "", nil},
		{"arp-unanswered-peer-there", func(b *builder) {
			b.announce(hostB, announceOf(t, conformance.RoleB))
			ask(b)
			mcast(b, 3)
		}, Warn, "node-a's ARP requests for 10.42.0.11 got no reply (1 request)", "", nil},
		{"arp-dropped", func(b *builder) {
			b.announce(hostB, announceOf(t, conformance.RoleB))
			ask(b, dropped)
			ask(b)
			ask(b, dropped)
			mcast(b, 3)
		}, Warn, "got no reply (3 requests, 2 dropped by the hub)", "", nil},
		{"reply-dropped", func(b *builder) {
			ask(b)
			b.add(b.arp(rep, hostB, hostB.ip, hostA), dropped)
			mcast(b, 3)
		}, Warn, "got no reply that reached it (1 request; the hub dropped the reply)", "", nil},
		{"answered-late", func(b *builder) {
			ask(b)
			mcast(b, 3)
			b.add(b.arp(rep, hostB, hostB.ip, hostA))
			mcast(b, 1)
		}, Warn, "no unicast announce on the wire: ARP gave node-a 10.42.0.11's MAC only at frame 5, and it sent 1 announce to the multicast group after, too few to tell", "", nil},
		{"peer-never-appeared", func(b *builder) {
			mcast(b, 3)
		}, Warn, "but its peer 10.42.0.11 sent nothing and no ARP request for it was seen", "", nil},
		{"injected-request-is-not-its-own", func(b *builder) {
			b.announce(hostB, announceOf(t, conformance.RoleB))
			ask(b, injected)
			mcast(b, 3)
		}, Fail, "none by unicast: receivers drop", "", nil},
		{"answered-twice-cites-first-reply", func(b *builder) {
			ask(b)
			b.add(b.arp(rep, hostB, hostB.ip, hostA)) // frame 2
			b.wait(time.Second)
			b.add(b.arp(rep, hostB, hostB.ip, hostA))
			mcast(b, 3)
		}, Fail, "3 of them after ARP gave it 10.42.0.11's MAC (frame 2)", "", []int{2}},
		{"unanswered-cites-first-request", func(b *builder) {
			for range 3 {
				ask(b) // frames 1 to 3
			}
			mcast(b, 3)
		}, Warn, "node-a's ARP requests for 10.42.0.11 got no reply (3 requests)", "", []int{1}},
		{"all-requests-dropped", func(b *builder) {
			b.announce(hostB, announceOf(t, conformance.RoleB))
			ask(b, dropped)
			ask(b, dropped)
			mcast(b, 3)
		}, Warn, "got no reply (2 requests, all dropped by the hub)", "", nil},
		{"peer-request-dropped-is-no-lost-reply", func(b *builder) {
			ask(b)
			b.add(b.arp(req, hostB, hostB.ip, hostA), dropped)
			mcast(b, 3)
		}, Warn, "node-a's ARP requests for 10.42.0.11 got no reply (1 request)", "", nil},
		{"peer-heard-by-arp-only", func(b *builder) {
			b.add(b.arp(req, hostB, hostB.ip, hostC)) // node-b was there
			mcast(b, 3)
		}, Fail, "node-a sent 3 announces to the multicast group and none by unicast: receivers drop", "", nil},
		{"single-announce-not-judged", func(b *builder) {
			// The capture may end between a round's two copies.
			b.announce(hostB, announceOf(t, conformance.RoleB))
			mcast(b, 1)
		}, 0, "", "", nil},
		// The injector has no ARP of its own: neither node-a's ARP nor
		// node-b's silence excuses announces the hub injected.
		{"injected-peer-silent", func(b *builder) {
			for range 3 {
				b.wait(64 * time.Millisecond)
				mcast(b, 1, injected)
			}
		}, Fail, "node-a (injected) sent 3 announces to the multicast group and none by unicast: receivers drop", "node-a (injected)", nil},
		{"injected-node-a-resolved", func(b *builder) {
			b.add(b.arp(req, hostA, hostA.ip, hostB))
			b.add(b.arp(rep, hostB, hostB.ip, hostA))
			b.announce(hostA, announceOf(t, conformance.RoleA))
			for range 3 {
				b.wait(64 * time.Millisecond)
				mcast(b, 1, injected)
			}
		}, Fail, "node-a (injected) sent 3 announces to the multicast group and none by unicast: receivers drop", "node-a (injected)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			tt.run(b)
			r := feed(t, Options{}, b.frames)
			about := cmp.Or(tt.about, "node-a")
			fd, ok := findingWith(r, DISC006, about)
			if tt.want == "" {
				if ok {
					t.Errorf("got %v, want no DISC-006 finding about %s:\n%s", fd, about, dump(r))
				}
				return
			}
			if !ok || fd.Verdict != tt.verdict || !strings.Contains(fd.Message, tt.want) {
				t.Errorf("got DISC-006 %v (found %v), want %v saying %q:\n%s", fd, ok, tt.verdict, tt.want, dump(r))
			}
			for _, n := range tt.cites {
				if !slices.Contains(fd.Frames, n) {
					t.Errorf("got DISC-006 citing frames %v, want frame %d among them", fd.Frames, n)
				}
			}
		})
	}
}

// TestGroupAnnounceOnWrongMAC: an announce to 239.42.0.1 on another
// Ethernet address than the group's (01:00:5e:2a:00:01) fails DISC-006:
// receivers' NICs filter it out.
func TestGroupAnnounceOnWrongMAC(t *testing.T) {
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
	bad := b.add(b.udp(hostA, hostA.ip, mustMAC("01:00:5e:00:00:01"), conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA)))
	r := feed(t, Options{}, b.frames)
	fd, ok := findingWith(r, DISC006, "destination MAC 01:00:5e:00:00:01")
	if !ok || fd.Verdict != Fail || !slices.Contains(fd.Frames, bad) {
		t.Errorf("got DISC-006 %v (found %v), want a failure citing frame %d:\n%s", fd, ok, bad, dump(r))
	}
}

// TestMilestoneNeedsOwnAddress: node-a announced from an address that is
// not node-a's fails DISC-005 and is no "nexus discovery ok" milestone.
func TestMilestoneNeedsOwnAddress(t *testing.T) {
	b := newBuilder(t)
	b.add(b.udp(hostC, hostC.ip, hostB.mac, hostB.ip, 37020, 37020, announceOf(t, conformance.RoleA)))
	r, n := milestoneCount(t, b.frames, "nexus discovery ok node-a")
	if fd, ok := findingWith(r, DISC005, "node-a announced from 10.42.0.12"); !ok || fd.Verdict != Fail || n != 0 {
		t.Errorf("got DISC-005 %v (found %v) and %d milestones, want a failure and none:\n%s", fd, ok, n, dump(r))
	}
}

// TestAnnounceStorm: stormRounds+1 rounds within 64 ms is a storm: DISC-007
// warns, citing the round that made the first storm and counting storms.
// Rounds 8 ms apart, 64 ms for nine, are not one.
func TestAnnounceStorm(t *testing.T) {
	tests := []struct {
		name  string
		step  time.Duration
		storm bool
	}{
		{"7ms-apart", 7 * time.Millisecond, true},
		{"8ms-apart-exactly-the-window", 8 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuilder(t)
			b.step = tt.step
			var frames []int
			for range 10 {
				frames = append(frames, b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA))))
			}
			r := feed(t, Options{}, b.frames)
			fd, ok := findingWith(r, DISC007, "announce rounds within")
			switch {
			case !tt.storm && ok:
				t.Errorf("got %v, want no storm", fd)
			case tt.storm && (!ok || fd.Verdict != Warn || !slices.Equal(fd.Frames, []int{frames[8]}) || !strings.Contains(fd.Message, "2 times")):
				t.Errorf("got DISC-007 %v (found %v), want a storm warning citing frame %d, 2 times:\n%s", fd, ok, frames[8], dump(r))
			}
		})
	}
}

// TestAnnouncedPortWarns: a node announcing another session port than the
// OS's (34567 for node-a) gets a DISC-005 warning.
func TestAnnouncedPortWarns(t *testing.T) {
	a := conformance.RoleA.Announce()
	a.Port = 40000
	b := newBuilder(t)
	announceRounds(b, 2, marshalAnnounce(t, a), announceOf(t, conformance.RoleB))
	r := feed(t, Options{}, b.frames)
	want := "node-a announces session port 40000, the OS's is 34567"
	if fd, ok := findingWith(r, DISC005, want); !ok || fd.Verdict != Warn {
		t.Errorf("got DISC-005 %v (found %v), want a warning saying %q:\n%s", fd, ok, want, dump(r))
	}
}

// TestAnnounceChangeCitesBoth: DISC-004's failure cites the first announce
// and the one that changed it.
func TestAnnounceChangeCitesBoth(t *testing.T) {
	a := conformance.RoleA.Announce()
	b := newBuilder(t)
	first, _ := b.announce(hostA, marshalAnnounce(t, a))
	a.Port = 40000
	b.wait(time.Second)
	changed, _ := b.announce(hostA, marshalAnnounce(t, a))
	r := feed(t, Options{}, b.frames)
	fd, ok := findingWith(r, DISC004, "node-a changed its announce")
	if !ok || fd.Verdict != Fail || !slices.Contains(fd.Frames, first) || !slices.Contains(fd.Frames, changed) {
		t.Errorf("got DISC-004 %v (found %v), want a failure citing frames %d and %d:\n%s", fd, ok, first, changed, dump(r))
	}
}

// TestAnnounceKindsKeepTheirOwnMessage: repeats of a finding keep its
// first message, so announces that differ in what the message says must
// not fold into one finding. node-a sends 600- and 268-byte announces in
// turn (the oversized probe's two kinds), and node-b announces with a
// device id of length 0 and of length 65: each kind is its own finding,
// whose message states it and which cites only its frames.
func TestAnnounceKindsKeepTheirOwnMessage(t *testing.T) {
	pad := func(p []byte, n int) []byte { return append(slices.Clone(p), make([]byte, n-len(p))...) }
	idLen := func(n byte) []byte {
		p := slices.Clone(announceOf(t, conformance.RoleB))
		p[5] = n // the device id's length byte, after magic and version
		return p
	}
	b := newBuilder(t)
	want := map[string][]int{} // a part of a message: the frames it must cite
	for range 2 {
		for _, tc := range []struct {
			h   host
			p   []byte
			msg string
		}{
			{hostA, pad(announceOf(t, conformance.RoleA), 600), "announce of 600 bytes from node-a"},
			{hostA, pad(announceOf(t, conformance.RoleA), 268), "announce of 268 bytes from node-a"},
			{hostB, idLen(0), "device id length 0, want 1..64"},
			{hostB, idLen(65), "device id length 65, want 1..64"},
		} {
			n := b.add(b.udp(tc.h, tc.h.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, tc.p))
			want[tc.msg] = append(want[tc.msg], n)
		}
	}
	r := feed(t, Options{}, b.frames)
	for msg, frames := range want {
		id := DISC002
		if strings.Contains(msg, "device id") {
			id = DISC001
		}
		fd, ok := findingWith(r, id, msg)
		if !ok || fd.Verdict != Fail || !slices.Equal(fd.Frames, frames) {
			t.Errorf("got %s %v (found %v), want a failure saying %q citing frames %v:\n%s", id, fd, ok, msg, frames, dump(r))
		}
	}
}

// TestTooManyDeviceIDsCounted: the checker follows at most maxDevices
// device ids and says how many announces beyond them it did not follow.
func TestTooManyDeviceIDsCounted(t *testing.T) {
	b := newBuilder(t)
	for i := range maxDevices + 2 {
		a := conformance.RoleB.Announce()
		a.DeviceID = fmt.Sprintf("dev-%d", i)
		b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, marshalAnnounce(t, a)))
	}
	r := feed(t, Options{}, b.frames)
	want := fmt.Sprintf("more than %d device ids: 2 announces were not followed", maxDevices)
	if fd, ok := findingWith(r, DISC004, "device ids:"); !ok || fd.Verdict != Warn || fd.Message != want {
		t.Errorf("got DISC-004 %v (found %v), want a warning saying %q:\n%s", fd, ok, want, dump(r))
	}
}

// TestDiscoveryStateBounded: ARP state, announced ports and cadence gaps
// are bounded however many addresses, ports and rounds a capture holds.
func TestDiscoveryStateBounded(t *testing.T) {
	b := newBuilder(t)
	for i := range 100 {
		h := host{mustMAC(fmt.Sprintf("52:54:00:12:35:%02x", i)), netip.AddrFrom4([4]byte{10, 42, 0, byte(100 + i)})}
		b.add(b.arp(layers.ARPRequest, h, h.ip, hostA))
	}
	for i := range maxPorts + 10 {
		a := conformance.RoleB.Announce()
		a.Port = uint16(40000 + i)
		b.wait(time.Second)
		b.add(b.udp(hostB, hostB.ip, hostA.mac, hostA.ip, 37020, 37020, marshalAnnounce(t, a)))
	}
	for range maxGapSample + 10 {
		b.wait(64 * time.Millisecond)
		b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA)))
	}
	c := fedChecker(t, Options{}, b.frames)
	c.Report()
	d := &c.disc
	if len(d.arps) > maxSources || len(d.ports) > maxPorts {
		t.Errorf("got %d ARP states and %d ports, want at most %d and %d", len(d.arps), len(d.ports), maxSources, maxPorts)
	}
	for _, s := range d.sources {
		if len(s.rounds.gaps) > maxGapSample {
			t.Errorf("got %d gaps kept for %v, want at most %d", len(s.rounds.gaps), s.ip, maxGapSample)
		}
	}
}

// TestBroadcasterGetsNoNX09: NX-09 says announces are never broadcast, so
// a sender that broadcast one earns neither it nor DISC-006's pass.
func TestBroadcasterGetsNoNX09(t *testing.T) {
	b := newBuilder(t)
	b.announce(hostA, announceOf(t, conformance.RoleA))
	b.add(b.udp(hostA, hostA.ip, mustMAC("ff:ff:ff:ff:ff:ff"), netip.MustParseAddr("10.42.0.255"), 37020, 37020, announceOf(t, conformance.RoleA)))
	r := feed(t, Options{}, b.frames)
	if fd, ok := r.First(NX09); ok {
		t.Errorf("got %v, want no NX-09: node-a broadcast:\n%s", fd, dump(r))
	}
}
