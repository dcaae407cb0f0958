package filter_test

import (
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"l2hub/filter"
	"l2hub/hub"
)

// TestSimLossBinomial is the statistical check through the real
// core: 5% loss on a->b over 100 000 frames. The count of frames b receives
// is binomial(n, 0.95); the seeds are fixed, so the test never flakes, and
// the 5-sd bound is what any correct Bernoulli source meets.
func TestSimLossBinomial(t *testing.T) {
	const n, p = 100_000, 0.05
	sd := math.Sqrt(n * p * (1 - p)) // 68.9
	for _, seed := range []string{"4", "5"} {
		t.Run("seed-"+seed, func(t *testing.T) {
			pol := policy(t, "seed: "+seed+"\nrules:\n  - {name: loss, match: {link: a->b}, loss: 5%}\n")
			sim := newSim(t, hub.ModeSwitch, pol)
			// b announces itself first, so a->b is unicast and c gets nothing.
			sim.Send("b", frame("b", "a", 9, "", 0, 0))
			flooded := len(sim.Received("c"))
			for i := range n {
				sim.SendAt(time.Duration(i+1)*10*time.Microsecond, "a", frame("a", "b", 9, "", uint32(i), 0))
			}
			lost := n - len(sim.Received("b"))
			if math.Abs(float64(lost)-n*p) > 5*sd {
				t.Errorf("lost %d of %d frames, want %.0f ± %.0f", lost, n, n*p, 5*sd)
			}
			if got := len(sim.Received("c")) - flooded; got != 0 {
				t.Errorf("c received %d frames of the unicast flow", got)
			}
			st := pol.Stats().Rules[0]
			if st.Matched != n || st.Dropped != uint64(lost) {
				t.Errorf("rule counters matched %d dropped %d, want %d and %d", st.Matched, st.Dropped, n, lost)
			}
			if drops := sim.Stats("b").Drops(hub.DropPolicy); drops != uint64(lost) {
				t.Errorf("port b (the egress) counted %d policy drops, want %d", drops, lost)
			}
		})
	}
}

// TestSimDelayNormal: normal jitter through the core. Every frame arrives
// (reordering allowed), and the delays' mean and standard deviation match
// the rule's within bounds a correct normal source meets.
func TestSimDelayNormal(t *testing.T) {
	const n = 20_000
	const fixed, jitter = 20 * time.Millisecond, 5 * time.Millisecond
	pol := policy(t, "seed: 8\nrules:\n  - {name: wan, match: {link: a->b}, delay: {fixed: 20ms, jitter: 5ms, distribution: normal, order: reorder}}\n")
	sim := newSim(t, hub.ModeHub, pol)
	sent := make([]time.Duration, n)
	for i := range n {
		sent[i] = time.Duration(i) * 100 * time.Microsecond
		sim.SendAt(sent[i], "a", frame("a", "b", 9, "", uint32(i), 0))
	}
	sim.Drain()
	got := sim.Received("b")
	if len(got) != n {
		t.Fatalf("b received %d of %d frames", len(got), n)
	}
	var sum, sumSq float64
	reordered := 0
	for i, d := range got {
		seq := seqOf(d.Frame, "")
		if i > 0 && seq < seqOf(got[i-1].Frame, "") {
			reordered++
		}
		delay := float64(d.At - sent[seq])
		if delay < 0 {
			t.Fatalf("frame %d delivered %v before it was sent", seq, -time.Duration(delay))
		}
		sum += delay
		sumSq += delay * delay
	}
	mean := sum / n
	sd := math.Sqrt(sumSq/n - mean*mean)
	// The mean of n normal draws has sd jitter/sqrt(n) (35 µs); 5 of them.
	if tol := 5 * float64(jitter) / math.Sqrt(n); math.Abs(mean-float64(fixed)) > tol {
		t.Errorf("mean delay %v, want %v ± %v", time.Duration(mean), fixed, time.Duration(tol))
	}
	// The sample sd of a normal has sd about jitter/sqrt(2n) (25 µs); the
	// draws are clipped at zero, 4 sd away, which changes nothing visible.
	if tol := 5 * float64(jitter) / math.Sqrt(2*n); math.Abs(sd-float64(jitter)) > tol {
		t.Errorf("delay sd %v, want %v ± %v", time.Duration(sd), jitter, time.Duration(tol))
	}
	if reordered == 0 {
		t.Error("no frame overtook another: order: reorder with 5 ms jitter at 0.1 ms spacing must reorder")
	}
}

// TestSimPartitionTriggers: a partition started by one rule's match count
// and ended by another's, through the core.
func TestSimPartitionTriggers(t *testing.T) {
	pol := policy(t, `rules:
  - name: go
    match: {link: a->b, payload: go}
  - name: stop
    match: {link: c->b, payload: stop}
partitions:
  - name: split
    groups: a|b
    start: {rule: go, matches: 3, link: a->b}
    end: {rule: stop, matches: 2}
`)
	sim := newSim(t, hub.ModeHub, pol)
	send := func(from, to, payload string, seq uint32) bool {
		before := len(sim.Received(to))
		sim.Send(from, frame(from, to, 9, payload, seq, 0))
		return len(sim.Received(to)) > before
	}
	for i := range uint32(2) {
		if !send("a", "b", "go", i) {
			t.Fatalf("go %d lost before the trigger", i)
		}
	}
	// The frame that completes the count is judged before the partition
	// starts; the next frame between a and b is not.
	if !send("a", "b", "go", 2) {
		t.Error("the 3rd go was lost: the partition starts after it")
	}
	if send("b", "a", "", 3) {
		t.Error("b->a crossed while split is active")
	}
	if !send("c", "b", "stop", 4) {
		t.Error("c->b is not in the partition, yet the frame was lost")
	}
	if send("a", "b", "", 5) {
		t.Error("a->b crossed after one stop of two")
	}
	send("c", "b", "stop", 6)
	if !send("a", "b", "", 7) || !send("b", "a", "", 8) {
		t.Error("a and b still split after the 2nd stop")
	}
	if st := pol.Stats(); len(st.Partitions) == 0 {
		t.Errorf("no partition counters: %+v", st)
	}
}

// tcpSYN turns a frame built by frame() into a TCP SYN (no options, no
// checksum: nothing on the hub reads it).
func tcpSYN(from, to string, seq uint32) []byte {
	f := frame(from, to, 80, "", seq, 12)
	f[14+9] = 6          // protocol TCP
	f[14+20+12] = 5 << 4 // data offset 5 words
	f[14+20+13] = 0x02   // SYN
	return f
}

// TestSimEveryImpairment runs the README's one-example-per-impairment
// policy through the core with traffic on every link it names, and
// requires every rule, the partition and the flap schedule to have acted,
// with the note the file's comment (and so the README) shows for it.
func TestSimEveryImpairment(t *testing.T) {
	pol, err := filter.Load("../testdata/policies/every-impairment.yaml", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	sim := newSim(t, hub.ModeHub, pol)
	// 10 s of traffic at 0.5 ms steps: every link carries small UDP frames,
	// a->b also SYNs, b<->c also 1500-byte frames, and c->b a 1000-byte
	// stream every step, 16.7 Mbit/s, above the 10 Mbit/s rate rule.
	links := [][2]string{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "a"}, {"b", "c"}, {"c", "b"}}
	seq := uint32(0)
	for i := range 20_000 {
		at := time.Duration(i) * 500 * time.Microsecond
		for _, l := range links {
			seq++
			sim.SendAt(at, l[0], frame(l[0], l[1], 9, "", seq, 20))
		}
		seq++
		sim.SendAt(at, "c", frame("c", "b", 9, "", seq, 1000))
		seq++
		switch i % 4 {
		case 0:
			sim.SendAt(at, "a", tcpSYN("a", "b", seq))
		case 1:
			sim.SendAt(at, "b", frame("b", "c", 9, "", seq, 1500-42-4))
		}
	}
	sim.Drain()

	st := pol.Stats()
	counters := map[string]filter.RuleStats{}
	for _, r := range st.Rules {
		counters[r.Rule] = r
	}
	for rule, acted := range map[string]func(filter.RuleStats) bool{
		"syn-drop": func(r filter.RuleStats) bool { return r.Dropped > 0 },
		"lossy":    func(r filter.RuleStats) bool { return r.Dropped > 0 },
		"bursty":   func(r filter.RuleStats) bool { return r.Dropped > 0 },
		"wan":      func(r filter.RuleStats) bool { return r.Delayed > 0 },
		"shuffle":  func(r filter.RuleStats) bool { return r.Delayed > 0 },
		"twice":    func(r filter.RuleStats) bool { return r.Duplicated > 0 },
		"bitrot":   func(r filter.RuleStats) bool { return r.Corrupted > 0 },
		"thin":     func(r filter.RuleStats) bool { return r.Queued > 0 && r.Overflowed > 0 },
		"small":    func(r filter.RuleStats) bool { return r.Dropped > 0 },
	} {
		if r, ok := counters[rule]; !ok || !acted(r) {
			t.Errorf("rule %s did not act: %+v", rule, r)
		}
	}
	// The first note of each rule and action must read as the file's
	// comment on that rule says, word for word: the README shows them.
	first := map[string]string{}
	for _, ev := range sim.Events() {
		for _, n := range ev.Notes {
			if k := n.Rule + " " + n.Action; first[k] == "" {
				n.Link, n.Rule = "", ""
				first[k] = n.String()
				t.Logf("first %s note: %s", k, first[k])
			}
		}
	}
	for _, c := range everyImpairmentComments(t) {
		for _, want := range strings.Split(c.notes, "; ") {
			action, _, _ := strings.Cut(want, " ")
			got, ok := first[c.rule+" "+action]
			switch {
			case !ok:
				t.Errorf("every-impairment.yaml:%d: no frame noted %q by rule %s", c.line, action, c.rule)
			case got != want:
				t.Errorf("every-impairment.yaml:%d: rule %s: got first note %q, want %q as the comment says", c.line, c.rule, got, want)
			}
		}
	}
}

// An impairmentComment is the trailing comment on one entry of
// every-impairment.yaml: the notes ("; "-separated, without link or rule)
// its rule, partition or schedule put on the first frame it acted on.
type impairmentComment struct {
	line        int
	rule, notes string
}

var impairmentEntry = regexp.MustCompile(`^\s*- \{name: ([\w-]+),.*\}(?:\s+# (.*))?$`)

// everyImpairmentComments reads the comment of every entry of
// every-impairment.yaml, and fails the test for an entry that has none.
func everyImpairmentComments(t *testing.T) []impairmentComment {
	t.Helper()
	b, err := os.ReadFile("../testdata/policies/every-impairment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cs []impairmentComment
	for i, line := range strings.Split(string(b), "\n") {
		m := impairmentEntry.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[2] == "" {
			t.Errorf("every-impairment.yaml:%d: entry %s has no comment with its note", i+1, m[1])
			continue
		}
		cs = append(cs, impairmentComment{line: i + 1, rule: m[1], notes: strings.TrimSpace(m[2])})
	}
	if len(cs) < 11 {
		t.Fatalf("got %d commented entries in every-impairment.yaml, want 11 or more (9 rules, a partition, a schedule)", len(cs))
	}
	return cs
}

// TestREADMEShowsEveryImpairment: the README's copy of
// every-impairment.yaml is the file, less its opening comment, so the
// notes TestSimEveryImpairment checks are the ones the README shows.
func TestREADMEShowsEveryImpairment(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("../testdata/policies/every-impairment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "`testdata/policies/every-impairment.yaml`")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no yaml block after its mention of `testdata/policies/every-impairment.yaml`")
	}
	want := string(file)
	for strings.HasPrefix(want, "#") {
		_, want, _ = strings.Cut(want, "\n")
	}
	if block != want {
		bl, wl := strings.Split(block, "\n"), strings.Split(want, "\n")
		for i := range max(len(bl), len(wl)) {
			var g, w string
			if i < len(bl) {
				g = bl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("the README's every-impairment policy differs from the file at its line %d:\ngot  %q\nwant %q", i+1, g, w)
			}
		}
	}
}
