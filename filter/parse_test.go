package filter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadExamples(t *testing.T) {
	files, err := filepath.Glob("../testdata/policies/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("got %d example policies, want at least 10", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			p, err := Load(f, abc)
			if err != nil {
				t.Fatalf("Load(%s): %v", f, err)
			}
			if d := p.Describe(0); len(d.Rules)+len(d.Partitions) == 0 && !strings.Contains(f, "flap") {
				t.Errorf("Load(%s) described %+v, want rules or partitions", f, d)
			}
		})
	}
}

func TestLoadDoneWhenIsShort(t *testing.T) {
	data, err := os.ReadFile("../testdata/policies/done-when.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines++
		}
	}
	if lines > 12 {
		t.Errorf("done-when.yaml has %d lines of policy, want at most 12", lines)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // each must appear, in order, one per error
	}{
		{"unknown-top-key", "seed: 1\nrulez: []\n",
			[]string{`test.yaml:2:1: rulez: unknown field "rulez", did you mean "rules"?`}},
		{"unknown-rule-key", "rules:\n  - name: x\n    los: 5%\n",
			[]string{`test.yaml:3:5: rules[0].los: unknown field "los", did you mean "loss"?`}},
		{"unknown-match-key", "rules:\n  - name: x\n    match: {port: a}\n",
			[]string{`test.yaml:3:13: rules[0].match.port: unknown field "port" (known: broadcast,`}},
		{"probability-out-of-range", "rules:\n  - name: x\n  - name: y\n  - name: z\n    loss: {probability: 1.5}\n",
			[]string{`test.yaml:5:25: rules[2].loss.probability: 1.5 is more than 1 (100%)`}},
		{"percent-out-of-range", "rules:\n  - name: x\n    loss: 150%\n",
			[]string{`test.yaml:3:11: rules[0].loss: 150% is more than 100%`}},
		{"percent-just-out-of-range", "rules:\n  - name: x\n    loss: 100.5%\n",
			[]string{`test.yaml:3:11: rules[0].loss: 100.5% is more than 100%`}},
		{"duplicate-needs-probability", "rules:\n  - name: x\n    duplicate: {copies: 2}\n",
			[]string{`test.yaml:3:16: rules[0].duplicate: duplicate needs probability`}},
		{"corrupt-needs-probability", "rules:\n  - name: x\n    corrupt: {bits: 2}\n",
			[]string{`test.yaml:3:14: rules[0].corrupt: corrupt needs probability`}},
		{"reorder-needs-probability", "rules:\n  - name: x\n    delay: 5ms\n    reorder: {gap: 2}\n",
			[]string{`test.yaml:4:14: rules[0].reorder: reorder needs probability`}},
		// A key given a bad value is reported for its value alone, not as
		// missing too.
		{"bad-probability-is-not-missing", "rules:\n  - {name: d, duplicate: {probability: 2}}\n  - {name: c, corrupt: {probability: -1%}}\n  - {name: r, delay: 1ms, reorder: {probability: 1.5}}\n",
			[]string{`test.yaml:2:40: rules[0].duplicate.probability: 2 is more than 1 (100%); for 2 percent, write 2%`,
				`test.yaml:3:38: rules[1].corrupt.probability: -1% is negative`,
				`test.yaml:4:50: rules[2].reorder.probability: 1.5 is more than 1 (100%)`}},
		{"bad-gemodel-p-is-not-missing", "rules:\n  - {name: g, loss: {gemodel: {p: 1.5}}}\n",
			[]string{`test.yaml:2:35: rules[0].loss.gemodel.p: 1.5 is more than 1 (100%)`}},
		{"bad-rate-is-not-missing", "rules:\n  - {name: q, rate: {rate: 10Mbps}}\n",
			[]string{`test.yaml:2:28: rules[0].rate.rate: "10Mbps" is ambiguous`}},
		{"bad-trigger-matches-are-not-missing", "rules:\n  - {name: r}\npartitions:\n  - {name: p, groups: a|b, start: {rule: r, matches: 0}}\n",
			[]string{`test.yaml:4:54: partitions[0].start.matches: 0 is`}},
		{"corrupt-list", "rules:\n  - name: x\n    corrupt: [1]\n",
			[]string{`rules[0].corrupt: want a mapping, got a list`}},
		{"wrong-type-list-for-scalar", "rules:\n  - name: x\n    loss: [1, 2]\n",
			[]string{`rules[0].loss: want a mapping, got a list`}},
		{"wrong-type-seed", "seed: [1]\n",
			[]string{`test.yaml:1:7: seed: want a value, got a list`}},
		{"negative-seed", "seed: -1\n",
			[]string{`seed: "-1" is not an unsigned 64-bit integer`}},
		{"rules-not-list", "rules: {name: x}\n",
			[]string{`test.yaml:1:8: rules: want a list, got a mapping`}},
		{"unknown-port", "rules:\n  - name: x\n    match: {from: d}\n",
			[]string{`test.yaml:3:19: rules[0].match.from: port "d" does not exist (ports: a, b, c)`}},
		{"unknown-port-in-link", "rules:\n  - name: x\n    match: {link: a->z}\n",
			[]string{`rules[0].match.link: port "z" does not exist`}},
		{"bad-link", "rules:\n  - name: x\n    match: {link: ab}\n",
			[]string{`rules[0].match.link: "ab" is not a link`}},
		{"unknown-port-in-partition", "partitions:\n  - {name: p, groups: a|q}\n",
			[]string{`partitions[0].groups: port "q" does not exist`}},
		{"unknown-port-in-schedule", "schedules:\n  - {name: s, port: q, at: 1s}\n",
			[]string{`schedules[0].port: port "q" does not exist`}},
		{"duplicate-rule-name", "rules:\n  - name: x\n  - name: x\n",
			[]string{`test.yaml:3:11: rules[1].name: rule name "x" is used twice`}},
		{"duplicate-key", "rules:\n  - name: x\n    name: y\n",
			[]string{`test.yaml:3:5: rules[0].name: given twice (first at line 2, column 5)`}},
		{"missing-name", "rules:\n  - loss: 5%\n",
			[]string{`test.yaml:2:5: rules[0]: rule has no name`}},
		{"bad-rule-name", "rules:\n  - name: \"a b\"\n",
			[]string{`rules[0].name: rule name "a b" must be`}},
		// An empty name is refused where it is written, not dropped with
		// its rule: a rule that says "100% loss" must not load as nothing.
		{"empty-rule-name", "rules:\n  - {name: \"\", match: {link: a->b}, loss: 100%}\n",
			[]string{`test.yaml:2:12: rules[0].name: rule name "" must be`}},
		{"empty-rule-name-single-quotes", "rules:\n  - {name: '', drop: true}\n  - {name: ok, drop: true}\n",
			[]string{`rules[0].name: rule name "" must be`}},
		{"dot-rule-name", "rules:\n  - name: .\n", // a URL cannot carry it: ctl rule update . would never reach it
			[]string{`rules[0].name: rule name "." must be 1-64 printable characters without spaces or quotes, and not "." or ".."`}},
		{"dot-dot-rule-name", "rules:\n  - name: ..\n",
			[]string{`rules[0].name: rule name ".." must be`}},
		// Triggers that can never fire: a link the rule never matches; an
		// end trigger counting only what its own partition drops.
		{"trigger-link-the-rule-never-matches", "rules:\n  - {name: ping, match: {link: a->b}}\npartitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1, link: a->c}}\n",
			[]string{`test.yaml:4:66: partitions[0].start.link: rule "ping" never matches a frame on a->c, so the trigger would never fire`}},
		// A trigger counting a group's links would count only its first.
		{"trigger-link-from-a-group", "groups: {g: [a, b]}\nrules:\n  - {name: r, match: {link: a->c}}\npartitions:\n  - {name: p, groups: a|b, start: {rule: r, matches: 1, link: g->c}}\n",
			[]string{`partitions[0].start.link: a trigger counts one link (a->b), not "g->c"`}},
		{"end-trigger-on-a-link-it-cuts", "rules:\n  - {name: ping, match: {link: a->b}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1, link: a->b}}\n",
			[]string{`partitions[0].end.link: the partition cuts a->b, and an end trigger counts only while the partition is in force`}},
		{"end-trigger-on-a-rule-it-cuts", "rules:\n  - {name: ping, match: {link: a<->b}}\npartitions:\n  - {name: p, groups: [a, [b, c]], start: 1s, end: {rule: ping, matches: 1}}\n",
			[]string{`partitions[0].end.rule: the partition cuts every link rule "ping" matches on`}},
		{"end-trigger-on-a-rule-of-every-link", "rules:\n  - {name: ping}\npartitions:\n  - {name: p, groups: [a, [b, c]], start: 1s, end: {rule: ping, matches: 1}, duration: 1s}\n",
			[]string{`partitions[0]: give end or duration, not both`}}, // b<->c stays whole: the trigger is fine
		// A start trigger whose rule matches only once the partition's
		// fixed end is past: a start trigger then starts nothing.
		{"start-trigger-after-the-end", "rules:\n  - {name: r, match: {during: 5s-8s}}\npartitions:\n  - {name: p, groups: a|b, start: {rule: r, matches: 1}, end: 2s}\n",
			[]string{`test.yaml:4:42: partitions[0].start.rule: rule "r" matches only from 5s on (during), and the partition's window is over at 2s, after which a start trigger starts nothing`}},
		{"start-trigger-at-the-end", "rules:\n  - {name: r, match: {during: 2s-}}\npartitions:\n  - {name: p, groups: a|b, start: {rule: r, matches: 1}, end: 2s}\n",
			[]string{`partitions[0].start.rule: rule "r" matches only from 2s on (during)`}},
		{"dot-dot-partition-name", "partitions:\n  - {name: .., groups: a|b}\n",
			[]string{`partitions[0].name: ".." is not a valid partition name`}},
		{"dot-group-name", "groups: {.: [a]}\n",
			[]string{`"." is not a valid group name`}},
		{"duration-no-unit", "rules:\n  - name: x\n    delay: 20\n",
			[]string{`rules[0].delay: "20" needs a unit (e.g. 20ms)`}},
		{"duration-negative", "rules:\n  - name: x\n    delay: {fixed: -5ms}\n",
			[]string{`rules[0].delay.fixed: -5ms is negative`}},
		{"duration-too-large", "rules:\n  - name: x\n    delay: 99999999999999999999h\n",
			[]string{`test.yaml:3:12: rules[0].delay: 99999999999999999999h is longer than 24h, the most a policy's times may be`}},
		{"bad-jitter", "rules:\n  - name: x\n    delay: 20ms±x\n",
			[]string{`rules[0].delay: jitter: "x" is not a duration`}},
		{"bad-distribution", "rules:\n  - name: x\n    delay: {fixed: 1ms, distribution: pareto}\n",
			[]string{`rules[0].delay.distribution: "pareto" is not one of uniform, normal`}},
		{"delay-empty", "rules:\n  - name: x\n    delay: {}\n",
			[]string{`test.yaml:3:12: rules[0].delay: delay needs fixed or jitter`}},
		{"delay-order-alone", "rules:\n  - name: x\n    delay: {order: reorder}\n",
			[]string{`rules[0].delay: delay needs fixed or jitter`}},
		// A delay refused where it is written is not also missing for
		// reorder's sake: one problem, one error.
		{"bad-delay-with-reorder", "rules:\n  - {name: x, delay: 10xs, reorder: 5%}\n",
			[]string{`rules[0].delay: `}},
		{"bad-delay-mapping-with-reorder", "rules:\n  - {name: x, delay: {fixed: 10ms, order: lifo}, reorder: 5%}\n",
			[]string{`rules[0].delay.order: "lifo" is not one of fifo, reorder`}},
		{"empty-schedule-name", "schedules:\n  - {name: \"\", port: b, at: 0s}\n",
			[]string{`schedules[0].name: "" is not a valid schedule name`}},
		{"reorder-without-delay", "rules:\n  - name: x\n    reorder: 25%\n",
			[]string{`rules[0]: reorder needs a delay in the same rule`}},
		// netem reorders by letting frames skip the delay: with none,
		// nothing is reordered, whatever the notes would say.
		{"reorder-with-zero-delay", "rules:\n  - {name: r, delay: 0, reorder: 50%}\n",
			[]string{`test.yaml:2:5: rules[0]: reorder needs a delay in the same rule, above 0`}},
		{"reorder-with-zero-delay-mapping", "rules:\n  - {name: r, delay: {fixed: 0s, jitter: 0s}, reorder: 50%}\n",
			[]string{`rules[0]: reorder needs a delay in the same rule, above 0`}},
		{"ambiguous-rate", "rules:\n  - name: x\n    rate: 10Mbps\n",
			[]string{`rules[0].rate: "10Mbps" is ambiguous`}},
		{"rate-too-low", "rules:\n  - name: x\n    rate: 10bit\n",
			[]string{`rules[0].rate: 10bit is outside [1kbit, 1Tbit]`}},
		{"rate-missing", "rules:\n  - name: x\n    rate: {burst: 3000B}\n",
			[]string{`rules[0].rate: rate needs rate`}},
		{"mtu-too-small", "rules:\n  - name: x\n    mtu: 10\n",
			[]string{`rules[0].mtu: 10 bytes is outside [68,65535]`}},
		{"bad-size", "rules:\n  - name: x\n    mtu: 1.5KB\n",
			[]string{`rules[0].mtu: "1.5KB" is not a size`}},
		{"copies-out-of-range", "rules:\n  - name: x\n    duplicate: {probability: 1%, copies: 99}\n",
			[]string{`rules[0].duplicate.copies: 99 is outside [1,15]`}},
		{"bits-out-of-range", "rules:\n  - name: x\n    corrupt: {probability: 1%, bits: 0}\n",
			[]string{`rules[0].corrupt.bits: 0 is outside [1,64]`}},
		{"bad-skip", "rules:\n  - name: x\n    corrupt: {probability: 1%, skip: udp}\n",
			[]string{`rules[0].corrupt.skip: "udp" is not one of none, ethernet, ip, transport`}},
		{"gemodel-without-p", "rules:\n  - name: x\n    loss: {gemodel: {r: 5%}}\n",
			[]string{`rules[0].loss.gemodel: gemodel needs p`}},
		{"loss-both", "rules:\n  - name: x\n    loss: {probability: 1%, gemodel: {p: 1%}}\n",
			[]string{`rules[0].loss.gemodel: give probability or gemodel, not both`}},
		{"loss-both-gemodel-first", "rules:\n  - name: x\n    loss: {gemodel: {p: 1%}, probability: 5%}\n",
			[]string{`test.yaml:3:43: rules[0].loss.probability: give probability or gemodel, not both`}},
		// A rule compiled from "drop: false" would drop all it matches.
		{"drop-false", "rules:\n  - name: x\n    drop: false\n",
			[]string{`test.yaml:3:11: rules[0].drop: drop: false does nothing; remove it`}},
		{"drop-not-a-boolean", "rules:\n  - name: x\n    drop: maybe\n",
			[]string{`test.yaml:3:11: rules[0].drop: "maybe" is not true or false`}},
		{"ethertype-vlan", "rules:\n  - name: x\n    match: {ethertype: vlan}\n",
			[]string{`test.yaml:3:24: rules[0].match.ethertype: "vlan" is a VLAN tag: ethertype is the type after the tags; write vlan: true`}},
		{"ethertype-8100", "rules:\n  - name: x\n    match: {ethertype: [ipv4, 0x8100]}\n",
			[]string{`rules[0].match.ethertype: "0x8100" is a VLAN tag`}},
		{"ethertype-88a8", "rules:\n  - name: x\n    match: {ethertype: 0x88A8}\n",
			[]string{`rules[0].match.ethertype: "0x88A8" is a VLAN tag`}},
		{"ethertype-qinq", "rules:\n  - name: x\n    match: {ethertype: qinq}\n",
			[]string{`or qinq: true (two tags)`}},
		{"bad-ethertype", "rules:\n  - name: x\n    match: {ethertype: ipx}\n",
			[]string{`"ipx" is not an EtherType (ipv4, arp, ipv6, lldp, or a number such as 0x88cc)`}},
		{"vlan-not-bool", "rules:\n  - name: x\n    match: {vlan: 5}\n",
			[]string{`rules[0].match.vlan:`}},
		{"bad-mac", "rules:\n  - name: x\n    match: {src_mac: 52:54:00}\n",
			[]string{`rules[0].match.src_mac: "52:54:00" is not a MAC address`}},
		{"bad-cidr", "rules:\n  - name: x\n    match: {dst_ip: 10.0.0.0/33}\n",
			[]string{`rules[0].match.dst_ip: "10.0.0.0/33" is not an address or CIDR`}},
		{"bad-protocol", "rules:\n  - name: x\n    match: {protocol: sctpx}\n",
			[]string{`rules[0].match.protocol: "sctpx" is not an IP protocol`}},
		// 0 is no frame's upper layer: it matched only IPv6 frames whose
		// extension headers could not be walked, and IPv4 protocol 0.
		{"protocol-zero", "rules:\n  - name: x\n    match: {protocol: [udp, 0x0]}\n    drop: true\n",
			[]string{`test.yaml:3:29: rules[0].match.protocol: 0 is IPv6's hop-by-hop header`}},
		{"bad-port-range", "rules:\n  - name: x\n    match: {dst_port: 9-3}\n",
			[]string{`rules[0].match.dst_port: range "9-3" ends before it starts`}},
		// Ranges are inclusive, so one that ends one below its start holds
		// nothing: a rule that could never match (POLICY.md, Rules).
		{"port-range-one-below", "rules:\n  - name: x\n    match: {dst_port: 100-99}\n",
			[]string{`test.yaml:3:23: rules[0].match.dst_port: range "100-99" ends before it starts`}},
		{"length-range-one-below", "rules:\n  - name: x\n    match: {length: 100-99}\n",
			[]string{`test.yaml:3:21: rules[0].match.length: range "100-99" ends before it starts`}},
		{"matches-range-one-below", "rules:\n  - name: x\n    match: {matches: 100-99}\n",
			[]string{`test.yaml:3:22: rules[0].match.matches: range "100-99" ends before it starts`}},
		{"bad-tcp-flag", "rules:\n  - name: x\n    match: {tcp_flags: \"syn !ak\"}\n",
			[]string{`rules[0].match.tcp_flags: "!ak" is not a TCP flag`}},
		// A flag both set and clear matched frames with it set, the last
		// word silently lost; written twice alike, it is a slip too.
		{"tcp-flag-set-and-clear", "rules:\n  - name: x\n    match: {tcp_flags: \"syn !syn\"}\n",
			[]string{`test.yaml:3:24: rules[0].match.tcp_flags: TCP flag "syn" given twice`}},
		{"tcp-flag-twice", "rules:\n  - name: x\n    match: {tcp_flags: \"ack,ack\"}\n",
			[]string{`test.yaml:3:24: rules[0].match.tcp_flags: TCP flag "ack" given twice`}},
		{"bad-hex", "rules:\n  - name: x\n    match: {payload_hex: 4e5}\n",
			[]string{`rules[0].match.payload_hex: "4e5" is not hex bytes`}},
		{"first-zero", "rules:\n  - name: x\n    match: {first: 0}\n",
			[]string{`rules[0].match.first: 0 is outside [1,4611686018427387904]`}},
		{"matches-from-zero", "rules:\n  - name: x\n    match: {matches: 0-3}\n",
			[]string{`rules[0].match.matches: matches are counted from 1`}},
		{"matches-zero", "rules:\n  - name: x\n    match: {matches: 0}\n",
			[]string{`test.yaml:3:22: rules[0].match.matches: matches are counted from 1; "0" starts at 0`}},
		{"matches-open-below-at-zero", "rules:\n  - name: x\n    match: {matches: -0}\n",
			[]string{`test.yaml:3:22: rules[0].match.matches: matches are counted from 1; "-0" ends at 0`}},
		{"matches-no-bounds", "rules:\n  - name: x\n    match: {matches: \"-\"}\n",
			[]string{`rules[0].match.matches: range "-" has no bounds`}},
		{"bad-during", "rules:\n  - name: x\n    match: {during: 8s-5s}\n",
			[]string{`rules[0].match.during: time window "8s-5s" ends before it starts`}},
		// [from, to): a window that ends where it starts holds no time.
		{"during-empty", "rules:\n  - name: x\n    match: {during: 5s-5s}\n",
			[]string{`test.yaml:3:21: rules[0].match.during: time window "5s-5s" ends before it starts`}},
		// Sizes are checked before they are multiplied out: this one
		// wrapped to exactly 1MiB, inside the queue's 0-64MiB.
		{"size-overflow", "rules:\n  - name: x\n    rate: {rate: 10Mbit, queue: 17592186044417MiB}\n",
			[]string{`test.yaml:3:33: rules[0].rate.queue: 17592186044417MiB is too large`}},
		{"mac-octet-three-digits", "rules:\n  - name: x\n    match: {src_mac: \"052:54:00:12:34:56\"}\n",
			[]string{`test.yaml:3:22: rules[0].match.src_mac: "052:54:00:12:34:56" is not a MAC address`}},
		{"group-name-65-bytes", "groups: {" + strings.Repeat("g", 65) + ": [a, b]}\n",
			[]string{`(65 bytes) is not a valid group name`}},
		{"trigger-unknown-rule", "partitions:\n  - name: p\n    groups: a|b\n    start: {rule: nope, matches: 3}\n",
			[]string{`test.yaml:4:19: partitions[0].start.rule: no rule named "nope"`}},
		{"partition-end-before-start", "partitions:\n  - {name: p, groups: a|b, start: 8s, end: 5s}\n",
			[]string{`partitions[0]: ends at 5s, not after its start at 8s`}},
		{"partition-one-group", "partitions:\n  - {name: p, groups: a}\n",
			[]string{`partitions[0].groups: "a" needs at least two groups`}},
		{"partition-port-twice", "partitions:\n  - {name: p, groups: a|a}\n",
			[]string{`partitions[0].groups: port "a" is in more than one group`}},
		{"partition-port-twice-in-a-group", "partitions:\n  - {name: p, groups: [[a, b, a], [c]]}\n",
			[]string{`test.yaml:2:31: partitions[0].groups[0]: "a" is listed twice (first at line 2, column 25)`}},
		{"partition-port-twice-in-a-written-group", "partitions:\n  - {name: p, groups: 'a,a|b'}\n",
			[]string{`test.yaml:2:23: partitions[0].groups: "a" is listed twice in group "a,a"`}},
		{"partition-port-and-its-group-in-a-group", "groups: {west: [a, b]}\npartitions:\n  - {name: p, groups: [[west, a], [c]]}\n",
			[]string{`partitions[0].groups: port "a" is in group "west,a" twice (a group name there holds it)`}},
		{"partition-duplicate-name", "partitions:\n  - {name: p, groups: a|b}\n  - {name: p, groups: a|c}\n",
			[]string{`partitions[1].name: partition name "p" is used twice`}},
		{"schedule-every-too-short", "schedules:\n  - {name: s, port: a, at: 1s, down_for: 2s, every: 1s}\n",
			[]string{`test.yaml:2:5: schedules[0]: down 2s every 1s: the time down must be positive and shorter than the period`}},
		// "For good" and "once" are written by leaving the field out.
		{"schedule-down-for-zero", "schedules:\n  - {name: s, port: b, at: 1s, down_for: 0}\n",
			[]string{`test.yaml:2:42: schedules[0].down_for: duration must be positive`}},
		{"schedule-every-zero", "schedules:\n  - {name: s, port: b, at: 1s, down_for: 200ms, every: 0}\n",
			[]string{`test.yaml:2:56: schedules[0].every: duration must be positive`}},
		{"schedule-both-zero", "schedules:\n  - {name: s, port: b, at: 1s, down_for: 0s, every: 0s}\n",
			[]string{`schedules[0].down_for: duration must be positive`, `schedules[0].every: duration must be positive`}},
		{"schedule-port-twice", "schedules:\n  - {name: s, port: a, at: 1s}\n  - {name: t, port: a, at: 2s}\n",
			[]string{`schedules[1]: port "a" already has schedule "s"`}},
		{"group-port-twice", "groups: {west: [a, a]}\npartitions:\n  - {name: p, groups: [west, b]}\n",
			[]string{`test.yaml:1:20: groups.west: "a" is listed twice (first at line 1, column 17)`}},
		{"group-named-like-port", "groups:\n  a: [b]\n",
			[]string{`groups.a: group "a" has the name of a port`}},
		{"alias", "rules:\n  - &r {name: x}\n  - *r\n",
			[]string{`YAML aliases are not supported`}},
		{"too-deep", "rules: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n",
			[]string{`nested deeper than a policy can be`}},
		{"two-documents", "seed: 1\n---\nseed: 2\n",
			[]string{`a policy is one YAML document`}},
		{"syntax-error", "seed: 1\nrules: [\n",
			[]string{`test.yaml:2: syntax:`}},
		{"not-a-mapping", "- 1\n",
			[]string{`test.yaml:1:1: want a mapping, got a list`}},
		// The limits, one past their edge.
		{"list-one-entry-too-many", "groups:\n  g: [" + strings.Repeat("a, ", maxListLen) + "a]\n",
			[]string{fmt.Sprintf("test.yaml:2:6: groups.g: more than %d entries", maxListLen)}},
		{"one-schedule-too-many", "schedules:\n" + lines(maxSchedules+1, "  - {name: s%[1]d, port: a, at: %[1]ds, down_for: 1s}\n"),
			[]string{fmt.Sprintf("test.yaml:2:3: schedules: more than %d schedules", maxSchedules)}},
		{"one-partition-too-many", "partitions:\n" + lines(maxPartitions+1, "  - {name: p%[1]d, groups: a|b, start: %[1]d0s, end: %[1]d1s}\n"),
			[]string{fmt.Sprintf("more than %d partitions", maxPartitions)}},
		{"payload-one-byte-too-long", "rules:\n  - name: x\n    match: {payload_hex: \"" + strings.Repeat("ab", maxPayloadLen+1) + "\"}\n",
			[]string{fmt.Sprintf("rules[0].match.payload_hex: payload prefix must be 1-%d bytes, got %d", maxPayloadLen, maxPayloadLen+1)}},
		{"several-errors", "rules:\n  - name: x\n    loss: 2\n  - name: y\n    delay: -1s\n",
			[]string{`rules[0].loss: 2 is more than 1 (100%)`, `rules[1].delay: -1s is negative`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.src), "test.yaml", abc)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want error", tt.src, p)
			}
			if p != nil {
				t.Errorf("Parse(%q) returned a policy with its error", tt.src)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%q) error %v does not match ErrInvalid", tt.src, err)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Parse(%q) error is %T, want ErrorList", tt.src, err)
			}
			if len(list) != len(tt.want) {
				t.Fatalf("Parse(%q) gave %d errors:\n%v\nwant %d", tt.src, len(list), err, len(tt.want))
			}
			for i, w := range tt.want {
				if got := list[i].Error(); !strings.Contains(got, w) {
					t.Errorf("Parse(%q) error %d = %q, want it to contain %q", tt.src, i, got, w)
				}
			}
		})
	}
}

// lines is n lines of format, each given its index from 1.
func lines(n int, format string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("seed: 1\n" + strings.Repeat("#", maxPolicyBytes))
	if _, err := Parse(data, "big.yaml", abc); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse(%d bytes) error = %v, want too large", len(data), err)
	}
}

// A policy file one byte over the limit is refused, not read cut to the
// limit (a cut at a line's end would lose the later rules silently); one
// exactly at the limit is read whole.
func TestLoadSizeLimitAtItsEdge(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		head := "seed: 1\n#"
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(head+strings.Repeat("x", size-len(head)-1)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if _, err := Load(write("at.yaml", maxPolicyBytes), abc); err != nil {
		t.Errorf("Load of a %d-byte policy: %v, want it read", maxPolicyBytes, err)
	}
	_, err := Load(write("over.yaml", maxPolicyBytes+1), abc)
	if want := fmt.Sprintf("policy is larger than %d bytes", maxPolicyBytes); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load of a %d-byte policy: %v, want an error containing %q", maxPolicyBytes+1, err, want)
	}
}

// TestLoadRefusesAnEmptyFile: a policy file that defines nothing is
// refused, as set-policy refuses it, by every loader of a file (serve's and
// replay's, and a lab's); Parse of such a text, as the control API makes
// it, stays a policy of no faults. "rules: []" says no faults on purpose.
func TestLoadRefusesAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	for i, src := range []string{"", "\n\n", "# just a comment\n", "{}\n", "null\n", "---\n", "rules: []\n", "seed: 1\n"} {
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		var f Flags
		f.SetSeed(3)
		_, loadErr := Load(path, abc)
		_, flagsErr := f.Load(path, abc)
		_, specErr := LoadSpec(path, abc)
		empty := !strings.Contains(src, ":")
		for _, err := range []error{loadErr, flagsErr, specErr} {
			want := "policy " + path + ` is empty: it sets no seed, groups, rules, partitions or schedules (for a policy of no faults, give one that says so: "rules: []")`
			switch {
			case empty && (err == nil || err.Error() != want):
				t.Errorf("loading %q: got %v, want %s", src, err, want)
			case !empty && err != nil:
				t.Errorf("loading %q: %v, want it loaded", src, err)
			}
		}
	}
}

func TestParseTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for range 200 {
		b.WriteString("  - {name: x, loss: 9}\n")
	}
	_, err := Parse([]byte(b.String()), "t.yaml", abc)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse error = %v, want ErrorList", err)
	}
	if len(list) != maxErrors+1 {
		t.Errorf("got %d errors, want %d (capped)", len(list), maxErrors+1)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name, rule string
		want       string // the rule's actions, joined
	}{
		{"percent", "loss: 5%", "loss 5%"},
		{"fraction", "loss: 0.05", "loss 5%"},
		{"probability-key", "loss: {probability: 0.5%}", "loss 0.5%"},
		{"gemodel-defaults", "loss: {gemodel: {p: 1%}}", "loss gemodel p=1% r=99% 1-h=100% 1-k=0%"},
		{"gemodel-full", "loss: {gemodel: {p: 1%, r: 30%, 1-h: 90%, 1-k: 0.1%}}", "loss gemodel p=1% r=30% 1-h=90% 1-k=0.1%"},
		{"delay-fixed", "delay: 20ms", "delay 20ms fifo"},
		{"delay-plusminus", "delay: 20ms±5ms", "delay 20ms±5ms uniform fifo"},
		{"delay-ascii", "delay: 20ms+-5ms", "delay 20ms±5ms uniform fifo"},
		{"delay-mapping", "delay: {fixed: 1s, jitter: 100ms, distribution: normal, order: reorder}", "delay 1s±100ms normal reorder"},
		{"reorder", "delay: 10ms\n    reorder: {probability: 25%, gap: 5}", "reorder 25% gap 5, delay 10ms fifo"},
		{"duplicate", "duplicate: 1%", "duplicate 1% copies 1"},
		{"corrupt", "corrupt: {probability: 1%, bits: 3, skip: transport}", "corrupt 1% bits 3 skip transport"},
		{"rate", "rate: 10Mbit", "rate 10Mbit burst 1514B queue 65536B"},
		{"rate-mapping", "rate: {rate: 512kbit/s, burst: 3KB, queue: 1MiB}", "rate 512kbit burst 3000B queue 1048576B"},
		{"mtu", "mtu: 1500B", "mtu 1500"},
		{"drop", "drop: true", "drop"},
		{"count-only", "match: {from: a}", ""},
		{"vlan-spelled-as-yaml-does", "match: {vlan: True, qinq: FALSE}\n    drop: true", "drop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "rules:\n  - name: r\n    "+tt.rule+"\n")
			d := p.Describe(0)
			if got := strings.Join(d.Rules[0].Actions, ", "); got != tt.want {
				t.Errorf("actions of %q = %q, want %q", tt.rule, got, tt.want)
			}
		})
	}
}

func TestParseNilPortsSkipsCheck(t *testing.T) {
	if _, err := Parse([]byte("rules:\n  - {name: x, match: {link: q->r}}\n"), "t", nil); err != nil {
		t.Errorf("Parse with nil ports: %v, want no error", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n"} {
		p, err := Parse([]byte(src), "t", abc)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if d := decide(p, time.Second, link("a", "b"), plain()); d.Drop || len(d.Copies) != 0 || len(d.Notes) != 0 {
			t.Errorf("empty policy decided %+v, want pass-through", d)
		}
	}
}

func TestDescribeMatch(t *testing.T) {
	p := mustLoad(t, "done-when.yaml")
	d := p.Describe(0)
	want := `from=a protocol=udp dst_port=37020 payload="NXSB" first=3`
	if d.Rules[0].Match != want {
		t.Errorf("match = %q, want %q", d.Rules[0].Match, want)
	}
	if d.Partitions[0].Schedule != "5s-8s" || d.Partitions[0].Active {
		t.Errorf("partition = %+v, want 5s-8s inactive at 0", d.Partitions[0])
	}
	if d.Seed != 42 || !strings.Contains(d.Text, "NXSB") {
		t.Errorf("seed %d text %q, want 42 and the source", d.Seed, d.Text)
	}
}

// TestErrorsShortenLongValues: an error quotes a value the user wrote
// (a name, a value, a flag) shortened when it is long, so that a hostile
// file, flag or control request cannot make an error of its own size.
func TestErrorsShortenLongValues(t *testing.T) {
	long := strings.Repeat("a", 100000)
	p := mustParse(t, "rules:\n  - {name: r, drop: true}\n")
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"rule-name", func() error {
			_, err := Parse([]byte("rules:\n  - {name: "+long+", drop: true}\n"), "t.yaml", abc)
			return err
		}},
		{"rule-name-edit", func() error {
			rs, err := p.ParseRule([]byte("{drop: true}"), "rule.yaml", long)
			if err == nil {
				_, err = p.AddRule(rs, "")
			}
			return err
		}},
		{"rule-name-given", func() error {
			_, err := p.ParseRule([]byte("{name: "+long[:MaxRuleBytes/2]+", drop: true}"), "rule.yaml", "x")
			return err
		}},
		{"unknown-rule", func() error { _, err := p.RemoveRule(long); return err }},
		{"value", func() error {
			_, err := Parse([]byte("rules:\n  - {name: x, delay: "+long+"}\n"), "t.yaml", abc)
			return err
		}},
		{"number", func() error {
			_, err := Parse([]byte("rules:\n  - {name: x, loss: 1"+strings.Repeat("0", 100000)+"}\n"), "t.yaml", abc)
			return err
		}},
		{"port", func() error {
			_, err := Parse([]byte("rules:\n  - {name: x, match: {from: "+long+"}}\n"), "t.yaml", abc)
			return err
		}},
		{"flag", func() error { _, err := ParseFlags([]string{"--loss", "a->b=" + long}, abc); return err }},
		{"partition", func() error { _, err := p.AddPartition(0, "", [][]string{{long}, {"b"}}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); len(msg) > 1000 || !strings.Contains(msg, " bytes)") {
				t.Errorf("got a %d-byte error %.300q; want it short, saying how long the value was", len(msg), msg)
			}
		})
	}
}

// TestParseNameLengthBound: a group name may be 64 bytes, the bound it
// shares with port names (TestParseErrors refuses 65).
func TestParseNameLengthBound(t *testing.T) {
	name := strings.Repeat("g", 64)
	p := mustParse(t, "groups: {"+name+": [a, b]}\nrules:\n  - {name: r, match: {from: "+name+"}, drop: true}\n")
	if d := decide(p, 0, link("a", "c"), plain()); !d.Drop {
		t.Errorf("got %+v from a, want it dropped by the rule from group %s", d, name)
	}
}
