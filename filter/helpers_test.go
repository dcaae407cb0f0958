package filter

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"l2hub/hub"
	"l2hub/packet"
)

var (
	macA = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	macB = [6]byte{0x52, 0x54, 0x00, 0x65, 0x43, 0x21}
	ipA  = netip.MustParseAddr("10.42.0.10")
	ipB  = netip.MustParseAddr("10.42.0.11")
)

// ipv4Frame builds Ethernet + IPv4 + l4 (already built) with proto.
func ipv4Frame(src, dst [6]byte, sip, dip netip.Addr, proto uint8, l4 []byte) []byte {
	f := make([]byte, 14+20+len(l4))
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv4)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	ip[8] = 64
	ip[9] = proto
	s4, d4 := sip.As4(), dip.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	copy(ip[20:], l4)
	return f
}

func udpFrame(src, dst [6]byte, sip, dip netip.Addr, sport, dport uint16, payload []byte) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	return ipv4Frame(src, dst, sip, dip, packet.ProtoUDP, u)
}

func tcpFrame(sport, dport uint16, flags uint8, payload []byte) []byte {
	t := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	t[12] = 5 << 4
	t[13] = flags
	copy(t[20:], payload)
	return ipv4Frame(macA, macB, ipA, ipB, packet.ProtoTCP, t)
}

// announce is an NXSB-shaped UDP datagram from a to b's port 37020.
func announce() []byte {
	return udpFrame(macA, macB, ipA, ipB, 37020, 37020, []byte("NXSB\x01\x06node-a"))
}

// plain is a 100-byte UDP frame that no payload matcher expects.
func plain() []byte {
	return udpFrame(macA, macB, ipA, ipB, 5000, 6000, make([]byte, 58))
}

func link(from, to string) hub.Link {
	return hub.Link{From: 0, To: 1, FromName: from, ToName: to}
}

var abc = []string{"a", "b", "c"}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), "test.yaml", abc)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// mustLoad loads the policy testdata/policies/name for ports a, b and c.
func mustLoad(t testing.TB, name string) *Policy {
	t.Helper()
	p, err := Load("../testdata/policies/"+name, abc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// linkAt is a link at a moment of the run, and whether a plain frame on
// it then meets what the test checks.
type linkAt struct {
	at       time.Duration
	from, to string
	want     bool
}

// checkLinksAt decides a plain frame on each of links, at its moment and in
// order, and checks that met (partitioned, down) holds of the decision as
// the link's want says.
func checkLinksAt(t *testing.T, p *Policy, what string, met func(hub.Decision) bool, links []linkAt) {
	t.Helper()
	for _, l := range links {
		if d := decide(p, l.at, link(l.from, l.to), plain()); met(d) != l.want {
			t.Errorf("at %v %s->%s: got %+v, want %s %v", l.at, l.from, l.to, d, what, l.want)
		}
	}
}

func mustFlags(t testing.TB, args ...string) *Policy {
	t.Helper()
	p, err := ParseFlags(args, abc)
	if err != nil {
		t.Fatalf("ParseFlags(%q): %v", args, err)
	}
	return p
}

// decide runs one Decide and returns a copy of the decision.
func decide(p *Policy, now time.Duration, l hub.Link, frame []byte) hub.Decision {
	var d hub.Decision
	p.Decide(now, l, frame, &d)
	return d
}

// readStats calls p.Stats over and over on another goroutine, as the
// control API and Prometheus may while the loop decides, until the stop it
// returns is called; stop waits for the last call to return. Run under
// -race, a test that drives p meanwhile checks that Stats reads nothing
// the loop writes unguarded.
func readStats(p *Policy) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
				_ = p.Stats()
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// decideAllocs is the allocations of one Decide of f on a->b, over 1000
// runs (testing.AllocsPerRun), the first at now+step and each step after
// the last, with d reset and reused.
func decideAllocs(p *Policy, now, step time.Duration, f []byte, d *hub.Decision) float64 {
	return testing.AllocsPerRun(1000, func() {
		now += step
		d.Reset()
		p.Decide(now, link("a", "b"), f, d)
	})
}
