package filter

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// readsCases are one rule per match criterion, written as a policy file
// writes them (values with spaces where the file takes them), and what
// Reads says the rule reads. TestReadsCoversMatchSpec requires a case for
// every MatchSpec field: a new criterion needs one, and so a line in
// matcher.reads if it reads bytes.
var readsCases = []struct {
	field string // the MatchSpec field the match sets
	match string // the rule's match mapping
	want  RuleReads
}{
	{"From", `{from: a}`, RuleReads{From: []string{"a"}}},
	{"From", `{from: g}`, RuleReads{From: []string{"b", "c"}}},
	{"To", `{to: c}`, RuleReads{To: []string{"c"}}},
	{"Links", `{link: "a -> b"}`, RuleReads{Links: [][2]string{{"a", "b"}}}},
	{"Links", `{link: "a <-> g"}`, RuleReads{Links: [][2]string{{"a", "b"}, {"a", "c"}, {"b", "a"}, {"c", "a"}}}},
	{"EtherTypes", `{ethertype: [arp, 0x86dd]}`, RuleReads{Match: HeaderEtherType}},
	{"SrcMAC", `{src_mac: "52:54:00:12:34:56"}`, RuleReads{Match: HeaderMAC}},
	{"DstMAC", `{dst_mac: "52:54:00:12:34:56"}`, RuleReads{Match: HeaderMAC}},
	{"Broadcast", `{broadcast: true}`, RuleReads{Match: HeaderMAC}},
	{"Multicast", `{multicast: false}`, RuleReads{Match: HeaderMAC}},
	{"VLAN", `{vlan: true}`, RuleReads{Match: HeaderEtherType}},
	{"QinQ", `{qinq: false}`, RuleReads{Match: HeaderEtherType}},
	{"SrcIP", `{src_ip: 10.0.0.0/8}`, RuleReads{Match: HeaderIP}},
	{"DstIP", `{dst_ip: [10.1.0.0/16, "fd00::/8"]}`, RuleReads{Match: HeaderIP}},
	{"Protocols", `{protocol: udp}`, RuleReads{Match: HeaderProtocol}},
	{"SrcPort", `{src_port: "100 - 200"}`, RuleReads{Match: HeaderTransport}},
	{"DstPort", `{dst_port: 53}`, RuleReads{Match: HeaderTransport}},
	{"TCPFlags", `{tcp_flags: "syn !ack"}`, RuleReads{Match: HeaderTransport}},
	{"Payload", `{payload: "NX SB"}`, RuleReads{Payload: []byte("NX SB")}},
	{"Payload", `{payload_hex: "4e 58:53"}`, RuleReads{Payload: []byte("NXS")}},
	{"Length", `{length: "100 - 1500"}`, RuleReads{}},
	{"First", `{first: 3}`, RuleReads{}},
	{"Matches", `{matches: "- 100"}`, RuleReads{}},
	{"Every", `{every: 2}`, RuleReads{}},
	{"During", `{during: "1s - 5s"}`, RuleReads{}},
}

var readsPorts = []string{"a", "b", "c"}

func readsPolicy(t *testing.T, rules string) *Policy {
	t.Helper()
	p, err := Parse([]byte("groups: {g: [b, c]}\nrules:\n"+rules), "reads.yaml", readsPorts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadsCoversMatchSpec(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range readsCases {
		covered[tc.field] = true
	}
	typ := reflect.TypeFor[MatchSpec]()
	for i := range typ.NumField() {
		if f := typ.Field(i).Name; f != "Description" && !covered[f] {
			t.Errorf("MatchSpec.%s has no case in readsCases: add one, and say in matcher.reads what it reads", f)
		}
	}
}

func TestReadsOfEachCriterion(t *testing.T) {
	for i, tc := range readsCases {
		t.Run(fmt.Sprintf("%d-%s", i, strings.ToLower(tc.field)), func(t *testing.T) {
			rule := fmt.Sprintf("  - {name: r, match: %s, drop: true}\n", tc.match)
			spec, err := ParseSpec([]byte("groups: {g: [b, c]}\nrules:\n"+rule), "reads.yaml", readsPorts)
			if err != nil {
				t.Fatal(err)
			}
			if v := reflect.ValueOf(spec.Rules[0].Match).FieldByName(tc.field); v.IsZero() {
				t.Fatalf("match %s leaves MatchSpec.%s unset", tc.match, tc.field)
			}
			got := readsPolicy(t, rule).Reads()
			want := tc.want
			want.Rule = "r"
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("got Reads() = %+v, want [%+v]", got, want)
			}
		})
	}
}

// TestReadsCoversMatcher: every field of the compiled matcher is either
// read by matcher.reads or listed here as reading no byte of a frame.
func TestReadsCoversMatcher(t *testing.T) {
	known := map[string]string{
		"from": "ports", "to": "ports", "links": "ports",
		"etherType": "reads", "vlan": "reads", "qinq": "reads",
		"srcMAC": "reads", "dstMAC": "reads", "broadcast": "reads", "multicast": "reads",
		"srcIP": "reads", "dstIP": "reads", "proto": "reads",
		"srcPort": "reads", "dstPort": "reads", "tcpMask": "reads", "tcpValue": "reads (with tcpMask)",
		"payload": "Payload",
		"minLen":  "length", "maxLen": "length", "during": "time", "from0": "time", "to0": "time",
		"needParse": "derived",
	}
	typ := reflect.TypeFor[matcher]()
	for i := range typ.NumField() {
		if f := typ.Field(i).Name; known[f] == "" {
			t.Errorf("matcher.%s is new: say in matcher.reads (filter/reads.go) which headers it reads, and list it here", f)
		}
	}
}

func TestReadsOfActions(t *testing.T) {
	for _, tc := range []struct {
		action string
		want   Headers
		skip   string
	}{
		{"mtu: 1400", HeaderEtherType, ""},
		{"corrupt: 1%", 0, "none"},
		{"corrupt: {probability: 1%, skip: ethernet}", HeaderEtherType, "ethernet"},
		{"corrupt: {probability: 1%, skip: ip}", HeaderProtocol, "ip"},
		{"corrupt: {probability: 1%, skip: transport}", HeaderTransport, "transport"},
		{"delay: 10ms", 0, ""},
	} {
		t.Run(tc.action, func(t *testing.T) {
			got := readsPolicy(t, "  - name: r\n    "+tc.action+"\n").Reads()
			if len(got) != 1 || got[0].Headers() != tc.want || got[0].CorruptSkip != tc.skip {
				t.Errorf("got Reads() = %+v (headers %v), want headers %v, corrupt skip %q", got, got[0].Headers(), tc.want, tc.skip)
			}
		})
	}
}

// TestReadsOnAgreesWithDecide: RuleReads.On says of every link what the
// compiled rule's own link test does.
func TestReadsOnAgreesWithDecide(t *testing.T) {
	p := readsPolicy(t, `  - {name: r1, match: {from: a, to: g}, drop: true}
  - {name: r2, match: {link: "g -> a"}, drop: true}
  - {name: r3, match: {link: "a <-> c", to: a}, drop: true}
  - {name: r4, match: {dst_port: 53}, drop: true}
`)
	reads := p.Reads()
	for i, r := range p.rules {
		for _, from := range readsPorts {
			for _, to := range readsPorts {
				if got, want := reads[i].On(from, to), r.m.linkOK(from, to); got != want {
					t.Errorf("rule %s: got On(%s, %s) = %v, want %v", r.name, from, to, got, want)
				}
			}
		}
	}
	if !slices.ContainsFunc(reads, func(r RuleReads) bool { return r.Rule == "r4" && r.From == nil && r.To == nil && r.Links == nil }) {
		t.Errorf("got %+v, want r4 on every link", reads)
	}
}
