package replay

import (
	"fmt"
	"slices"
	"time"

	"l2hub/capture"
)

// The run's policies over time. A live run's capture header records the
// policy it had (its hash and seed); a `ctl set-policy` starts a new file
// (or, in a stream, section) whose header records the new policy, its name
// and the run time it took over at (policy-since). A replay runs one
// policy throughout, so the headers say which of its decisions and edits
// are the run's and which a what-if.

// runPolicy is a policy the live run had, as a capture header records it.
type runPolicy struct {
	path    string        // the input whose header records it
	since   time.Duration // when a set-policy put it in force
	changed bool          // a set-policy put it in force (else: the run's first)
	name    string        // the set-policy's name for it
	hash    string        // "" for none
	seed    uint64
}

// runPolicyOf reads a header. A policy-since that does not parse is taken
// as none: the header is then read as the run's first policy.
func runPolicyOf(h capHeader) runPolicy {
	rp := runPolicy{path: h.path, hash: h.meta.PolicyHash, seed: h.meta.Seed, name: h.meta.Extra[capture.PolicyNameKey]}
	if v := h.meta.Extra[capture.PolicySinceKey]; v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			rp.since, rp.changed = d, true
		}
	}
	return rp
}

// String describes rp for a note: "p2.yaml, hash 6479718ffa61c79c".
func (rp runPolicy) String() string {
	what := "hash " + rp.hash
	if rp.hash == "" {
		what = "no policy"
	}
	if rp.name != "" {
		return rp.name + ", " + what
	}
	return what
}

// timeline is the run's policies, as the headers read so far record them,
// by the time each took over.
type timeline struct {
	ps []runPolicy
}

// add takes a header's policy, unless the timeline has it (the rotated
// parts of one file, the sections of one stream, repeat it). It returns
// whether it was new.
func (t *timeline) add(h capHeader) bool {
	rp := runPolicyOf(h)
	for _, o := range t.ps {
		if o.changed == rp.changed && o.since == rp.since && o.hash == rp.hash {
			return false
		}
	}
	// The run's first policy first, then set-policies by time; equal
	// ones in the order read.
	i := len(t.ps)
	for i > 0 && later(t.ps[i-1], rp) {
		i--
	}
	t.ps = slices.Insert(t.ps, i, rp)
	return true
}

// later reports whether a took over after b.
func later(a, b runPolicy) bool {
	if a.changed != b.changed {
		return a.changed
	}
	return a.since > b.since
}

// at returns the policy the run had at run time d: the last one that took
// over by then. ok is false when the headers know of none by then: d is
// before the first set-policy they record, and no header records the
// policy the run had before it.
func (t *timeline) at(d time.Duration) (runPolicy, bool) {
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

// firstChange returns the earliest set-policy the timeline knows, if the run's
// first policy is unknown (the inputs start at a set-policy's file).
func (t *timeline) firstChange() (runPolicy, bool) {
	if len(t.ps) == 0 || !t.ps[0].changed {
		return runPolicy{}, false
	}
	return t.ps[0], true
}

// madeUnder describes the policy the run had when it made an edit at d,
// or "" when it is one the replay runs (hashes).
func (t *timeline) madeUnder(d time.Duration, hashes []string) string {
	rp, ok := t.at(d)
	switch {
	case !ok:
		first, _ := t.firstChange()
		return fmt.Sprintf("the policy the run had before its set-policy at %s, which no input's header records", first.since)
	case slices.Contains(hashes, rp.hash), rp.hash == "" && !rp.changed:
		return "" // the replay's policy, or a run without one (as policyNoter)
	case rp.changed:
		return fmt.Sprintf("%s, from the run's set-policy at %s", rp, rp.since)
	}
	return fmt.Sprintf("the run's first policy, %s", rp)
}
