package filter

import (
	"os"
	"testing"
	"time"

	"l2hub/hub"
)

// passThrough has five rules that look at every frame and act on none.
var passThrough = func() string {
	b, err := os.ReadFile("../testdata/policies/pass-through-5.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

const lossy = `seed: 1
rules:
  - {name: loss, match: {link: a->b}, loss: 5%}
  - {name: jitter, match: {link: a->b}, delay: 1ms±500us}
`

func benchDecide(b *testing.B, src string) { benchDecideFrom(b, mustParse(b, src), 0) }

// benchDecideFrom decides a plain frame on a->b of p every microsecond
// from start.
func benchDecideFrom(b *testing.B, p *Policy, start time.Duration) {
	f := plain()
	l := link("a", "b")
	var d hub.Decision
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for i := 0; b.Loop(); i++ {
		d.Reset()
		p.Decide(start+time.Duration(i)*time.Microsecond, l, f, &d)
	}
}

func BenchmarkDecidePassThrough(b *testing.B) { benchDecide(b, passThrough) }
func BenchmarkDecideLossy(b *testing.B)       { benchDecide(b, lossy) }

func TestDecidePassThroughAllocs(t *testing.T) {
	p := mustParse(t, passThrough)
	f := plain()
	var d hub.Decision
	now := time.Duration(0)
	p.Decide(now, link("a", "b"), f, &d) // first sight of the link builds its state
	if allocs := decideAllocs(p, now, time.Microsecond, f, &d); allocs != 0 {
		t.Errorf("got %v allocations per pass-through Decide, want 0", allocs)
	}
	if st := p.Stats(); st.Rules[0].Matched != 0 || st.Partitions[0].Dropped != 0 {
		t.Errorf("pass-through policy acted: %+v", st)
	}
}

// TestCutAllocs: the hub asks Cut for every delayed copy as it falls due;
// looking back over the copy's wait (schedules, flaps, control calls)
// allocates nothing.
func TestCutAllocs(t *testing.T) {
	p := mustParse(t, `partitions: [{name: blip, groups: a|b, start: 1s, end: 2s}]
schedules: [{name: flap, port: b, at: 10s, down_for: 1ms, every: 1s}]
`)
	if err := p.SetLink(5*time.Second, "c", false); err != nil {
		t.Fatal(err)
	}
	p.Cut(0, 0, link("a", "b")) // first sight of the link builds its state
	now := 3 * time.Second
	allocs := testing.AllocsPerRun(1000, func() {
		now += 10 * time.Millisecond
		p.Cut(now-time.Second, now, link("a", "b"))
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per Cut, want 0", allocs)
	}
}

// toggled is a policy whose links are cut now and then: two partitions, a
// flap schedule and control calls, so that Decide and Cut look at toggles
// with a schedule and a history of changes.
const toggled = `seed: 1
rules:
  - {name: wan, match: {link: a->b}, delay: 50ms}
partitions:
  - {name: blip, groups: a|b, start: 1s, end: 2s}
  - {name: other, groups: a|c, start: 1s, end: 1000s}
schedules: [{name: flap, port: b, at: 10s, down_for: 1ms, every: 1s}]
`

// toggledPolicy is toggled with c's link taken down and up again at 5s.
func toggledPolicy(b *testing.B) *Policy {
	p := mustParse(b, toggled)
	if err := p.SetLink(5*time.Second, "c", false); err != nil {
		b.Fatal(err)
	}
	if err := p.SetLink(5*time.Second+time.Millisecond, "c", true); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkDecideToggled: Decide on a link that partitions and a flap
// schedule could cut, after control calls; none cuts it then.
func BenchmarkDecideToggled(b *testing.B) {
	benchDecideFrom(b, toggledPolicy(b), 6*time.Second+500*time.Microsecond)
}

// BenchmarkCut: the hub's question when a copy delayed 50ms is due, on
// the same link.
func BenchmarkCut(b *testing.B) {
	p := toggledPolicy(b)
	l := link("a", "b")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now := 6*time.Second + 500*time.Microsecond + time.Duration(i)*time.Microsecond
		p.Cut(now-50*time.Millisecond, now, l)
	}
}

// BenchmarkDecideDuplicate: copies a rule makes, each with its own
// corrupt and delay draws.
func BenchmarkDecideDuplicate(b *testing.B) {
	benchDecide(b, `seed: 1
rules:
  - {name: dup, match: {link: a->b}, duplicate: {probability: 100%, copies: 2}}
  - {name: damage, match: {link: a->b}, corrupt: 50%, delay: 1ms±500us}
`)
}
