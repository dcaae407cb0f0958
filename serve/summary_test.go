package serve_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"l2hub/filter"
	"l2hub/hub/hubtest"
	"l2hub/internal/syncbuf"
	"l2hub/serve"
	"l2hub/transport"
)

// TestSummaryShowsPartitionsAndLinks: the exit summary people read counts
// what a partition and a link taken down dropped, as the JSON summary
// does, rather than an empty rule table beside a port's policy drops.
func TestSummaryShowsPartitionsAndLinks(t *testing.T) {
	var out syncbuf.Buffer
	p := runPair(t, "partitions:\n  - {name: split, groups: a|b, start: 0s}\nschedules:\n  - {name: b-dies, port: b, at: 0s}\n",
		serve.Options{SummaryOut: &out})
	macA := hubtest.MAC("52:54:00:12:34:0a")
	for i := range 3 {
		if err := p.a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("frame %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three frames dropped", func() bool {
		st, err := p.ctl.Counters(context.Background())
		if err != nil {
			return false
		}
		var n uint64
		for _, l := range st.Ports {
			n += l.Dropped
		}
		for _, pt := range st.Partitions {
			n += pt.Dropped
		}
		return n == 3
	})
	p.stop()
	got := out.String()
	for _, want := range []string{"\nPARTITION  GROUPS  ACTIVE  DROPPED\nsplit      a|b     true    ", "\nLINK  STATE  DROPPED\nb     down   "} {
		if !strings.Contains(got, want) {
			t.Errorf("summary:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "RULE") {
		t.Errorf("summary:\n%s\nwant no rule table: the policy has no rules", got)
	}
}

// failWriter fails every write, as stdout on a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// onWrite calls f on every write.
type onWrite func()

func (f onWrite) Write(b []byte) (int, error) { f(); return len(b), nil }

// TestJSONSummaryWriteFails: serve --json whose summary cannot be written
// to stdout fails the run, as --summary FILE does, instead of exiting 0
// with the counters lost.
func TestJSONSummaryWriteFails(t *testing.T) {
	cfg := serve.DefaultConfig()
	cfg.Control = "off"
	cfg.Ports = []transport.Spec{{Name: "a", Transport: transport.TCP, Address: "127.0.0.1:0"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The banner is written once the hub runs: stop it then.
	err := serve.Run(ctx, cfg, serve.Options{Out: onWrite(cancel), SummaryOut: failWriter{}, JSON: true})
	if err == nil || !strings.HasPrefix(err.Error(), "summary: ") || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("got serve.Run = %v, want the summary's write error", err)
	}
}

// TestSummaryKeepsRemovedRules: the rules that went out of force during
// the run are in the exit summary, under removed_rules, each with the
// policy it belonged to, why and when it went and its counters: one ctl
// rule remove took out, then those of the policy set-policy replaced. With
// rules (the policy in force's), they account for every frame counted.
func TestSummaryKeepsRemovedRules(t *testing.T) {
	const first = "rules:\n  - {name: drop-a-b, match: {link: a->b}, loss: 100%}\n  - {name: slow-b-a, match: {link: b->a}, delay: 1ms}\n"
	macA, macB := hubtest.MAC("52:54:00:12:34:0a"), hubtest.MAC("52:54:00:12:34:0b")
	// run returns the summary and the first policy's name and hash.
	run := func(jsonOut bool) (out, name, hash string) {
		var buf syncbuf.Buffer
		p := runPair(t, first, serve.Options{SummaryOut: &buf, JSON: jsonOut})
		ctx := context.Background()
		rule := func(name string) filter.RuleStats {
			if st, err := p.ctl.Counters(ctx); err == nil {
				for _, r := range st.Rules {
					if r.Rule == name {
						return r
					}
				}
			}
			return filter.RuleStats{}
		}
		send := func(vm interface{ WriteFrame([]byte) error }, src [6]byte, n int) {
			for i := range n {
				if err := vm.WriteFrame(hubtest.Frame(hubtest.Broadcast, src, fmt.Sprintf("frame %d", i))); err != nil {
					t.Fatal(err)
				}
			}
		}
		var desc filter.Description
		if raw, err := p.ctl.Policy(ctx); err != nil || json.Unmarshal(raw, &desc) != nil {
			t.Fatalf("ctl policy: %v", err)
		}
		sum := sha256.Sum256([]byte(desc.Text))
		name, hash = desc.Name, hex.EncodeToString(sum[:8])

		send(p.a, macA, 3)
		waitFor(t, "three frames dropped", func() bool { return rule("drop-a-b").Dropped == 3 })
		if _, err := p.ctl.RemoveRule(ctx, "drop-a-b"); err != nil {
			t.Fatal(err)
		}
		send(p.b, macB, 2)
		waitFor(t, "two frames delayed", func() bool { return rule("slow-b-a").Matched == 2 })
		if err := p.ctl.ReplacePolicy(ctx, "second.yaml", []byte("rules:\n  - {name: loss-a-b, match: {link: a->b}, loss: 100%}\n")); err != nil {
			t.Fatal(err)
		}
		send(p.a, macA, 1)
		waitFor(t, "a frame dropped by the second policy", func() bool { return rule("loss-a-b").Dropped == 1 })
		p.stop()
		return buf.String(), name, hash
	}
	out, name, hash := run(true)
	var sum serve.Summary
	if json.Unmarshal([]byte(out), &sum) != nil {
		t.Fatalf("summary %q is no JSON", out)
	}
	if len(sum.Rules) != 1 || sum.Rules[0].Rule != "loss-a-b" || sum.Rules[0].Dropped != 1 {
		t.Errorf("got rules %+v, want loss-a-b alone, 1 dropped", sum.Rules)
	}
	if len(sum.RemovedRules) != 2 {
		t.Fatalf("got removed_rules %+v, want drop-a-b removed, then slow-b-a replaced", sum.RemovedRules)
	}
	removed, replaced := sum.RemovedRules[0], sum.RemovedRules[1]
	if removed.Rule != "drop-a-b" || removed.Why != serve.WhyRemoved || removed.Matched != 3 || removed.Dropped != 3 || removed.RemovedAtNS <= 0 {
		t.Errorf("got %+v, want drop-a-b removed with 3 matched and dropped, and when", removed)
	}
	if replaced.Rule != "slow-b-a" || replaced.Why != serve.WhyReplaced || replaced.Matched != 2 || replaced.RemovedAtNS < removed.RemovedAtNS {
		t.Errorf("got %+v, want slow-b-a replaced with 2 matched, after drop-a-b went", replaced)
	}
	for _, r := range sum.RemovedRules {
		if r.Policy != name || r.PolicyHash != hash {
			t.Errorf("got rule %s of policy %q (%s), want %q (%s), the first one's", r.Rule, r.Policy, r.PolicyHash, name, hash)
		}
	}
	text, name, hash := run(false)
	for _, want := range []string{
		"rule drop-a-b of policy " + name + " (" + hash + ") removed by ctl rule remove at ",
		"matched 3, dropped 3",
		"rule slow-b-a of policy " + name + " (" + hash + ") replaced by set-policy at ",
		"matched 2, dropped 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("got the text summary:\n%s\nwant it to say %q", text, want)
		}
	}
}

// TestSummaryRemovedRulesIsAList: removed_rules is [] when no rule went,
// as the other lists, not missing or null.
func TestSummaryRemovedRulesIsAList(t *testing.T) {
	var out syncbuf.Buffer
	p := runPair(t, "rules: []\n", serve.Options{SummaryOut: &out, JSON: true})
	p.stop()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatalf("summary %q is no JSON: %v", out.String(), err)
	}
	if got := string(doc["removed_rules"]); got != "[]" {
		t.Errorf("got removed_rules %q, want []", got)
	}
}

// TestSummaryCountsMACMoves: two VMs on QEMU's default MAC flip-flop the
// switch's entry between their ports; /metrics counts the moves per port
// (l2hub_port_mac_moves_total), and so does the exit summary, in its JSON
// (mac_moves) and in the text people read, which names the likely cause.
func TestSummaryCountsMACMoves(t *testing.T) {
	var out syncbuf.Buffer
	sumFile := filepath.Join(t.TempDir(), "summary.json")
	p := runPair(t, "seed: 1\n", serve.Options{SummaryOut: &out, SummaryFile: sumFile})
	qemu := hubtest.MAC("52:54:00:12:34:56")
	sent := uint64(0)
	for i := range 3 {
		for _, vm := range []*transport.StreamConn{p.a, p.b} { // one at a time: the order makes the moves
			if err := vm.WriteFrame(hubtest.Frame(hubtest.Broadcast, qemu, fmt.Sprintf("arp %d", i))); err != nil {
				t.Fatal(err)
			}
			sent++
			waitFor(t, fmt.Sprintf("%d frames received", sent), func() bool {
				ports, err := p.ctl.Ports(context.Background())
				return err == nil && ports[0].Stats.RxFrames+ports[1].Stats.RxFrames == sent
			})
		}
	}
	metrics, err := p.ctl.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`l2hub_port_mac_moves_total{port="a"} 2`, `l2hub_port_mac_moves_total{port="b"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics does not hold %s", want)
		}
	}
	p.stop()
	if got, want := out.String(), "\nMAC moves (a MAC learned on one port came in on another): a=2 b=3; "; !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant it to contain %q", got, want)
	}
	sum := readSummary(t, sumFile)
	for i, want := range []uint64{2, 3} {
		if got := sum.Ports[i].Stats.MACMoves; got != want {
			t.Errorf("summary.json: port %s mac_moves = %d, want %d", sum.Ports[i].Name, got, want)
		}
	}
}
