package checker

import (
	"net/netip"
	"testing"
)

// sender is a frame a port sent, as the address map learns it.
type sender struct {
	port, mac, ip string
	dropped       bool
}

// learnedMap is the address map after the senders' frames, in order.
func learnedMap(senders []sender) *addrMap {
	var m addrMap
	m.init()
	for i, s := range senders {
		p := packet{srcMAC: [6]byte(mustMAC(s.mac)), src: netip.MustParseAddr(s.ip)}
		m.learn(&Frame{Number: i + 1, Port: s.port, Dir: DirIngress, Dropped: s.dropped}, &p)
	}
	return &m
}

const (
	macA     = "52:54:00:12:34:0a"
	macB     = "52:54:00:12:34:0b"
	macC     = "52:54:00:12:34:0c"
	macD     = "52:54:00:12:34:0d"
	macMC    = "01:00:5e:2a:00:01"
	mcGroup  = "239.42.0.1"
	bcSubnet = "10.42.0.255"
)

// TestInjectedDelivery: which VMs behind its port an injected frame
// reaches, one rule at a time: in each case that rule alone decides, so
// each fails if its rule is dropped. Ports a, b and c have one VM each
// (node-a 52:54:00:12:34:0a at 10.42.0.10, node-b :0b at .11, :0c at .12);
// m is a shared segment with node-a and node-b behind it (README's passive
// watch of os2vm's multicast segment).
func TestInjectedDelivery(t *testing.T) {
	var (
		onAB = ab()
		onB  = onAB[1:]
		onM  = []sender{{"m", macA, "10.42.0.10", false}, {"m", macB, "10.42.0.11", false}}
	)
	tests := []struct {
		name                     string
		learned                  []sender
		into                     string
		srcMAC, src, dstMAC, dst string
		want                     bool
	}{
		// The NIC: a unicast frame reaches the VM whose MAC it carries.
		{"to-another-ports-mac", onAB, "b", macC, "10.42.0.12", macA, "10.42.0.99", false},
		{"to-another-mac-on-a-one-vm-port", onB, "b", macC, "10.42.0.12", macD, "10.42.0.99", false},
		{"to-an-unseen-mac-on-a-shared-port", onM, "m", macC, "10.42.0.12", macD, "10.42.0.99", true},
		{"to-a-port-whose-vm-never-sent", onAB[:1], "b", macC, "10.42.0.12", macD, "10.42.0.99", true},
		{"on-a-shared-port-to-another-of-its-vms", onM, "m", macB, "10.42.0.11", macA, "10.42.0.10", true},
		{"on-a-shared-port-to-its-sender", onM, "m", macA, "10.42.0.99", macA, bcSubnet, false},
		// Its own frame sent back to it.
		{"own-mac-sent-back", onB, "b", macB, "10.42.0.99", macB, "10.42.0.11", false},
		{"own-group-frame-on-its-one-vm-port", onB, "b", macB, "10.42.0.99", macMC, mcGroup, false},
		{"own-address-sent-back", onB, "b", macC, "10.42.0.11", macB, "10.42.0.11", false},
		{"group-frame-on-a-shared-port-from-one-of-its-vms", onM, "m", macA, "10.42.0.10", macMC, mcGroup, true},
		{"group-frame-on-a-shared-port-for-an-unseen-vm", onM, "m", macA, "10.42.0.11", macMC, "10.42.0.99", true},
		// The IP stack: a datagram to another VM's address.
		{"to-another-vms-address", onAB, "b", macC, "10.42.0.12", macB, "10.42.0.10", false},
		{"unseen-vm-to-another-vms-address", onAB[:1], "b", macC, "10.42.0.12", macD, "10.42.0.10", false},
		// What the frames the hub delivered do not settle.
		{"address-claimed-by-two-macs", append(ab(), sender{"c", macC, "10.42.0.10", false}), "c", macB, "10.42.0.11", macC, "10.42.0.10", true},
		{"dropped-frame-teaches-nothing", append(ab(), sender{"c", macA, "10.42.0.10", true}), "a", macB, "10.42.0.11", macA, "10.42.0.10", true},
		{"mac-follows-its-newest-frame", append([]sender{{"c", macA, "10.42.0.10", false}}, onAB...), "a", macB, "10.42.0.11", macA, "10.42.0.10", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := learnedMap(tt.learned)
			p := packet{srcMAC: [6]byte(mustMAC(tt.srcMAC)), dstMAC: [6]byte(mustMAC(tt.dstMAC)), src: netip.MustParseAddr(tt.src), dst: netip.MustParseAddr(tt.dst)}
			if got := m.reaches(&Frame{Port: tt.into, Injected: true}, &p); got != tt.want {
				t.Errorf("got reaches(%s %s -> %s %s into %s) = %v, want %v", tt.srcMAC, tt.src, tt.dstMAC, tt.dst, tt.into, got, tt.want)
			}
		})
	}
}

// TestAddressLearning: an address is the newest delivered sender's, but
// inside 10.42.0.0/24 the MAC the OS derives it from keeps it; a frame the
// hub dropped teaches nothing; and two claimants leave it in doubt.
func TestAddressLearning(t *testing.T) {
	const other = "02:00:00:00:00:0a" // the OS gives it 10.42.0.10 too
	tests := []struct {
		name    string
		learned []sender
		ip      string
		port    string // "" if unknown
		owned   bool   // one MAC sends from it
	}{
		{"one-sender", []sender{{"a", macA, "10.42.0.10", false}}, "10.42.0.10", "a", true},
		{"newest-sender-takes-it", []sender{{"a", other, "10.42.0.10", false}, {"b", macA, "10.42.0.10", false}}, "10.42.0.10", "b", false},
		{"newest-sender-outside-the-subnet", []sender{{"a", macA, "10.0.2.15", false}, {"b", macB, "10.0.2.15", false}}, "10.0.2.15", "b", false},
		{"os-mac-keeps-it", []sender{{"a", macA, "10.42.0.10", false}, {"c", macC, "10.42.0.10", false}}, "10.42.0.10", "a", false},
		{"os-mac-takes-it-back", []sender{{"c", macC, "10.42.0.10", false}, {"a", macA, "10.42.0.10", false}}, "10.42.0.10", "a", false},
		{"dropped-spoof", []sender{{"a", macA, "10.42.0.10", false}, {"c", other, "10.42.0.10", true}}, "10.42.0.10", "a", true},
		{"dropped-only", []sender{{"c", macC, "10.42.0.10", true}}, "10.42.0.10", "", false},
		{"mac-moves", []sender{{"a", macA, "10.42.0.10", false}, {"c", macA, "10.42.0.99", false}}, "10.42.0.10", "c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := learnedMap(tt.learned)
			ip := netip.MustParseAddr(tt.ip)
			if port, _ := m.portOfAddr(ip); port != tt.port {
				t.Errorf("got portOfAddr(%v) = %q, want %q", ip, port, tt.port)
			}
			if _, owned := m.owner(ip); owned != tt.owned {
				t.Errorf("got owner(%v) ok = %v, want %v", ip, owned, tt.owned)
			}
		})
	}
}

// TestMACOfAddress: the MAC of the VM at an address is the one learned
// from its frames, even where the OS's rule gives another; with none
// learned, or two, it is the OS's.
func TestMACOfAddress(t *testing.T) {
	const odd = "52:54:00:12:34:99" // a node-a the OS's rule does not give 10.42.0.10
	a := netip.MustParseAddr("10.42.0.10")
	for _, tt := range []struct {
		name    string
		learned []sender
		mac     string
		want    bool
	}{
		{"learned", []sender{{"a", odd, "10.42.0.10", false}}, odd, true},
		{"learned-not-the-os-mac", []sender{{"a", odd, "10.42.0.10", false}}, macA, false},
		{"none-learned", nil, macA, true},
		{"none-learned-not-the-os-mac", nil, odd, false},
		{"two-learned", []sender{{"a", odd, "10.42.0.10", false}, {"c", macC, "10.42.0.10", false}}, macA, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := learnedMap(tt.learned).macOf(a, [6]byte(mustMAC(tt.mac))); got != tt.want {
				t.Errorf("got macOf(%v, %s) = %v, want %v", a, tt.mac, got, tt.want)
			}
		})
	}
}

// TestAddressMapBounds: a flood of other MACs or addresses does not keep
// the nodes of 10.42.0.0/24 out of the map, and what it keeps out is
// counted.
func TestAddressMapBounds(t *testing.T) {
	var flood []sender
	for i := range maxOtherMACs + 10 {
		mac := [6]byte{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		flood = append(flood, sender{"c", macString(mac), netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)}).String(), false})
	}
	m := learnedMap(append(flood, ab()...))
	if m.full != 10 {
		t.Errorf("got %d frames kept out, want 10", m.full)
	}
	if m.fullFrame != maxOtherMACs+1 {
		t.Errorf("got the first kept out at frame %d, want %d", m.fullFrame, maxOtherMACs+1)
	}
	for _, s := range ab() {
		if port, _ := m.portOfAddr(netip.MustParseAddr(s.ip)); port != s.port {
			t.Errorf("got portOfAddr(%s) = %q, want %q", s.ip, port, s.port)
		}
	}
}

func ab() []sender {
	return []sender{{"a", macA, "10.42.0.10", false}, {"b", macB, "10.42.0.11", false}}
}
