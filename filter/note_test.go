package filter

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// A drop's note shows a draw below p, even when the draw rounds to p at
// four digits: the draw is shown to 6 significant digits, cut rather than
// rounded, so the shown value is never above the draw.
func TestNoteDrawIsBelowP(t *testing.T) {
	// Find a seed whose first loss draw on a->b rounds up to four digits,
	// and make that rounded value p: the draw is then below p, and a note
	// rounding it to four digits would say draw=p.
	var seed uint64
	var u float64
	for seed = 0; ; seed++ {
		s1, s2 := streamSeed(seed, "a", "b", "r")
		u = rand.New(rand.NewPCG(s1, s2)).Float64()
		if r, _ := strconv.ParseFloat(strconv.FormatFloat(u, 'g', 4, 64), 64); r > u && u > 0.01 {
			break
		}
	}
	p := strconv.FormatFloat(u, 'g', 4, 64)
	pol := mustParse(t, "seed: "+strconv.FormatUint(seed, 10)+"\nrules:\n  - {name: r, match: {link: a->b}, loss: "+p+"}\n")
	d := decide(pol, 0, link("a", "b"), plain())
	if !d.Drop || len(d.Notes) != 1 {
		t.Fatalf("got %+v, want a drop with one note (draw %v < p %s)", d, u, p)
	}
	detail := d.Notes[0].DetailText()
	_, shown, ok := strings.Cut(detail, " draw=")
	if !ok {
		t.Fatalf("got note %q, want a draw", detail)
	}
	v, err := strconv.ParseFloat(shown, 64)
	pv, _ := strconv.ParseFloat(p, 64)
	switch {
	case err != nil:
		t.Errorf("got note %q: draw %q: %v", detail, shown, err)
	case !(v < pv):
		t.Errorf("got note %q, want the draw shown below p (the draw is %v)", detail, u)
	case v > u:
		t.Errorf("got note %q, want the draw shown no higher than the draw, %v", detail, u)
	case len(strings.TrimLeft(strings.TrimPrefix(shown, "0."), "0")) > 6:
		t.Errorf("got note %q, want the draw to 6 significant digits", detail)
	}
}

// An overflow's note says how long the frame would have waited and the
// most the queue holds, as time, so that the verdict can be checked from
// the note alone.
func TestRateOverflowNoteGivesTheWait(t *testing.T) {
	// 1250-byte frames at once into 10 Mbit/s (1ms each), burst 2500B,
	// queue 10000B (8ms): frame k waits (k-1)ms; frame 10 would wait 9ms.
	pol := mustParse(t, "rules:\n  - {name: r, rate: {rate: 10Mbit, burst: 2500B, queue: 10000B}}\n")
	f := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 1250-42))
	for k := range 11 {
		d := decide(pol, 0, link("a", "b"), f)
		if k < 10 {
			if d.Drop {
				t.Fatalf("frame %d dropped: %v", k, d.Notes)
			}
			continue
		}
		if !d.Drop || len(d.Notes) != 1 {
			t.Fatalf("frame %d: got %+v, want an overflow", k, d)
		}
		want := "overflow (rate=10Mbit wait=" + (9 * time.Millisecond).String() + " > queue " + (8 * time.Millisecond).String() + ")"
		if got := d.Notes[0].String(); got != "rule r: "+want {
			t.Errorf("got note %q, want %q", got, "rule r: "+want)
		}
	}
}

// TestRateOverflowNoteNamesTheCopy: when some of a frame's copies
// overflow, the frame's notes say which, in the order the copies reached
// the limiter (the frame itself first); a lone frame's note names none.
func TestRateOverflowNoteNamesTheCopy(t *testing.T) {
	pol := mustParse(t, "rules:\n  - {name: d, duplicate: {probability: 100%, copies: 2}}\n  - {name: r, rate: {rate: 10Mbit, burst: 1250B, queue: 1250B}}\n")
	f := udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 1250-42))
	d := decide(pol, 0, link("a", "b"), f)
	if len(d.Copies) != 2 {
		t.Fatalf("got %s, want two copies through", formatDecision(d))
	}
	want := "rule d: duplicate (p=1 draw=" // the draw varies with the stream
	if got := hub.FormatNotes(d.Notes); !strings.HasPrefix(got, want) ||
		!strings.HasSuffix(got, "; rule r: overflow (rate=10Mbit wait=2ms > queue 1ms copy 3 of 3)") {
		t.Errorf("got frame notes %q, want the duplicate's and an overflow naming copy 3 of 3", got)
	}
	pol = mustParse(t, "rules:\n  - {name: r, rate: {rate: 10Mbit, burst: 1250B, queue: 0B}}\n")
	decide(pol, 0, link("a", "b"), f)
	d = decide(pol, 0, link("a", "b"), f)
	if got, want := hub.FormatNotes(d.Notes), "rule r: overflow (rate=10Mbit wait=1ms > queue 0s)"; got != want {
		t.Errorf("got notes %q, want %q", got, want)
	}
}

// The notes of acting rules (drops with their draw, overflows with their
// wait) are values formatted only when read: deciding costs no allocation.
func TestDecideActingAllocs(t *testing.T) {
	p := mustParse(t, `seed: 1
rules:
  - {name: loss, match: {link: a->b}, loss: 30%}
  - {name: dup, match: {link: a->b}, duplicate: 30%}
  - {name: rot, match: {link: a->b}, corrupt: {probability: 30%, bits: 2}}
  - {name: thin, match: {link: a->b}, rate: {rate: 1Mbit, burst: 200B, queue: 300B}}
  - {name: wan, match: {link: a->b}, delay: 1ms±500us, reorder: {probability: 30%, gap: 2}}
`)
	f := plain()
	var d hub.Decision
	now := time.Duration(0)
	for range 100 { // first sight of the link, and the scratch space's growth
		now += 100 * time.Microsecond
		d.Reset()
		p.Decide(now, link("a", "b"), f, &d)
	}
	if allocs := decideAllocs(p, now, 100*time.Microsecond, f, &d); allocs != 0 {
		t.Errorf("got %v allocations per acting Decide, want 0", allocs)
	}
	st := p.Stats()
	for _, r := range st.Rules {
		if r.Dropped+r.Duplicated+r.Corrupted+r.Overflowed+r.Delayed == 0 {
			t.Errorf("rule %s did not act: %+v", r.Rule, r)
		}
	}
}

// TestRateQueueBoundExact: the wait is compared with the queue exactly,
// not both rounded up to whole ns. At 3Mbit a byte takes 2666.67ns, so a
// 1-byte queue holds 2666.67ns: a wait of 2667ns overflows it, one of
// exactly 2666.67ns does not (both are noted rounded up, as 2.667µs).
func TestRateQueueBoundExact(t *testing.T) {
	const src = "rules:\n  - {name: r, rate: {rate: 3Mbit, burst: 64B, queue: 1B}}\n"
	for _, tc := range []struct {
		name string
		size int           // the second frame's; the first, of 64B, empties the bucket
		at   time.Duration // when it comes: its wait is its cost less at
		want string
	}{
		{"1ns-over", 60, 157333, "rule r: overflow (rate=3Mbit wait=2.667µs > queue 2.666µs)"},
		{"exactly-the-queue", 61, 160000, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := mustParse(t, src)
			if d := decide(pol, 0, link("a", "b"), udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, 64-42))); d.Drop || len(d.Notes) != 0 {
				t.Fatalf("got first frame %s, want it through at once", formatDecision(d))
			}
			d := decide(pol, tc.at, link("a", "b"), udpFrame(macA, macB, ipA, ipB, 1, 2, make([]byte, tc.size-42)))
			if tc.want != "" {
				if got := hub.FormatNotes(d.Notes); !d.Drop || got != tc.want {
					t.Errorf("got %s, notes %q; want a drop noted %q", formatDecision(d), got, tc.want)
				}
				return
			}
			if d.Drop || len(d.Copies) != 1 || d.Copies[0].Delay != 2667 {
				t.Errorf("got %s, want the frame queued for 2667ns", formatDecision(d))
			}
		})
	}
}
