package replay

import (
	"fmt"
	"slices"
	"sort"
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

// runPolicyOf reads a header. A policy-since that does not parse, or is
// negative (no set-policy comes before the run starts), is taken
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

// MaxRunPolicies bounds the policies a replay tells apart in its inputs'
// headers. A run records one per set-policy; a capture (or a crafted
// stream) that records more has the rest read as the last one taken, and
// a warning says so.
const MaxRunPolicies = 1 << 14

// timeline is the run's policies, as the headers read so far record them,
// by the time each took over. Headers come in the order of the inputs and
// their sections, which is the run's order but for inputs given out of
// order: each is found in a map and placed by a binary search, so a
// stream of many sections reads in n log n.
type timeline struct {
	ps    []runPolicy        // in the order read
	order []int32            // ps's indices by the time each took over
	have  map[policyKey]bool // the policies in ps
	over  int                // policies past MaxRunPolicies, not kept
}

// policyKey tells a header's policy apart from another's: the rotated
// parts of one file and the sections of one stream repeat it.
type policyKey struct {
	changed bool
	since   time.Duration
	hash    string
}

// add takes a header's policy, unless the timeline has it. It returns
// whether it was new (and kept).
func (t *timeline) add(h capHeader) bool {
	rp := runPolicyOf(h)
	k := policyKey{rp.changed, rp.since, rp.hash}
	if t.have[k] {
		return false
	}
	if len(t.ps) >= MaxRunPolicies {
		t.over++
		return false
	}
	if t.have == nil {
		t.have = map[policyKey]bool{}
	}
	t.have[k] = true
	// The run's first policy first, then set-policies by time; equal
	// ones in the order read.
	i := sort.Search(len(t.order), func(i int) bool { return later(t.ps[t.order[i]], rp) })
	t.ps = append(t.ps, rp)
	t.order = slices.Insert(t.order, i, int32(len(t.ps)-1))
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
	i := sort.Search(len(t.order), func(i int) bool {
		rp := t.ps[t.order[i]]
		return rp.changed && rp.since > d
	})
	if i == 0 {
		return runPolicy{}, false
	}
	return t.ps[t.order[i-1]], true
}

// firstChange returns the earliest set-policy the timeline knows, if the run's
// first policy is unknown (the inputs start at a set-policy's file).
func (t *timeline) firstChange() (runPolicy, bool) {
	if len(t.order) == 0 || !t.ps[t.order[0]].changed {
		return runPolicy{}, false
	}
	return t.ps[t.order[0]], true
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
