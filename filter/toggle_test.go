package filter

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// partitioned reports whether a frame from->to at at is dropped by a
// partition.
func partitioned(p *Policy, at time.Duration, from, to string) bool {
	d := decide(p, at, link(from, to), plain())
	return d.Drop && len(d.Notes) == 1 && d.Notes[0].Action == "partition"
}

const pingRule = "rules:\n  - {name: ping, match: {link: b->a}}\n"

// TestStartTriggerAfterFixedEnd: a fixed end is final; a start trigger
// that fires after it does not start the partition (it used to, for good,
// while Describe said "until 2s").
func TestStartTriggerAfterFixedEnd(t *testing.T) {
	p := mustParse(t, pingRule+"partitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1}, end: 2s}\n")
	decide(p, 3*time.Second, link("b", "a"), plain()) // the ping
	for _, at := range []time.Duration{3 * time.Second, 100 * time.Second} {
		if partitioned(p, at, "a", "c") {
			t.Errorf("a->c at %v: partitioned, want through (p ended at 2s)", at)
		}
		if d := p.Describe(at); d.Partitions[0].Active {
			t.Errorf("Describe(%v): %+v, want inactive", at, d.Partitions[0])
		}
	}
	if st := p.Stats(); st.Partitions[0].Active {
		t.Errorf("Stats: %+v, want inactive", st.Partitions[0])
	}

	// Before the end, the trigger starts it until the end.
	p = mustParse(t, pingRule+"partitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1}, end: 2s}\n")
	if partitioned(p, 500*time.Millisecond, "a", "c") {
		t.Error("partitioned before the ping")
	}
	decide(p, time.Second, link("b", "a"), plain())
	if !partitioned(p, time.Second, "c", "a") || !partitioned(p, 1999*time.Millisecond, "a", "c") {
		t.Error("not partitioned between the ping at 1s and the end at 2s")
	}
	if partitioned(p, 2*time.Second, "a", "c") {
		t.Error("partitioned at its fixed end")
	}
}

// TestEndTriggerCountsWhileInForce: an end trigger counts the matches made
// while the partition is in force; matches before its start do not use it
// up (they used to, leaving the partition on for good from its start).
func TestEndTriggerCountsWhileInForce(t *testing.T) {
	p := mustParse(t, pingRule+"partitions:\n  - {name: p, groups: a|c, start: 1s, end: {rule: ping, matches: 2}}\n")
	decide(p, 100*time.Millisecond, link("b", "a"), plain())
	decide(p, 200*time.Millisecond, link("b", "a"), plain())
	if !partitioned(p, time.Second, "a", "c") {
		t.Fatal("not partitioned at its start")
	}
	decide(p, 2*time.Second, link("b", "a"), plain()) // 1st ping in force
	if !partitioned(p, 3*time.Second, "a", "c") {
		t.Error("healed after one ping in force, want two")
	}
	decide(p, 4*time.Second, link("b", "a"), plain()) // 2nd
	for _, at := range []time.Duration{4 * time.Second, 100 * time.Second} {
		if partitioned(p, at, "a", "c") {
			t.Errorf("partitioned at %v, after the 2nd ping in force at 4s", at)
		}
	}
	if d := p.Describe(100 * time.Second); d.Partitions[0].Active {
		t.Errorf("Describe: %+v, want inactive", d.Partitions[0])
	}
}

// TestTriggeredPartitionControl: control calls keep their latest-wins
// behaviour against a schedule that triggers complete.
func TestTriggeredPartitionControl(t *testing.T) {
	src := pingRule + "partitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 1}, end: 5s}\n"
	p := mustParse(t, src)
	// A heal after the trigger ends it at once; the schedule has no later
	// transition before its end.
	decide(p, time.Second, link("b", "a"), plain())
	if err := p.HealPartition(2*time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if partitioned(p, 3*time.Second, "a", "c") {
		t.Error("partitioned after a heal at 2s")
	}
	// A start after the fixed end holds: no scheduled transition follows.
	if err := p.StartPartition(6*time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if !partitioned(p, 100*time.Second, "a", "c") {
		t.Error("not partitioned at 100s after a start at 6s")
	}

	// A start before the trigger, then the trigger: it starts the
	// scheduled window again (latest wins) and the fixed end ends it.
	p = mustParse(t, src)
	if err := p.StartPartition(time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if err := p.HealPartition(2*time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	decide(p, 3*time.Second, link("b", "a"), plain())
	if !partitioned(p, 4*time.Second, "a", "c") || partitioned(p, 5*time.Second, "a", "c") {
		t.Error("want partitioned from the trigger at 3s to the end at 5s")
	}

	// An end trigger counts matches while a control call holds the
	// partition, and ends it.
	p = mustParse(t, pingRule+"partitions:\n  - {name: p, groups: a|c, end: {rule: ping, matches: 1}}\n")
	decide(p, time.Second, link("b", "a"), plain()) // not in force: not counted
	if err := p.StartPartition(2*time.Second, "p"); err != nil {
		t.Fatal(err)
	}
	if !partitioned(p, 3*time.Second, "a", "c") {
		t.Error("not partitioned after a start at 2s (the ping at 1s must not count)")
	}
	decide(p, 4*time.Second, link("b", "a"), plain())
	if partitioned(p, 5*time.Second, "a", "c") {
		t.Error("partitioned after the end trigger fired at 4s")
	}
	if err := p.StartPartition(6*time.Second, "p"); err != nil || !partitioned(p, 7*time.Second, "a", "c") {
		t.Errorf("start at 6s after the trigger: err %v, want partitioned (latest wins)", err)
	}
}

// TestStatsStateAtPolicyTime: Stats reports partitions and links as of the
// latest time the policy was given, not as of the last frame that crossed
// them.
func TestStatsStateAtPolicyTime(t *testing.T) {
	// The audit's repro: a frame a->b at 5ms, then only a->c at 20ms.
	p := mustParse(t, "partitions:\n  - {name: p, groups: a|b, start: 0s, end: 10ms}\n")
	decide(p, 5*time.Millisecond, link("a", "b"), plain())
	if st := p.Stats().Partitions[0]; !st.Active || st.Dropped != 1 {
		t.Errorf("at 5ms: %+v, want active, 1 dropped", st)
	}
	decide(p, 20*time.Millisecond, link("a", "c"), plain())
	if st := p.Stats().Partitions[0]; st.Active || st.Dropped != 1 {
		t.Errorf("at 20ms: %+v, want inactive as Describe says (%+v)", st, p.Describe(20 * time.Millisecond).Partitions[0])
	}

	// The same for a port's link after its down schedule.
	p = mustParse(t, "schedules:\n  - {name: s, port: c, at: 0s, down_for: 10ms}\n")
	decide(p, 5*time.Millisecond, link("c", "a"), plain())
	if st := portStats(p.Stats(), "c"); !st.Down || st.Dropped != 1 {
		t.Errorf("at 5ms: %+v, want down, 1 dropped", st)
	}
	decide(p, 20*time.Millisecond, link("a", "b"), plain())
	if st := portStats(p.Stats(), "c"); st.Down {
		t.Errorf("at 20ms: %+v, want up", st)
	}

	// Control calls move the policy's time too; without a frame since,
	// a partition's scheduled end shows.
	p = mustParse(t, "partitions:\n  - {name: p, groups: a|b, start: 0s, end: 10ms}\n")
	decide(p, 5*time.Millisecond, link("a", "b"), plain())
	if err := p.SetLink(30*time.Millisecond, "c", false); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Partitions[0].Active || !portStats(st, "c").Down {
		t.Errorf("after SetLink(c, down) at 30ms: %+v, want p inactive and c down", st)
	}
}

func portStats(st Stats, name string) PortStats {
	for _, ps := range st.Ports {
		if ps.Port == name {
			return ps
		}
	}
	return PortStats{Port: name}
}

// TestStatsConcurrentWithControl: run under -race. Stats evaluates toggles
// that control calls change on the loop.
func TestStatsConcurrentWithControl(t *testing.T) {
	p := mustParse(t, "partitions:\n  - {name: p, groups: a|c, start: 1s, end: 2s}\n")
	stop := readStats(p)
	for i := range 1000 {
		at := time.Duration(i) * time.Millisecond
		decide(p, at, link("b", "a"), plain())
		if err := p.SetLink(at, "c", i%2 == 0); err != nil {
			t.Fatal(err)
		}
		if err := p.StartPartition(at, "p"); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if st := p.Stats(); !st.Partitions[0].Active || !portStats(st, "c").Down {
		t.Errorf("got %+v, want p active and c down (the last calls at 999ms)", st)
	}
}

// TestStatsConcurrentWithTriggers: run under -race. Stats evaluates
// toggles that triggers and control calls change on the loop.
func TestStatsConcurrentWithTriggers(t *testing.T) {
	p := mustParse(t, pingRule+"partitions:\n  - {name: p, groups: a|c, start: {rule: ping, matches: 500}, end: {rule: ping, matches: 200}}\n")
	stop := readStats(p)
	for i := range 1000 {
		at := time.Duration(i) * time.Millisecond
		decide(p, at, link("b", "a"), plain())
		if i%100 == 50 {
			if err := p.SetLink(at, "c", i%200 == 50); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop()
	// Started by ping 500 (at 499ms), ended by the 200th ping in force
	// (at 698ms).
	if st := p.Stats().Partitions[0]; st.Active {
		t.Errorf("at 999ms: %+v, want inactive", st)
	}
	if d := p.Describe(600 * time.Millisecond); !d.Partitions[0].Active {
		t.Errorf("at 600ms: %+v, want active", d.Partitions[0])
	}
}

// toggleChange is a change made to a toggle at an instant: a control call
// that sets it on or off (kind 0), a start trigger with a hold (1) or an
// end trigger (2).
type toggleChange struct {
	at   time.Duration
	kind int
	on   bool
	hold time.Duration
}

// apply makes c on tg, and says whether it changed the toggle: a start
// after the window is over is no change.
func (c toggleChange) apply(tg *toggle) bool {
	switch c.kind {
	case 0:
		tg.set(c.at, c.on)
	case 1:
		changed := !tg.ended(c.at)
		tg.startAt(c.at, c.hold)
		return changed
	case 2:
		tg.endAt(c.at)
	}
	return true
}

// TestToggleOnSinceAgainstItsHistory: onSince(from, now) is, against a slow
// reference, whether the toggle was on at any instant from from to now as
// it stood at that instant, for random schedules (a window, open or not; a
// repeating one, counted or not) changed at random times by control calls
// and triggers.
func TestToggleOnSinceAgainstItsHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dur := func(n int) time.Duration { return time.Duration(rng.IntN(n)) }
	const horizon = 120
	for trial := range 1000 {
		var tg toggle
		switch rng.IntN(4) {
		case 1:
			tg.hasStart, tg.start = rng.IntN(3) > 0, dur(horizon)
			tg.hasEnd, tg.end = rng.IntN(2) > 0, dur(horizon)
		case 2:
			tg.hasStart, tg.start = true, dur(horizon)
			tg.every = 2 + dur(30)
			tg.length = 1 + dur(int(tg.every)-1)
			tg.count = int64(rng.IntN(4))
		case 3: // a partition a trigger starts, with or without a hold
		}
		var changes []toggleChange
		for range rng.IntN(6) {
			changes = append(changes, toggleChange{dur(horizon), rng.IntN(3), rng.IntN(2) == 0, dur(20)})
		}
		slices.SortFunc(changes, func(a, b toggleChange) int { return int(a.at - b.at) })
		var was []bool // was[t]: on at t, as the toggle stood then
		for now := time.Duration(0); now < horizon; now++ {
			for len(changes) > 0 && changes[0].at == now {
				changes[0].apply(&tg)
				changes = changes[1:]
			}
			on, _ := tg.on(now)
			was = append(was, on)
			for from := time.Duration(0); from <= now; from++ {
				want := slices.Contains(was[from:now+1], true)
				if got, _ := tg.onSince(from, now); got != want {
					t.Fatalf("trial %d: onSince(%d, %d) = %v, want %v (on at %v; toggle %+v)", trial, from, now, got, want, was, &tg)
				}
			}
		}
	}
}

// TestTriggersThatCanFireAreAccepted: the checks that refuse a trigger
// that can never fire leave alone those that can: a start trigger counts
// every match, on a link its partition cuts too; an end trigger counts on
// a link its rule matches that the partition leaves whole; and with the
// ports unknown (replay), a rule on every link may match on one.
func TestTriggersThatCanFireAreAccepted(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		ports     []string
	}{
		{"start-on-a-link-it-cuts", "rules:\n  - {name: ping, match: {link: a->b}}\npartitions:\n  - {name: p, groups: a|b, start: {rule: ping, matches: 1, link: a->b}, duration: 1s}\n", abc},
		{"end-on-a-link-left-whole", "rules:\n  - {name: ping, match: {link: [a->b, b->c]}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1, link: b->c}}\n", abc},
		{"end-on-a-rule-with-a-link-left-whole", "rules:\n  - {name: ping, match: {from: b}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1}}\n", abc},
		{"end-on-any-link-ports-unknown", "rules:\n  - {name: ping, match: {from: b}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1}}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.src), "p.yaml", tc.ports); err != nil {
				t.Errorf("Parse: %v, want it accepted", err)
			}
		})
	}
	// Where the end trigger counts, it fires: b->c is not cut by a|b.
	p := mustParse(t, "rules:\n  - {name: ping, match: {link: [a->b, b->c]}}\npartitions:\n  - {name: p, groups: a|b, start: 1s, end: {rule: ping, matches: 1}}\n")
	decide(p, 2*time.Second, link("b", "c"), plain())
	if partitioned(p, 3*time.Second, "a", "b") {
		t.Error("a->b partitioned after ping matched on b->c, want the end trigger to have ended it")
	}
}

// TestToggleOnSinceBroad is TestToggleOnSinceAgainstItsHistory over longer
// horizons, more and longer periods, several changes at one instant, and
// random (from, now) pairs against a prefix "last on" array; and asks late
// too, about a time before the latest change (the hub firing a timer after
// a control call), which counts the change as made by then. Seconds of
// CPU, a minute under the race detector, which has nothing to find in one
// goroutine: skipped with -short and with -race.
func TestToggleOnSinceBroad(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("seconds of CPU in one goroutine; run without -short or -race")
	}
	rng := rand.New(rand.NewPCG(7, 9))
	dur := func(n int) time.Duration { return time.Duration(rng.IntN(n)) }
	const horizon = 4000
	bad := 0
	check := func(trial, kind int, tg *toggle, from, now time.Duration, want bool) {
		if got, _ := tg.onSince(from, now); got != want {
			bad++
			if bad <= 5 {
				t.Errorf("trial %d kind %d: got onSince(%d, %d) = %v, want %v (toggle %+v)", trial, kind, from, now, got, want, tg)
			}
		}
	}
	for trial := range 3000 {
		var tg toggle
		kind := rng.IntN(4)
		switch kind {
		case 1:
			tg.hasStart, tg.start = rng.IntN(3) > 0, dur(horizon)
			tg.hasEnd, tg.end = rng.IntN(2) > 0, dur(horizon)
		case 2:
			tg.hasStart, tg.start = true, dur(horizon/4)
			tg.every = 2 + dur(200)
			tg.length = 1 + dur(int(tg.every)-1)
			tg.count = int64(rng.IntN(20))
		case 3: // a partition a trigger starts, with or without a hold
		}
		var changes []toggleChange
		for range rng.IntN(12) {
			at := dur(horizon)
			for range 1 + rng.IntN(3) { // several at one instant
				k := rng.IntN(3)
				if kind == 2 {
					k = 0 // a port's flaps: control calls only
				}
				changes = append(changes, toggleChange{at, k, rng.IntN(2) == 0, dur(300)})
			}
		}
		slices.SortStableFunc(changes, func(a, b toggleChange) int { return int(a.at - b.at) })
		lastOn := make([]time.Duration, horizon) // the latest instant <= t it was on, -1 for none
		prev, changed := time.Duration(-1), time.Duration(-1)
		for now := time.Duration(0); now < horizon; now++ {
			for len(changes) > 0 && changes[0].at == now {
				if changes[0].apply(&tg) {
					changed = now
				}
				changes = changes[1:]
			}
			if on, _ := tg.on(now); on {
				prev = now
			}
			lastOn[now] = prev
			for range 20 {
				from := dur(int(now) + 1)
				check(trial, kind, &tg, from, now, lastOn[now] >= from)
			}
			if changed > 0 { // late: asked about a time before the latest change
				for range 5 {
					late := dur(int(changed))
					from := dur(int(late) + 1)
					check(trial, kind, &tg, from, late, lastOn[changed] >= from)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d answers differ from the reference", bad)
	}
}

// TestToggleOnSinceLongWaits: a flap of 1ms every second, asked about
// waits from one instant to 1000 hours, with bounds at the flap's first
// and last instants and the one after; a counted schedule after its last
// period; and a control call just before a flap.
func TestToggleOnSinceLongWaits(t *testing.T) {
	ms := time.Millisecond
	tg := toggle{hasStart: true, start: 500 * ms, every: time.Second, length: ms}
	for _, c := range []struct {
		from, now time.Duration
		want      bool
	}{
		{501 * ms, 1500*ms - 1, false},
		{501 * ms, 1500 * ms, true},
		{501*ms - 1, 501*ms - 1, true},
		{501 * ms, 501 * ms, false},
		{500 * ms, 500 * ms, true},
		{400 * ms, 500*ms - 1, false},
		{501 * ms, 1000 * time.Hour, true},
		{1000*time.Hour + 501*ms, 1000*time.Hour + 1499*ms, false},
		{1000*time.Hour + 501*ms, 1000*time.Hour + 1500*ms, true},
	} {
		if got, _ := tg.onSince(c.from, c.now); got != c.want {
			t.Errorf("got onSince(%v, %v) = %v, want %v", c.from, c.now, got, c.want)
		}
	}
	tg.count = 3 // the periods at 0.5s, 1.5s and 2.5s
	if got, _ := tg.onSince(2501*ms, 100*time.Hour); got {
		t.Errorf("count 3: got onSince(2.501s, 100h) = true, want false (after the last period)")
	}
	// A control call putting the link up at 1499ms does not stop the flap
	// at 1500ms: a scheduled transition after a call wins.
	tg.count = 0
	tg.set(1499*ms, false)
	for _, c := range []struct {
		from, now time.Duration
		want      bool
	}{
		{1499 * ms, 1500 * ms, true},
		{400 * ms, 1499 * ms, true}, // the flap at 500ms, before the call
		{501 * ms, 1499 * ms, false},
	} {
		if got, _ := tg.onSince(c.from, c.now); got != c.want {
			t.Errorf("after ctl up at 1.499s: got onSince(%v, %v) = %v, want %v", c.from, c.now, got, c.want)
		}
	}
}

// TestStatsListsEveryPort: Stats gives every port of the hub a link state,
// in the hub's order (not by name), before any frame has crossed it and
// after, so that a script finds each port's whatever the traffic; a
// schedule names itself, and a policy compiled without the hub's ports
// lists the ports it has seen.
func TestStatsListsEveryPort(t *testing.T) {
	ports := func(st Stats) []PortStats { return st.Ports }
	p, err := Parse([]byte("schedules:\n  - {name: flap, port: a, at: 1s, down_for: 1s}\n"), "test.yaml", []string{"c", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []PortStats{{Port: "c"}, {Port: "a", Schedule: "flap: down 1s-2s"}, {Port: "b"}}
	if got := ports(p.Stats()); !slices.Equal(got, want) {
		t.Errorf("before any frame: %+v, want %+v", got, want)
	}
	decide(p, 1500*time.Millisecond, link("b", "a"), plain())
	want[1].Down, want[1].Dropped = true, 1
	if got := ports(p.Stats()); !slices.Equal(got, want) {
		t.Errorf("after b->a while a is down: %+v, want %+v", got, want)
	}

	p, err = Parse([]byte("rules: []\n"), "test.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	decide(p, 0, link("b", "a"), plain())
	if got, want := ports(p.Stats()), []PortStats{{Port: "a"}, {Port: "b"}}; !slices.Equal(got, want) {
		t.Errorf("without the hub's ports, after b->a: %+v, want %+v", got, want)
	}
}
