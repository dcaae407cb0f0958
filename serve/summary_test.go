package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		raw, err := p.ctl.Rules(context.Background())
		var st filter.Stats
		if err != nil || json.Unmarshal(raw, &st) != nil {
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

// TestSummaryKeepsRemovedRules: a rule ctl rule remove took out during the
// run is in the exit summary, under removed_rules with its last counters
// and when it went, and in the text summary people read.
func TestSummaryKeepsRemovedRules(t *testing.T) {
	run := func(jsonOut bool) string {
		var out syncbuf.Buffer
		p := runPair(t, "rules:\n  - {name: drop-a-b, match: {link: a->b}, loss: 100%}\n  - {name: slow-b-a, match: {link: b->a}, delay: 1ms}\n",
			serve.Options{SummaryOut: &out, JSON: jsonOut})
		macA := hubtest.MAC("52:54:00:12:34:0a")
		for i := range 3 {
			if err := p.a.WriteFrame(hubtest.Frame(hubtest.Broadcast, macA, fmt.Sprintf("frame %d", i))); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "three frames dropped", func() bool {
			raw, err := p.ctl.Rules(context.Background())
			var st filter.Stats
			if err != nil || json.Unmarshal(raw, &st) != nil || len(st.Rules) == 0 {
				return false
			}
			return st.Rules[0].Dropped == 3
		})
		if _, err := p.ctl.RemoveRule(context.Background(), "drop-a-b"); err != nil {
			t.Fatal(err)
		}
		p.stop()
		return out.String()
	}
	var sum serve.Summary
	if out := run(true); json.Unmarshal([]byte(out), &sum) != nil {
		t.Fatalf("summary %q is no JSON", out)
	}
	if len(sum.Rules) != 1 || sum.Rules[0].Rule != "slow-b-a" {
		t.Errorf("got rules %+v, want slow-b-a alone", sum.Rules)
	}
	if len(sum.RemovedRules) != 1 {
		t.Fatalf("got removed_rules %+v, want drop-a-b", sum.RemovedRules)
	}
	if r := sum.RemovedRules[0]; r.Rule != "drop-a-b" || r.Matched != 3 || r.Dropped != 3 || r.RemovedAtNS <= 0 {
		t.Errorf("got removed rule %+v, want drop-a-b with 3 matched and dropped, and when", r)
	}
	if text := run(false); !strings.Contains(text, "rule drop-a-b removed at ") || !strings.Contains(text, "matched 3, dropped 3") {
		t.Errorf("got the text summary:\n%s\nwant it to say drop-a-b was removed, with its counters", text)
	}
}
