package replay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/hub"
)

// policyHeader is a header recording a policy: the run's first (since
// < 0) or a set-policy's at since.
func policyHeader(hash string, since time.Duration) capHeader {
	m := capture.Meta{PolicyHash: hash, Extra: map[string]string{}}
	if since >= 0 {
		m.SetPolicyChange("p-"+hash, since)
	}
	return capHeader{"run.pcapng", capture.FileMeta{Meta: m}}
}

// linearTimeline is the timeline as it was written first: a scan of every
// policy for each question, the reference the indexed one must agree with.
type linearTimeline struct{ ps []runPolicy }

func (t *linearTimeline) add(h capHeader) bool {
	rp := runPolicyOf(h)
	for _, o := range t.ps {
		if o.changed == rp.changed && o.since == rp.since && o.hash == rp.hash {
			return false
		}
	}
	i := len(t.ps)
	for i > 0 && later(t.ps[i-1], rp) {
		i--
	}
	t.ps = append(t.ps[:i], append([]runPolicy{rp}, t.ps[i:]...)...)
	return true
}

func (t *linearTimeline) at(d time.Duration) (runPolicy, bool) {
	var cur runPolicy
	ok := false
	for _, rp := range t.ps {
		if rp.changed && rp.since > d {
			break
		}
		cur, ok = rp, true
	}
	return cur, ok
}

// Headers in any order, repeated, with equal times and a first policy or
// not: the timeline answers as a scan of every policy does.
func TestTimelineAgreesWithAScan(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var got timeline
		var want linearTimeline
		for i := range 60 {
			since := time.Duration(rng.IntN(20)) * time.Millisecond
			if rng.IntN(8) == 0 {
				since = -1 // the run's first policy
			}
			h := policyHeader(fmt.Sprint(rng.IntN(6)), since)
			if g, w := got.add(h), want.add(h); g != w {
				t.Fatalf("seed %d, header %d: add = %v, want %v", seed, i, g, w)
			}
			for d := -time.Millisecond; d <= 21*time.Millisecond; d += time.Millisecond / 2 {
				g, gok := got.at(d)
				w, wok := want.at(d)
				if g != w || gok != wok {
					t.Fatalf("seed %d, after header %d: at(%s) = %v %v, want %v %v", seed, i, d, g, gok, w, wok)
				}
			}
			wantFirst := len(want.ps) > 0 && want.ps[0].changed
			if g, ok := got.firstChange(); ok != wantFirst || ok && g != want.ps[0] {
				t.Fatalf("seed %d, after header %d: firstChange = %v %v, want %v", seed, i, g, ok, want.ps[0])
			}
		}
	}
}

// A capture can record more policies than any run makes: past
// MaxRunPolicies the timeline keeps none and counts them.
func TestTimelineBoundsThePoliciesItKeeps(t *testing.T) {
	var tl timeline
	for i := range MaxRunPolicies + 3 {
		// Latest first: each goes to the front, the costliest order.
		tl.add(policyHeader("h", time.Duration(MaxRunPolicies+3-i)*time.Millisecond))
	}
	if len(tl.ps) != MaxRunPolicies || tl.over != 3 {
		t.Fatalf("kept %d policies and counted %d over, want %d and 3", len(tl.ps), tl.over, MaxRunPolicies)
	}
	if tl.add(policyHeader("h", 10*time.Millisecond)) {
		t.Error("a policy the timeline has counts as new")
	}
	if tl.over != 3 {
		t.Errorf("a policy the timeline has counted over: %d", tl.over)
	}
	first, ok := tl.firstChange()
	if !ok || first.since != 4*time.Millisecond {
		t.Errorf("firstChange = %v %v, want the set-policy at 4ms", first, ok)
	}
}

// A run with many set-policies, replayed with none of its policies, gets
// the first maxPolicyNotes what-if notes and one that counts the rest.
func TestReplayBoundsPolicyNotes(t *testing.T) {
	dir := t.TempDir()
	meta := capture.Meta{Version: "test", Start: hub.DefaultEpoch, PolicyHash: "first", Extra: map[string]string{"mode": "hub"}}
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock, Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	const changes = maxPolicyNotes + 9
	for i := range changes {
		m := meta
		m.Extra = map[string]string{"mode": "hub"}
		m.PolicyHash = fmt.Sprintf("h%d", i)
		m.SetPolicyChange(fmt.Sprintf("p%d.yaml", i), time.Duration(i+1)*time.Millisecond)
		if _, err := sink.SetMeta(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := (&Job{Files: sink.Files()}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var whatIfs []string
	for _, n := range res.Notes {
		if n.Kind == NoteWhatIf {
			whatIfs = append(whatIfs, n.Text)
		}
	}
	// One per policy (the first and the set-policies) up to the bound,
	// then one for the rest.
	if len(whatIfs) != maxPolicyNotes+1 {
		t.Fatalf("got %d what-if notes, want %d:\n%s", len(whatIfs), maxPolicyNotes+1, strings.Join(whatIfs, "\n"))
	}
	if last, want := whatIfs[maxPolicyNotes], fmt.Sprintf("and %d more policies", changes+1-maxPolicyNotes); !strings.HasPrefix(last, want) {
		t.Errorf("last what-if note %q, want it to start %q", last, want)
	}
}

// TestNegativePolicySinceIsNoSetPolicy: a header whose policy-since is
// negative (crafted, or garbled) records no set-policy: it is read as the
// run's first policy, as one that does not parse is, not as a switch
// before the run's start.
func TestNegativePolicySinceIsNoSetPolicy(t *testing.T) {
	for _, since := range []string{"-1s", "bogus"} {
		h := capHeader{"run.pcapng", capture.FileMeta{Meta: capture.Meta{PolicyHash: "1111", Extra: map[string]string{capture.PolicySinceKey: since}}}}
		if rp := runPolicyOf(h); rp.changed || rp.since != 0 {
			t.Errorf("policy-since %q: got a set-policy at %v (changed %v), want none", since, rp.since, rp.changed)
		}
	}
}
