package checker

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"l2hub/conformance"
)

// runScript runs discovery, a connection and the script s.
func runScript(t *testing.T, s *script, mss int) *builder {
	b, _ := runScriptFlow(t, s, mss)
	return b
}

// runScriptFlow is runScript, with the connection's flow to go on with.
func runScriptFlow(t *testing.T, s *script, mss int) (*builder, *flow) {
	b, f := connected(t)
	s.play(f, mss)
	return b, f
}

func TestBrokenTraffic(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T) []Frame
		id    string
		want  Verdict
		msg   string // a part of the finding's message
	}{
		{"wrong-key-in-announce", wrongKeyInAnnounce, DISC005, Fail, "its bring-up key is"},
		{"wrong-key-breaks-identity-binding", wrongKeyInAnnounce, SESS005, Fail, "identity is not bound"},
		{"msg1-of-48-bytes", func(t *testing.T) []Frame {
			s := newScript(t)
			s.add(0, append(append([]byte(nil), s.Handshake[0]...), make([]byte, 16)...)).add(1, s.Handshake[1]).add(0, s.Handshake[2])
			return runScript(t, s, 1460).frames
		}, SESS002, Fail, "msg1 is 48 bytes, nexus-v1's is 32"},
		{"msg2-of-100-bytes", func(t *testing.T) []Frame {
			s := newScript(t)
			s.add(0, s.Handshake[0]).add(1, append(append([]byte(nil), s.Handshake[1]...), 1, 2, 3, 4)).add(0, s.Handshake[2])
			return runScript(t, s, 1460).frames
		}, SESS002, Fail, "msg2 is 100 bytes"},
		{"node-a-data-before-msg2", func(t *testing.T) []Frame {
			s := newScript(t)
			s.add(0, s.Handshake[0]).add(0, s.step(1)).add(1, s.Handshake[1]).add(0, s.Handshake[2])
			return runScript(t, s, 1460).frames
		}, SESS003, Fail, "node-a sent 275 bytes after its msg1 before node-b's msg2: data before the handshake completes"},
		{"node-b-record-before-msg3", func(t *testing.T) []Frame {
			s := newScript(t)
			s.add(0, s.Handshake[0]).add(1, s.Handshake[1]).add(1, s.step(2)).add(0, s.Handshake[2]).add(0, s.step(1))
			return runScript(t, s, 1460).frames
		}, SESS003, Fail, "node-b sent 275 bytes after its msg2 before node-a's msg3: data before the handshake completes"},
		{"node-b-replies-before-msg1-complete", func(t *testing.T) []Frame {
			s := newScript(t)
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.send(0, s.Handshake[0][:20], 1460)
			f.send(1, s.Handshake[1], 1460)
			return b.frames
		}, SESS003, Fail, "node-b sent msg2 when node-a's msg1 had 20 of 32 bytes"},
		{"reordered-ladder", func(t *testing.T) []Frame {
			s := newScript(t).handshake()
			st := conformance.Ladder()[2] // step 3 first
			p, _ := st.Payload()
			s.add(0, s.Request(0, st.Kind, p))
			return runScript(t, s, 1460).frames
		}, MUX002, Fail, "ladder step 1: kind 0x33, want 0x31"},
		{"ladder-without-waiting", func(t *testing.T) []Frame {
			s := newScript(t).handshake()
			s.add(0, s.step(1)).add(0, s.step(3)).add(1, s.step(2))
			return runScript(t, s, 1460).frames
		}, MUX002, Fail, "node-a sent 275 bytes after its ladder step 1 before node-b's ladder step 2"},
		{"record-of-280-bytes", func(t *testing.T) []Frame {
			s := newScript(t).handshake()
			long := s.Send[0].Seal(nil, make([]byte, 264))
			s.add(0, long).add(1, s.step(2))
			return runScript(t, s, 1460).frames
		}, MUX001, Fail, "node-a's ladder step 1 is 280 bytes"},
		{"record-of-280-bytes-at-the-end", func(t *testing.T) []Frame {
			s := newScript(t).handshake()
			s.add(0, s.Send[0].Seal(nil, make([]byte, 264)))
			return runScript(t, s, 1460).frames
		}, MUX001, Fail, "node-a's ladder step 1 is 280 bytes"},
		{"tampered-record", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.msgs[4].data[10] ^= 1 // node-b's step 2
			return runScript(t, s, 1460).frames
		}, MUX003, Fail, "node-b's ladder step 2 does not authenticate with k_r2i at n=0"},
		{"unknown-proxy-service", func(t *testing.T) []Frame {
			return runScript(t, healthyScript(t).request(9, []byte("hello")), 1460).frames
		}, PROXY001, Info, "uses service id 9, outside 1..4: §5.3's deny path"},
		{"deny-answered-with-status-0", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.add(0, s.Request(0, 9, []byte("x"))).add(1, s.Response(0, []byte("yes")))
			return runScript(t, s, 1460).frames
		}, PROXY002, Fail, "a deny is status 1 with no payload"},
		{"oversized-request", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.add(0, s.Send[0].Seal(nil, oversizedPlain()))
			return runScript(t, s, 1460).frames
		}, PROXY001, Fail, "declares 300 payload bytes, at most 256"},
		{"oversized-request-gets-no-reply", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.add(0, s.Send[0].Seal(nil, oversizedPlain()))
			return runScript(t, s.proxy(), 1460).frames
		}, PROXY002, Pass, "answered as node-b's gate says: 3"},
		{"oversized-request-answered", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.add(0, s.Send[0].Seal(nil, oversizedPlain())).add(1, s.Response(1, nil))
			return runScript(t, s, 1460).frames
		}, PROXY002, Fail, "the OS drops it without a reply"},
		{"fallback-dial-without-discovery", func(t *testing.T) []Frame {
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			healthyScript(t).play(f, 1460)
			return b.frames
		}, NX06, Info, "passes when discovery is empty"},
		{"response-without-request", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			s.add(1, s.Response(0, nil))
			return runScript(t, s, 1460).frames
		}, PROXY002, Fail, "with no request outstanding"},
		{"backend-not-found", func(t *testing.T) []Frame {
			s := newScript(t).handshake().ladder()
			req, _ := conformance.AppendSMRequest(nil, conformance.SMOpResolveStatus, "nosuchd")
			return runScript(t, s.request(conformance.ServiceSamgr, req), 1460).frames
		}, PROXY003, Fail, "backend status 1"},
		{"source-ip-not-mac-rule", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.add(b.udp(hostA, netip.MustParseAddr("10.42.0.12"), groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleB)))
			return b.frames
		}, DISC003, Fail, "MAC 52:54:00:12:34:0a gives 10.42.0.10"},
		{"bad-magic", func(t *testing.T) []Frame {
			p := announceOf(t, conformance.RoleA)
			p[0] = 'X'
			b := newBuilder(t)
			b.announce(hostA, p)
			return b.frames
		}, DISC001, Fail, "(bad magic)"},
		{"announce-too-long-for-the-os", longAnnounce, DISC002, Fail, "the OS sends at most 256"},
		{"unicast-to-wrong-peer", func(t *testing.T) []Frame {
			c := host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")}
			b := newBuilder(t)
			b.add(b.udp(hostA, hostA.ip, c.mac, c.ip, 37020, 37020, announceOf(t, conformance.RoleA)))
			return b.frames
		}, DISC006, Warn, "unicast announce from node-a to 10.42.0.12: the OS sends its unicast copy to the hard-coded peer 10.42.0.11"},
		{"mac-gives-broadcast", func(t *testing.T) []Frame {
			c := host{mustMAC("52:54:00:12:34:ff"), netip.MustParseAddr("10.42.0.255")}
			b := newBuilder(t)
			b.add(b.udp(c, c.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA)))
			return b.frames
		}, DISC003, Warn, "MAC 52:54:00:12:34:ff gives 10.42.0.255, the subnet's broadcast address"},
		{"ip-fragments", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.announce(hostA, announceOf(t, conformance.RoleA))
			b.fragments(hostA, hostB, announceOf(t, conformance.RoleA))
			return b.frames
		}, NET002, Warn, "2 IP fragments were not reassembled or checked"},
		{"announce-truncated-at-256", longAnnounce, DISC001, Fail, "runs past the 256 bytes dsoftbusd reads"},
		{"port-change", func(t *testing.T) []Frame {
			moved := conformance.RoleB.Announce()
			moved.Port = 34570
			p, _ := moved.MarshalBinary()
			b := newBuilder(t)
			b.announce(hostB, announceOf(t, conformance.RoleB))
			b.announce(hostB, p)
			return b.frames
		}, DISC004, Fail, "node-b changed its announce"},
		{"broadcast-announce", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.add(b.udp(hostA, hostA.ip, mustMAC("ff:ff:ff:ff:ff:ff"), netip.MustParseAddr("10.42.0.255"), 37020, 37020, announceOf(t, conformance.RoleA)))
			return b.frames
		}, DISC006, Fail, "the OS never broadcasts"},
		{"multicast-only", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.announce(hostB, announceOf(t, conformance.RoleB)) // its peer is there
			for range 3 {
				b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, announceOf(t, conformance.RoleA)))
			}
			return b.frames
		}, DISC006, Fail, "none by unicast"},
		{"announce-after-session", func(t *testing.T) []Frame {
			b := runScript(t, healthyScript(t), 1460)
			b.wait(time.Second)
			b.announce(hostA, announceOf(t, conformance.RoleA))
			return b.frames
		}, DISC008, Fail, "the OS stops announcing once dial or accept yields a connection"},
		{"third-vm-is-another-node-b", func(t *testing.T) []Frame {
			c := host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")}
			b := newBuilder(t)
			b.announce(hostB, announceOf(t, conformance.RoleB))
			b.announce(c, announceOf(t, conformance.RoleB))
			return b.frames
		}, DISC009, Warn, "node-b announced from 10.42.0.11, 10.42.0.12"},
		{"dial-to-wrong-port", func(t *testing.T) []Frame {
			b := newBuilder(t)
			announceRounds(b, 1, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			f := b.flow(hostA, hostB, 40010, 34567)
			f.connect()
			healthyScript(t).play(f, 1460)
			return b.frames
		}, SESS001, Fail, "node-a dialled 10.42.0.11:34567, but node-b announced 10.42.0.11:34568"},
		{"dial-from-not-node-a", func(t *testing.T) []Frame {
			c := host{mustMAC("52:54:00:12:34:0c"), netip.MustParseAddr("10.42.0.12")}
			b := newBuilder(t)
			f := b.flow(c, hostB, 40012, 34568)
			f.connect()
			return b.frames
		}, SESS001, Fail, "not node-a (10.42.0.10)"},
		{"no-session", func(t *testing.T) []Frame {
			b := newBuilder(t)
			announceRounds(b, 2, announceOf(t, conformance.RoleA), announceOf(t, conformance.RoleB))
			return b.frames
		}, SESS001, Fail, "no session was seen"},
		{"handshake-cut-short", func(t *testing.T) []Frame {
			s := newScript(t)
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			f.connect()
			f.send(0, s.Handshake[0], 1460)
			f.send(1, s.Handshake[1][:40], 1460)
			return b.frames
		}, SESS002, Fail, "msg1 32/32, msg2 40/96, msg3 0/64"},
		{"ladder-stops", func(t *testing.T) []Frame {
			s := newScript(t).handshake()
			s.add(0, s.step(1)).add(1, s.step(2))
			return runScript(t, s, 1460).frames
		}, MUX002, Fail, "stopped after 2 of 6 steps"},
		{"msg3-from-another-key", func(t *testing.T) []Frame {
			s := newScript(t)
			cfg := conformance.BringUpNexusConfig(conformance.RoleA)
			cfg.Static = conformance.BringUpKeyPair(0xA0, 34567)
			i := conformance.NewNexusInitiator(cfg)
			m1, _ := i.WriteMsg1()
			must(t, i.ReadMsg2(s.Handshake[1]))
			m3, _ := i.WriteMsg3()
			s.add(0, m1).add(1, s.Handshake[1]).add(0, m3)
			return runScript(t, s, 1460).frames
		}, SESS005, Fail, "not the pinned bring-up key"},
		{"dhcp-reply", func(t *testing.T) []Frame {
			b := newBuilder(t)
			srv := host{mustMAC("52:55:0a:00:02:02"), netip.MustParseAddr("10.0.2.2")}
			b.add(b.udp(srv, srv.ip, hostA.mac, netip.MustParseAddr("10.0.2.15"), 67, 68, make([]byte, 240)))
			return b.frames
		}, NET001, Fail, "the hub must not answer in the nexus profile"},
		{"bad-checksum", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.announce(hostA, announceOf(t, conformance.RoleA))
			b.frames[0].Data[len(b.frames[0].Data)-1] ^= 0xff
			return b.frames
		}, NET003, Warn, "1 frame with a bad IPv4, UDP or TCP checksum was ignored"},
		{"announce-from-wrong-port", func(t *testing.T) []Frame {
			b := newBuilder(t)
			b.add(b.udp(hostA, hostA.ip, hostB.mac, hostB.ip, 5555, 37020, announceOf(t, conformance.RoleA)))
			return b.frames
		}, DISC006, Fail, "sends from port 37020"},
		{"syn-refused", func(t *testing.T) []Frame {
			b := newBuilder(t)
			f := b.flow(hostA, hostB, 40010, 34568)
			b.add(f.tcp(0, f.isn[0], layers.TCP{SYN: true}, nil))
			b.add(f.tcp(1, 0, layers.TCP{RST: true, ACK: true}, nil))
			return b.frames
		}, SESS001, Info, "node-b was not listening yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := feed(t, Options{}, tt.build(t))
			var found []Finding
			for _, f := range r.Findings {
				if f.ID == tt.id && f.Verdict == tt.want && strings.Contains(f.Message, tt.msg) {
					found = append(found, f)
				}
			}
			if len(found) == 0 {
				t.Fatalf("got no %s %v finding containing %q:\n%s", tt.id, tt.want, tt.msg, dump(r))
			}
			if len(found[0].Frames) == 0 && tt.id != SESS001 {
				t.Errorf("got %s with no frames, want the frames that prove it", found[0])
			}
			if tt.want == Fail && r.OK() {
				t.Errorf("got OK report, want a failure")
			}
		})
	}
}

// oversizedPlain is a request plaintext declaring 300 payload bytes.
func oversizedPlain() []byte {
	p := make([]byte, conformance.RequestPlainLen)
	p[0] = conformance.ServiceSamgr
	p[1], p[2] = 300&0xff, 300>>8
	return p
}

// wrongKeyInAnnounce is a healthy session whose node-b announces node-a's
// static key.
func wrongKeyInAnnounce(t *testing.T) []Frame {
	bad := conformance.RoleB.Announce()
	bad.Static = conformance.RoleA.StaticKey().Public
	p, _ := bad.MarshalBinary()
	b := newBuilder(t)
	announceRounds(b, 2, announceOf(t, conformance.RoleA), p)
	f := b.flow(hostA, hostB, 40010, 34568)
	f.connect()
	healthyScript(t).play(f, 1460)
	return b.frames
}

// longAnnounce is node-a's announce with five 41-byte services more, past
// the 256 bytes the OS sends and its receiver reads. One capture, two
// findings (DISC-002 for the sender, DISC-001 for the receiver).
func longAnnounce(t *testing.T) []Frame {
	a := conformance.RoleA.Announce()
	for i := range 5 {
		a.Services = append(a.Services, strings.Repeat("s", 40)+itoa(i))
	}
	p, _ := a.MarshalBinary()
	b := newBuilder(t)
	b.announce(hostA, p)
	return b.frames
}

// TestAnnounceSizeEdges: node-a's announce padded to each side of the
// OS's 256-byte send limit and of the 512-byte datagram a receiver still
// takes. Up to 512 bytes the padding after the fields is read past and
// DISC-001 decodes it; above, it never reaches dsoftbusd and DISC-001 has
// nothing to decode.
func TestAnnounceSizeEdges(t *testing.T) {
	for _, tc := range []struct {
		size    int
		disc002 Verdict
		msg     string // a part of DISC-002's message
		decodes bool   // DISC-001 passes; otherwise it says nothing
	}{
		{256, Pass, "announces within the OS's 256-byte limit: 1", true},
		{257, Fail, "announce of 257 bytes from node-a: the OS sends at most 256 (receivers read only the first 256)", true},
		{512, Fail, "announce of 512 bytes from node-a: the OS sends at most 256 (receivers read only the first 256)", true},
		{513, Fail, "announce of 513 bytes from node-a: the OS sends at most 256, and a receiver drops datagrams above 512", false},
	} {
		t.Run(itoa(tc.size)+"-bytes", func(t *testing.T) {
			p := announceOf(t, conformance.RoleA)
			p = append(p, make([]byte, tc.size-len(p))...)
			b := newBuilder(t)
			b.add(b.udp(hostA, hostA.ip, groupMC, conformance.DiscoveryGroup, 37020, 37020, p))
			r := feed(t, Options{}, b.frames)
			var disc001, disc002 []Finding
			for _, f := range r.Findings {
				switch f.ID {
				case DISC001:
					disc001 = append(disc001, f)
				case DISC002:
					disc002 = append(disc002, f)
				}
			}
			if len(disc002) != 1 || disc002[0].Verdict != tc.disc002 || !strings.Contains(disc002[0].Message, tc.msg) {
				t.Errorf("got DISC-002 findings %v, want one %v containing %q:\n%s", disc002, tc.disc002, tc.msg, dump(r))
			}
			switch {
			case tc.decodes && (len(disc001) != 1 || disc001[0].Verdict != Pass):
				t.Errorf("got DISC-001 findings %v, want one pass:\n%s", disc001, dump(r))
			case !tc.decodes && len(disc001) != 0:
				t.Errorf("got DISC-001 findings %v, want none (the datagram never reaches dsoftbusd):\n%s", disc001, dump(r))
			}
		})
	}
}
