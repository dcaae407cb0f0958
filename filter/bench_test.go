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

func benchDecide(b *testing.B, src string) {
	p := mustParse(b, src)
	f := plain()
	l := link("a", "b")
	var d hub.Decision
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for i := 0; b.Loop(); i++ {
		d.Reset()
		p.Decide(time.Duration(i)*time.Microsecond, l, f, &d)
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
	allocs := testing.AllocsPerRun(1000, func() {
		now += time.Microsecond
		d.Reset()
		p.Decide(now, link("a", "b"), f, &d)
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per pass-through Decide, want 0", allocs)
	}
	if st := p.Stats(); st.Rules[0].Matched != 0 || st.Partitions[0].Dropped != 0 {
		t.Errorf("pass-through policy acted: %+v", st)
	}
}
