package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestNeverMatchingRefused: a criterion, or a combination of them, that
// no frame can meet is refused, once, at the value's line:col (the rule
// would sit at 0 matches and never say why); what some frame can meet is
// taken.
func TestNeverMatchingRefused(t *testing.T) {
	for _, tc := range []struct {
		name, match string
		want        string // the one error, after "p.yaml:"; "" when accepted
	}{
		{"length-above-any-frame", "{length: 999999999-}",
			fmt.Sprintf("4:21: rules[0].match.length: 999999999- starts at 999999999 bytes, but no frame is longer than %d", 1<<20)},
		{"length-exact-above-any-frame", "{length: 2MiB}", "4:21: rules[0].match.length: 2MiB starts at 2097152 bytes"},
		{"length-below-the-header", "{length: 1-10}",
			"4:21: rules[0].match.length: 1-10 ends at 10 bytes, but every frame holds at least its 14-byte Ethernet header"},
		{"length-open-below-the-header", "{length: -13}", "4:21: rules[0].match.length: -13 ends at 13 bytes"},
		{"length-header-only", "{length: 14}", ""},
		{"length-up-to-the-limit", "{length: 1MiB}", ""},
		{"length-past-the-limit-open", "{length: 60-}", ""},
		{"link-to-itself", "{link: a->a}",
			`4:19: rules[0].match.link: "a->a" goes from port a to itself, which no frame does (the hub never sends a frame back out of the port it came in on)`},
		{"link-both-ways-to-itself", "{link: [a->b, b<->b]}", `4:26: rules[0].match.link: "b<->b" goes from port b to itself`},
		{"link-group-of-one-to-itself", "{link: one->a}", `4:19: rules[0].match.link: "one->a" goes from port a to itself`},
		{"link-group-to-itself", "{link: ab->ab}", ""},
		{"from-to-same-port", "{from: a, to: a}",
			"4:26: rules[0].match.to: from and to both name port a alone, and no frame goes from a port to itself"},
		{"from-group-of-one-to-same-port", "{from: one, to: [a]}", "4:28: rules[0].match.to: from and to both name port a alone"},
		{"from-group-to-one-of-it", "{from: ab, to: a}", ""},
		{"from-off-the-link", "{from: c, link: a->b}", "4:28: rules[0].match.link: no link it names goes from a port of from"},
		{"to-off-the-link", "{to: [a, c], link: [a->b, c->b]}", "4:31: rules[0].match.link: no link it names goes to a port of to"},
		{"from-to-off-the-link", "{from: a, to: c, link: a->b}", "4:35: rules[0].match.link: no link it names goes from a port of from and to a port of to"},
		{"from-to-on-a-link", "{from: a, to: b, link: [a->b, c->b]}", ""},
		{"untagged-qinq", "{vlan: false, qinq: true}",
			"4:32: rules[0].match.qinq: true needs two VLAN tags, and vlan: false refuses every tagged frame (remove vlan: false)"},
		{"one-tag", "{vlan: true, qinq: false}", ""},
		{"untagged", "{vlan: false, qinq: false}", ""},
		{"ipv4-to-ipv6", `{src_ip: 10.0.0.0/8, dst_ip: "::1"}`,
			"4:41: rules[0].match.dst_ip: holds only IPv6 addresses and src_ip only IPv4 ones: a packet's two addresses are of one IP version"},
		{"ipv4-to-ipv4-or-ipv6", `{src_ip: 10.0.0.0/8, dst_ip: ["::1", 10.1.0.0/16]}`, ""},
		{"ipv4-or-ipv6-to-ipv6", `{src_ip: [10.0.0.0/8, "fd00::/8"], dst_ip: "::1"}`, ""},
		{"ipv4-on-ipv6", "{ethertype: ipv6, src_ip: 10.0.0.0/8}",
			"4:38: rules[0].match.src_ip: holds only IPv4 addresses, and ethertype names no IPv4 packet"},
		{"ip-on-arp", "{ethertype: arp, dst_ip: 10.0.0.1}", "4:37: rules[0].match.dst_ip: holds only IPv4 addresses, and ethertype names no IPv4 packet"},
		{"ip-on-arp-or-ipv4", "{ethertype: [arp, ipv4], dst_ip: 10.0.0.1}", ""},
		{"first-before-matches", "{first: 3, matches: 5-10}",
			"4:20: rules[0].match.first: 3 ends the window before matches starts at 5: no match is in both"},
		{"first-reaches-matches", "{first: 5, matches: 5-10}", ""},
		{"first-before-every", "{first: 2, every: 3}", "4:30: rules[0].match.every: 3: no multiple of 3 is in the window of matches 1 to 2"},
		{"matches-between-multiples", "{matches: 5-7, every: 4}", "4:34: rules[0].match.every: 4: no multiple of 4 is in the window of matches 5 to 7"},
		{"matches-holding-a-multiple", "{matches: 5-8, every: 4}", ""},
		{"open-matches-every", "{matches: 5-, every: 100}", ""},
		{"broadcast-multicast", "{broadcast: true, multicast: true}",
			"4:41: rules[0].match.multicast: true excludes the broadcast address, and broadcast: true asks for it"},
		{"broadcast-not-multicast", "{broadcast: true, multicast: false}", ""},
		{"broadcast-mac-not-broadcast", "{dst_mac: 'ff:ff:ff:ff:ff:ff', broadcast: false}",
			"4:54: rules[0].match.broadcast: false, and dst_mac ff:ff:ff:ff:ff:ff is the broadcast address"},
		{"unicast-mac-broadcast", "{dst_mac: '52:54:00:00:00:01', broadcast: true}",
			"4:54: rules[0].match.broadcast: true, and dst_mac 52:54:00:00:00:01 is not the broadcast address"},
		{"broadcast-mac-multicast", "{dst_mac: 'ff:ff:ff:ff:ff:ff', multicast: true}",
			"4:54: rules[0].match.multicast: true, and dst_mac ff:ff:ff:ff:ff:ff is not a multicast address"},
		{"multicast-mac-multicast", "{dst_mac: '01:00:5e:00:00:fb', multicast: true, broadcast: false}", ""},
		{"udp-on-arp", "{ethertype: arp, protocol: udp}",
			"4:39: rules[0].match.protocol: needs an IP packet, and ethertype names no IPv4 or IPv6 packet"},
		{"port-on-arp", "{ethertype: arp, dst_port: 53}", "4:39: rules[0].match.dst_port: needs an IP packet"},
		{"udp-on-arp-or-ipv6", "{ethertype: [arp, ipv6], protocol: udp, dst_port: 53}", ""},
		{"icmp-port", "{protocol: icmp, dst_port: 53}", "4:39: rules[0].match.dst_port: is a TCP or UDP port, and protocol names neither"},
		{"icmp-or-udp-port", "{protocol: [icmp, udp], src_port: 53}", ""},
		{"udp-tcp-flags", "{protocol: udp, tcp_flags: syn}", "4:39: rules[0].match.tcp_flags: needs a TCP segment, and protocol names no TCP"},
		{"tcp-tcp-flags", "{protocol: tcp, tcp_flags: syn, dst_port: 22}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "groups: {ab: [a, b], one: [a]}\nrules:\n  - name: x\n    match: " + tc.match + "\n"
			_, err := Parse([]byte(src), "p.yaml", abc)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got Parse(%q) = %v, want it accepted", src, err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), "p.yaml:"+tc.want) {
				t.Errorf("got Parse(%q) error\n%v\nwant the one error p.yaml:%s...", src, err, tc.want)
			}
		})
	}
}

// TestCompileRefusesNeverMatching: a Spec built in Go gets the same
// checks, at the rule.
func TestCompileRefusesNeverMatching(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		ms   MatchSpec
		want string // "" when accepted
	}{
		{"length-above-any-frame", MatchSpec{Length: &Range{Min: 999999999, Max: -1}}, "match: length starts at 999999999 bytes"},
		{"length-below-the-header", MatchSpec{Length: &Range{Min: 1, Max: 10}}, "match: length ends at 10 bytes"},
		{"length", MatchSpec{Length: &Range{Min: 14, Max: -1}}, ""},
		{"link-to-itself", MatchSpec{Links: [][2]string{{"a", "a"}}}, "match.link: every link it names goes from a port to itself"},
		{"from-to-same-port", MatchSpec{From: []string{"b"}, To: []string{"b"}}, "match.to: from and to both name port b alone"},
		{"from-off-the-link", MatchSpec{From: []string{"c"}, Links: [][2]string{{"a", "b"}}}, "match.link: no link it names goes from a port of from"},
		{"link", MatchSpec{From: []string{"a"}, Links: [][2]string{{"a", "a"}, {"a", "b"}}}, ""},
		{"untagged-qinq", MatchSpec{VLAN: &no, QinQ: &yes}, "match.qinq: true needs two VLAN tags"},
		{"ipv4-to-ipv6", MatchSpec{SrcIP: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, DstIP: []netip.Prefix{netip.MustParsePrefix("::1/128")}},
			"match.dst_ip: holds only IPv6 addresses and src_ip only IPv4 ones"},
		{"first-before-matches", MatchSpec{First: 3, Matches: &Range{Min: 5, Max: 10}}, "match.first: 3 ends the window before matches starts at 5"},
		{"first-before-every", MatchSpec{First: 2, Every: 3}, "match.every: 3: no multiple of 3"},
		{"broadcast-multicast", MatchSpec{Broadcast: &yes, Multicast: &yes}, "match.multicast: true excludes the broadcast address"},
		{"udp-on-arp", MatchSpec{EtherTypes: []uint16{0x0806}, Protocols: []uint8{17}}, "match.protocol: needs an IP packet"},
		{"icmp-port", MatchSpec{Protocols: []uint8{1}, DstPort: &PortRange{53, 53}}, "match.dst_port: is a TCP or UDP port"},
		{"ipv6-on-ipv4", MatchSpec{EtherTypes: []uint16{0x0800}, DstIP: []netip.Prefix{netip.MustParsePrefix("::1/128")}},
			"match.dst_ip: holds only IPv6 addresses, and ethertype names no IPv6 packet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := RuleSpec{Name: "x", Match: tc.ms, At: Pos{File: "code", Path: "rules[0]"}}
			_, err := Compile(&Spec{Name: "code", Rules: []RuleSpec{rs}}, abc)
			if tc.want == "" {
				if err != nil {
					t.Errorf("got Compile = %v, want it accepted", err)
				}
				return
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), "code: rules[0]: "+tc.want) {
				t.Errorf("got Compile error\n%v\nwant the one error code: rules[0]: %s...", err, tc.want)
			}
		})
	}
}

// TestSelfLinkRefusedEverywhere: a link from a port to itself is refused
// wherever a link is written: a flag, a trigger, a rule edit.
func TestSelfLinkRefusedEverywhere(t *testing.T) {
	const want = `goes from port a to itself`
	_, err := ParseFlags([]string{"--loss", "a->a=5%"}, abc)
	if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), `--loss: "a->a=5%": "a->a" `+want) {
		t.Errorf("got --loss a->a=5%% error %v, want one naming the flag", err)
	}
	var f Flags
	f.entries = []flagEntry{{"delay", "a->a=5ms"}}
	if _, err := f.Rule("x"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got Flags.Rule error %v, want one with %q", err, want)
	}
	src := "rules:\n  - {name: x}\npartitions:\n  - {name: p, groups: a|b, start: {rule: x, matches: 1, link: a->a}}\n"
	if _, err := Parse([]byte(src), "p.yaml", abc); err == nil || !strings.HasPrefix(err.Error(), `p.yaml:4:63: partitions[0].start.link: "a->a" `+want) {
		t.Errorf("got a trigger on a->a: %v, want it refused at its line:col", err)
	}
	p := mustParse(t, "rules: []\n")
	if _, err := p.ParseRule([]byte("{match: {from: a, to: a}, drop: true}"), "rule.yaml", "x"); err == nil ||
		!strings.HasPrefix(err.Error(), "rule.yaml:1:23: match.to: from and to both name port a alone") {
		t.Errorf("got a rule edit from a to a: %v, want it refused at its line:col", err)
	}
}

// TestCIDRWithHostBitsIsItsNetwork: a CIDR with bits set past its length
// (an interface's address, 10.42.0.1/24) means its network, as it always
// matched; a second entry for the same network is listed twice.
func TestCIDRWithHostBitsIsItsNetwork(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.5/8", "10.0.0.0/8"},
		{"192.168.1.1/24", "192.168.1.0/24"},
		{"fd00::1/64", "fd00::/64"},
		{"10.0.0.5/32", "10.0.0.5/32"},
		{"10.0.0.5", "10.0.0.5/32"},
	} {
		p, err := parsePrefix(tc.in)
		if err != nil || p.String() != tc.want {
			t.Errorf("got parsePrefix(%q) = %v, %v, want %s", tc.in, p, err, tc.want)
		}
	}
	_, err := Parse([]byte("rules:\n  - name: x\n    match: {src_ip: [10.0.0.0/8, 10.0.0.5/8]}\n"), "p.yaml", abc)
	if err == nil || !strings.Contains(err.Error(), "is listed twice") {
		t.Errorf("got Parse error %v, want 10.0.0.5/8 listed twice after 10.0.0.0/8", err)
	}
}

// TestListedTwiceRefused: an entry of a match list that means what one
// before it does is refused at its line:col, saying where the first is.
func TestListedTwiceRefused(t *testing.T) {
	for _, tc := range []struct{ match, want string }{
		{"{src_ip: [10.0.0.0/8, 10.0.0.0/8]}", `3:34: rules[0].match.src_ip: "10.0.0.0/8" is listed twice (first at line 3, column 22)`},
		{"{dst_ip: [10.0.0.1, 10.1.0.0/16, 10.0.0.1/32]}", `3:45: rules[0].match.dst_ip: "10.0.0.1/32" is listed twice (first at line 3, column 22, as "10.0.0.1")`},
		{`{dst_ip: ["fd00::/8", "fd00::/8"]}`, `3:34: rules[0].match.dst_ip: "fd00::/8" is listed twice (first at line 3, column 22)`},
		{"{protocol: [udp, tcp, 17]}", `3:34: rules[0].match.protocol: "17" is listed twice (first at line 3, column 24, as "udp")`},
		{"{ethertype: [ipv4, 0x800]}", `3:31: rules[0].match.ethertype: "0x800" is listed twice (first at line 3, column 25, as "ipv4")`},
		{"{from: [a, b, a]}", `3:26: rules[0].match.from: "a" is listed twice (first at line 3, column 20)`},
		{"{link: [a->b, a -> b]}", `3:26: rules[0].match.link: "a -> b" is listed twice (first at line 3, column 20, as "a->b")`},
		// A link or port entry means its directed pairs or its ports: one
		// whose every pair or port the entries before it hold adds nothing.
		{"{link: [a<->b, b<->a]}", `3:27: rules[0].match.link: "b<->a" is listed twice (first at line 3, column 20, as "a<->b")`},
		{"{link: [a<->b, a->b]}", `3:27: rules[0].match.link: "a->b" is listed twice (first at line 3, column 20, as "a<->b")`},
		{"{link: [a->b, b->a, a<->b]}", `3:32: rules[0].match.link: "a<->b" is listed twice (first at line 3, column 20, as "a->b"; and line 3, column 26, as "b->a")`},
		{"{link: [west->b, a->b]}", `3:29: rules[0].match.link: "a->b" is listed twice (first at line 3, column 20, as "west->b")`},
		{"{from: [west, c]}", `3:26: rules[0].match.from: "c" is listed twice (first at line 3, column 20, as "west")`},
		{"{to: [a, c, west]}", `3:24: rules[0].match.to: "west" is listed twice (first at line 3, column 18, as "a"; and line 3, column 21, as "c")`},
		{"{src_ip: [10.0.0.0/8, 10.1.0.0/16], link: [a->b, a<->b], protocol: [tcp, udp]}", ""},
		{"{from: [a, west], to: [b, west]}", ""}, // west adds c
	} {
		src := "rules:\n  - name: x\n    match: " + tc.match + "\ngroups: {west: [a, c]}\n"
		_, err := Parse([]byte(src), "p.yaml", abc)
		var list ErrorList
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("got Parse(%q) = %v, want it accepted", src, err)
		case tc.want != "" && (!errors.As(err, &list) || len(list) != 1 || list[0].Error() != "p.yaml:"+tc.want):
			t.Errorf("got Parse(%q) error\n%v\nwant the one error p.yaml:%s", src, err, tc.want)
		}
	}
}
