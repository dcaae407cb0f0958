package filter

import (
	"testing"
	"time"
)

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
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			_ = p.Stats()
		}
	}()
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
	<-done
	if st := p.Stats(); !st.Partitions[0].Active || !portStats(st, "c").Down {
		t.Errorf("got %+v, want p active and c down (the last calls at 999ms)", st)
	}
}
