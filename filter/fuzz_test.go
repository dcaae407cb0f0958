package filter

import (
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(goldenPolicy))
	f.Add([]byte("seed: 42\nrules:\n  - name: x\n    match: {from: a, protocol: udp, dst_port: 37020, payload: NXSB, first: 3}\n    drop: true\npartitions:\n  - {name: split, groups: a|b, start: 5s, end: 8s}\n"))
	f.Add([]byte("groups: {w: [a, b]}\npartitions:\n  - {name: p, groups: [w, c], start: {rule: r, matches: 3, link: a->c}, duration: 1s}\nrules:\n  - {name: r, match: {link: a->c}}\n"))
	f.Add([]byte("schedules:\n  - {name: f, port: b, at: 1s, down_for: 200ms, every: 2s, count: 5}\n"))
	f.Add([]byte("rules:\n  - {name: r, rate: {rate: 10Mbit, burst: 3000B, queue: 64KiB}, mtu: 1400, corrupt: {probability: 1%, bits: 3, skip: ip}}\n"))
	f.Add([]byte("rules:\n  - &a {name: x}\n  - *a\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz.yaml", abc)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned a policy with an error")
			}
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		// Whatever compiled must run.
		for i, l := range []string{"a->b", "b->c", "c->a"} {
			from, to, _ := strings.Cut(l, "->")
			decide(p, time.Duration(i)*time.Second, link(from, to), announce())
			decide(p, time.Duration(i)*time.Second, link(from, to), tcpFrame(1, 2, 2, []byte("x")))
		}
		_ = p.Describe(time.Minute).String()
	})
}

func FuzzParseFlags(f *testing.F) {
	f.Add("--loss", "a->b=5%", "--delay", "a<->b=20ms±5ms,normal")
	f.Add("--rate", "a->b=10Mbit,burst=3000B", "--partition", "a|b@5s-8s")
	f.Add("--down", "c@2s-2.5s/10s", "--loss", "gemodel:1%:30%:100%:0%")
	f.Add("--corrupt", "b->a=1%,bits=3,skip=transport", "--dup", "*=1%,copies=2")
	f.Add("--seed", "7", "--reorder", "a->b=25%,gap=5")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		p, err := ParseFlags([]string{k1, v1, k2, v2}, abc)
		if err != nil {
			return
		}
		decide(p, time.Second, link("a", "b"), announce())
		decide(p, time.Minute, link("b", "a"), plain())
	})
}

func FuzzDecide(f *testing.F) {
	// Hostile frames through every matcher and a header-aware corruption.
	const src = `rules:
  - {name: m, match: {ethertype: [ipv4, ipv6], src_ip: 10.0.0.0/8, protocol: [tcp, udp], dst_port: 1-65535, tcp_flags: "syn !ack", payload: NXSB, length: 14-}}
  - {name: c, corrupt: {probability: 100%, bits: 64, skip: transport}, mtu: 1400}
  - {name: c2, corrupt: {probability: 100%, bits: 8, skip: ip}}
`
	f.Add(announce())
	f.Add(tcpFrame(1, 2, 2, []byte("NXSB")))
	f.Add(make([]byte, 14))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		p := mustParse(t, src)
		orig := string(frame)
		d := decide(p, 0, link("a", "b"), frame)
		if string(frame) != orig {
			t.Fatal("Decide modified its input")
		}
		for _, c := range d.Copies {
			if c.Frame != nil && len(c.Frame) != len(frame) {
				t.Fatalf("corrupted copy is %d bytes, input %d", len(c.Frame), len(frame))
			}
		}
	})
}

// FuzzParseRule: any rule text (a control API body) is refused with an
// error naming its source, or parses into a rule that can be added to a
// running policy, decide, be updated and be removed.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte("{match: {link: a->b}, loss: 5%}"), "r")
	f.Add([]byte("- {name: r, match: {from: w, protocol: udp, payload: NXSB, first: 3}, drop: true}"), "r")
	f.Add([]byte("name: r\nmatch: {link: a<->c}\ndelay: {fixed: 20ms, jitter: 5ms, distribution: normal}\nreorder: 25%\n"), "r")
	f.Add([]byte("{rate: {rate: 10Mbit, burst: 3000B}, corrupt: {probability: 1%, bits: 3, skip: ip}, duplicate: {probability: 1%, copies: 2}}"), "r")
	f.Add([]byte("{name: other, drop: true}"), "r")
	f.Add([]byte("&a {name: *a}"), "r")
	f.Add([]byte("{"), "r")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		p := mustParse(t, "seed: 3\ngroups: {w: [a, b]}\nrules:\n  - {name: base, match: {link: a->b}, loss: 10%}\n")
		decide(p, 0, link("a", "b"), announce())
		rs, err := p.ParseRule(data, "fuzz-rule", name)
		if err != nil {
			if rs != nil {
				t.Fatal("ParseRule returned a rule with an error")
			}
			if !strings.Contains(err.Error(), "fuzz-rule") {
				t.Fatalf("error %q does not name the source", err)
			}
			return
		}
		if _, err := p.AddRule(rs, "base"); err != nil {
			return // a name in use, or one a rule cannot have
		}
		for i, l := range []string{"a->b", "b->c", "c->a"} {
			from, to, _ := strings.Cut(l, "->")
			decide(p, time.Duration(i)*time.Second, link(from, to), announce())
		}
		base := p.Stats().Rules[1]
		if _, err := p.UpdateRule(rs); err != nil {
			t.Fatalf("updating the rule just added: %v", err)
		}
		if _, err := p.RemoveRule(rs.Name); err != nil {
			t.Fatalf("removing the rule just added: %v", err)
		}
		if st := p.Stats(); len(st.Rules) != 1 || st.Rules[0] != base {
			t.Fatalf("after the update and removal: %+v, want base alone as it was, %+v", st.Rules, base)
		}
	})
}
