package filter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

// yDecisions runs n frames a->b through the policy and returns, for each,
// what rule y did to the original copy: its notes from y and its bytes.
func yDecisions(t *testing.T, src string, n int) []string {
	t.Helper()
	p := mustParse(t, src)
	out := make([]string, n)
	var d hub.Decision
	for i := range n {
		d.Reset()
		f := udpFrame(macA, macB, ipA, ipB, 1000, 2000, []byte(fmt.Sprintf("frame-%03d-payload", i)))
		p.Decide(time.Duration(i)*time.Millisecond, link("a", "b"), f, &d)
		if d.Drop {
			out[i] = "drop"
			continue
		}
		var c hub.Copy // no copies: one plain copy
		if len(d.Copies) > 0 {
			c = d.Copies[0]
		}
		var notes []string
		for _, nt := range c.Notes {
			if nt.Rule == "y" {
				notes = append(notes, nt.String())
			}
		}
		out[i] = fmt.Sprintf("delay=%v frame=%x %s", c.Delay, c.Frame, strings.Join(notes, "; "))
	}
	return out
}

// TestRuleDrawsIgnoreOtherRulesCopies: a rule's draws on a frame's
// original copy do not depend on how many copies another rule made of it
// (the audit's repro: z duplicating before y shifted y's corrupt draws).
func TestRuleDrawsIgnoreOtherRulesCopies(t *testing.T) {
	for _, y := range []string{
		"{name: y, match: {link: a->b}, corrupt: 50%}",
		"{name: y, match: {link: a->b}, corrupt: {probability: 50%, bits: 3}}",
		"{name: y, match: {link: a->b}, delay: {fixed: 10ms, jitter: 5ms, order: reorder}}",
		"{name: y, match: {link: a->b}, corrupt: 30%, delay: {fixed: 10ms, jitter: 5ms, distribution: normal, order: reorder}}",
	} {
		alone := yDecisions(t, "seed: 1\nrules:\n  - "+y+"\n", 200)
		for _, zp := range []string{"0%", "50%", "100%"} {
			z := "{name: z, match: {link: a->b}, duplicate: {probability: " + zp + ", copies: 2}}"
			for _, order := range []string{"before", "after"} {
				rules := "  - " + z + "\n  - " + y + "\n"
				if order == "after" {
					rules = "  - " + y + "\n  - " + z + "\n"
				}
				with := yDecisions(t, "seed: 1\nrules:\n"+rules, 200)
				for i := range alone {
					if alone[i] != with[i] {
						t.Errorf("%s with z (duplicate %s) %s it: frame %d:\nalone  %s\nwith z %s", y, zp, order, i, alone[i], with[i])
						break
					}
				}
			}
		}
	}
}

// ownCopyNotes returns, for one frame a->b, the notes rule y left on its
// own duplicate of the frame (the copy y's "duplicate (copy 1)" note marks
// and no other rule's duplicate note does), or "" when y made none.
func ownCopyNotes(p *Policy, at time.Duration, f []byte) string {
	var d hub.Decision
	p.Decide(at, link("a", "b"), f, &d)
	for _, c := range d.Copies {
		mine, others := false, false
		var notes []string
		for _, n := range c.Notes {
			switch {
			case n.Action == "duplicate":
				mine, others = mine || n.Rule == "y", others || n.Rule != "y"
			case n.Rule == "y":
				notes = append(notes, n.String())
			}
		}
		if mine && !others {
			return fmt.Sprintf("frame=%x %s", c.Frame, strings.Join(notes, "; "))
		}
	}
	return ""
}

// TestRuleDrawsOnItsOwnCopiesIgnoreOtherRulesCopies: the draws rule y
// makes on the duplicate it makes of a frame do not depend on how many
// copies a rule before it made (the audit's repro: x duplicating before y
// changed y's corrupt and jitter draws on y's own copy on every frame),
// whether x is there from the start or added and removed as the hub runs.
func TestRuleDrawsOnItsOwnCopiesIgnoreOtherRulesCopies(t *testing.T) {
	const y = "{name: y, match: {link: a->b}, duplicate: 100%, corrupt: 50%, delay: {fixed: 10ms, jitter: 5ms, order: reorder}}"
	const x = "{match: {link: a->b}, duplicate: {probability: 100%, copies: 2}}"
	const n = 40
	frame := func(i int) []byte {
		return udpFrame(macA, macB, ipA, ipB, 1000, 2000, []byte(fmt.Sprintf("frame-%03d-payload", i)))
	}
	alone := mustParse(t, "seed: 7\nrules:\n  - "+y+"\n")
	var want []string
	for i := range n {
		want = append(want, ownCopyNotes(alone, time.Duration(i)*time.Millisecond, frame(i)))
		if want[i] == "" || !strings.Contains(want[i], "delay") {
			t.Fatalf("frame %d: y alone made no delayed copy of its own: %q", i, want[i])
		}
	}
	withX := mustParse(t, "seed: 7\nrules:\n  - {name: x, "+x[1:]+"\n  - "+y+"\n")
	edited := mustParse(t, "seed: 7\nrules:\n  - "+y+"\n")
	for i := range n {
		at := time.Duration(i) * time.Millisecond
		switch i {
		case 10: // ctl rule add x --before y
			if _, err := edited.AddRule(mustRule(t, edited, x, "x"), "y"); err != nil {
				t.Fatal(err)
			}
		case 30: // ctl rule remove x
			if _, err := edited.RemoveRule("x"); err != nil {
				t.Fatal(err)
			}
		}
		if got := ownCopyNotes(withX, at, frame(i)); got != want[i] {
			t.Errorf("frame %d: y on its own copy with x before it:\ngot  %s\nwant %s (y alone)", i, got, want[i])
		}
		if got := ownCopyNotes(edited, at, frame(i)); got != want[i] {
			t.Errorf("frame %d: y on its own copy with x added at 10, removed at 30:\ngot  %s\nwant %s (y alone)", i, got, want[i])
		}
	}
}

// TestCopiesNeverShareAStream: however many copies rules make of a frame,
// and however many of them a policer drops, no two copies get the same
// per-copy draws. (The audit's repro: with copies numbered in a byte and
// the number ORed into the stream's key, the 64th copy made of a frame got
// the draws of the frame itself.)
func TestCopiesNeverShareAStream(t *testing.T) {
	var b strings.Builder
	b.WriteString("seed: 3\nrules:\n")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "  - {name: d%d, duplicate: {probability: 100%%, copies: 15}}\n", i)
		if i < 5 {
			fmt.Fprintf(&b, "  - {name: p%d, rate: {rate: 1Gbit, burst: 200B, queue: 0}}\n", i)
		}
	}
	b.WriteString("  - {name: c, corrupt: {probability: 100%, bits: 4}}\n")
	p := mustParse(t, b.String())
	for n := range 3 {
		var d hub.Decision
		p.Decide(time.Duration(n)*time.Second, link("a", "b"), plain(), &d)
		if len(d.Copies) < 2 {
			t.Fatalf("frame %d: %d copies, want several", n, len(d.Copies))
		}
		seen := map[string]int{}
		for i, c := range d.Copies {
			k := fmt.Sprintf("%x", c.Frame)
			if j, twice := seen[k]; twice {
				t.Errorf("frame %d: copies %d and %d were corrupted alike (%s, %s)", n, j, i, hub.FormatNotes(d.Copies[j].Notes), hub.FormatNotes(c.Notes))
			}
			seen[k] = i
		}
	}
}

// TestRateOverflowKeepsCopyIdentity: when a policer drops a copy that is
// not the last and keeps a later one, the kept copies keep their own
// identities, so a later rule's per-copy draws (here corrupt's bits) on
// them are the ones they get when no copy is dropped: a what-if that only
// tightens a rate changes which copies arrive, not how the others are
// corrupted. Jitter before the rate spreads the copies in time, so that a
// policer drops some and keeps one after them, not only a tail.
// (TestCopiesNeverShareAStream drops only tails, where compaction is moot.)
func TestRateOverflowKeepsCopyIdentity(t *testing.T) {
	policy := func(rate string) *Policy {
		return mustParse(t, "seed: 5\nrules:\n"+
			"  - {name: d, duplicate: {probability: 100%, copies: 3}}\n"+
			"  - {name: j, delay: {fixed: 2ms, jitter: 1ms, order: reorder}}\n"+
			"  - {name: r, rate: "+rate+"}\n"+
			"  - {name: c, corrupt: {probability: 100%, bits: 4}}\n")
	}
	// 100-byte frames: 200µs each at 4Mbit, a 2ms spread of jitter; at
	// 1Gbit the queue holds every copy (a copy that comes before one
	// already through waits for it).
	tight, loose := policy("{rate: 4Mbit, burst: 100B, queue: 0}"), policy("{rate: 1Gbit, queue: 64MiB}")
	// copies maps each copy of a decision, by d's note on it ("" for the
	// frame itself), to its bytes and the notes j and c left on it (r's
	// queue note differs with the rate).
	copies := func(d *hub.Decision) (keys []string, got map[string]string) {
		got = map[string]string{}
		for _, c := range d.Copies {
			key, notes := "", ""
			for _, n := range c.Notes {
				switch n.Rule {
				case "d":
					key = n.String()
				case "j", "c":
					notes += "; " + n.String()
				}
			}
			keys = append(keys, key)
			got[key] = fmt.Sprintf("frame=%x%s", c.Frame, notes)
		}
		return keys, got
	}
	skipped := 0 // frames where a copy was kept after one was dropped
	for n := range 40 {
		at := time.Duration(n) * time.Second // the bucket is full again
		var dt, dl hub.Decision
		tight.Decide(at, link("a", "b"), plain(), &dt)
		loose.Decide(at, link("a", "b"), plain(), &dl)
		keysT, gotT := copies(&dt)
		keysL, gotL := copies(&dl)
		if len(keysL) != 4 {
			t.Fatalf("frame %d: %d copies at 1Gbit, want all 4 (%s)", n, len(keysL), hub.FormatNotes(dl.Notes))
		}
		for i, k := range keysT {
			if k != keysL[i] {
				skipped++
				break
			}
		}
		for _, k := range keysT {
			if gotT[k] != gotL[k] {
				t.Errorf("frame %d: copy %q at 4Mbit, with %d of 4 kept:\ngot  %s\nwant %s (as at 1Gbit)", n, k, len(keysT), gotT[k], gotL[k])
			}
		}
	}
	if skipped == 0 {
		t.Fatal("no frame had a copy kept after a dropped one: the test does not test what it means to")
	}
}
