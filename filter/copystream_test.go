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
