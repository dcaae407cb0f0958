package capture

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"l2hub/filter"
	"l2hub/hub"
	"l2hub/hub/hubtest"
)

// hubScenario runs a small seeded scenario through the real core in virtual
// time: a dropped frame, a delayed one, a duplicated one and plain traffic.
func hubScenario(t *testing.T, sink *Sink) {
	t.Helper()
	pol, err := filter.Parse([]byte(`
seed: 5
rules:
  - name: drop-first
    match: {link: a->b, first: 1}
    drop: true
  - name: slow-b
    match: {link: b->a}
    delay: 15ms
  - name: twice
    match: {link: a->c, payload: "dup"}
    duplicate: {probability: 100%, copies: 1}
`), "golden.yaml", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	sim := hubtest.New(t, hubtest.Config{Mode: hub.ModeHub, Ports: []string{"a", "b", "c"}, Policy: pol, Observers: []hub.Observer{sink}})
	for _, name := range []string{"a", "b", "c"} {
		sink.SetPortStats(name, sim.Stats(name)) // the statistics blocks carry the hub's counters
	}
	macA, macB := hubtest.MAC("02:00:00:00:00:0a"), hubtest.MAC("02:00:00:00:00:0b")
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "first"))
	sim.Advance(time.Millisecond)
	sim.Send("b", hubtest.Frame(macA, macB, "reply"))
	sim.Advance(2 * time.Millisecond)
	sim.Send("a", hubtest.Frame(hubtest.Broadcast, macA, "dup me"))
	sim.Drain()
}

// TestGoldenFromHubtest pins the pcapng of a hubtest run with drops, delays
// and duplicates. Regenerate with: go test ./capture -run TestGoldenFromHubtest -update
func TestGoldenFromHubtest(t *testing.T) {
	var files [][]byte
	for range 2 { // and the same run twice gives the same bytes
		fs := newMemFS()
		cfg := memConfig(fs)
		cfg.Meta.Start = hub.DefaultEpoch
		s := mustOpen(t, cfg)
		hubScenario(t, s)
		mustClose(t, s)
		files = append(files, fs.file(t, cfg.Path))
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatalf("two identical runs, different bytes:\n%s", diffCaptures(files[0], files[1], FormatPcapng))
	}
	got := files[0]
	checkGolden(t, "hubtest-scenario.pcapng", got, FormatPcapng)

	// And it says what happened: read it back.
	r, err := NewReader(bytes.NewReader(got), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for p, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, p.Time.Sub(hub.DefaultEpoch).String()+" "+p.IfName+" "+p.Dir.String()+" "+p.Comment)
	}
	want := []string{
		"0s a in a->b: rule drop-first: drop (always)",
		"0s c out ",
		"1ms b in ",
		"1ms c out ",
		"3ms a in a->c: rule twice: duplicate (p=1 draw=0.249732 copies=1)",
		"3ms b out ",
		"3ms c out ",
		"3ms c out rule twice: duplicate (copy 1)",
		"16ms a out rule slow-b: delay (15ms)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("capture reads back as\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
