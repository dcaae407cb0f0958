package replay

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"l2hub/capture"
)

// Set-policies made again. A live run's ctl set-policy swaps the core's
// policy for a freshly compiled one at run time policy-since, which the
// header of the file (or section) it started records with the new
// policy's hash; the core keeps its learned MACs, the copies waiting in
// its timers and its ports' VMs. A replay given that policy
// (RunConfig.Policies) makes the same swap at the same point: after every
// timer due by then, before every record the new file holds, so that
// every decision after it is the run's, flooding included.

// switchKey identifies a set-policy: the rotated parts of one file, the
// files of a per-port capture and the sections of one stream repeat it.
type switchKey struct {
	since time.Duration
	hash  string
}

// pendingSwitch is a set-policy waiting for its time.
type pendingSwitch struct {
	at     time.Time // when the replay makes it
	key    switchKey
	path   string // the input whose header records it
	choice int    // in run.choices
}

// startsAtSetPolicy returns the set-policy whose file the inputs start
// at, when no input holds the run's start (no header but set-policies'),
// and the replay's first policy is that set-policy's (its hashes hold the
// header's): the replay starts with it in force, as the file did, rather
// than putting it in force again.
func startsAtSetPolicy(hs []capHeader, hashes []string) (runPolicy, bool) {
	if _, ok := runStart(hs); ok {
		return runPolicy{}, false
	}
	first, ok := earliestSetPolicy(hs)
	return first, ok && first.hash != "" && slices.Contains(hashes, first.hash)
}

// earliestSetPolicy returns the earliest set-policy the headers record.
func earliestSetPolicy(hs []capHeader) (runPolicy, bool) {
	var first runPolicy
	found := false
	for _, h := range hs {
		if rp := runPolicyOf(h); rp.changed && (!found || rp.since < first.since) {
			first, found = rp, true
		}
	}
	return first, found
}

// String describes sw as the replay summary lists it.
func (sw Switch) String() string {
	if sw.Err != "" {
		return fmt.Sprintf("at %s (%s): %s (hash %s): not made: %s", sw.Since, filepath.Base(sw.Input), sw.Policy, sw.Hash, sw.Err)
	}
	s := fmt.Sprintf("at %s (%s): %s (hash %s, seed %d)", sw.Since, filepath.Base(sw.Input), sw.Policy, sw.Hash, sw.Seed)
	if sw.OutputErr != "" {
		s += ": in force, but " + sw.OutputErr
	}
	return s
}

// matchChoice returns the index of the first choice whose hashes hold
// hash, or -1.
func matchChoice(cs []PolicyChoice, hash string) int {
	if hash == "" {
		return -1
	}
	return slices.IndexFunc(cs, func(c PolicyChoice) bool { return slices.Contains(c.Hashes, hash) })
}

// scheduleSwitch makes h's set-policy wait for its time, when h records
// one to a policy the replay has. first, when set, is the first record of
// the section h heads: a record stamped before the set-policy is a delayed
// frame's whose timer the live hub fired late, after the swap (an l2hub
// from before Hub.Do fired due timers first), and moves the swap to just
// before it, as edits are (makeEdit). One stamped at the set-policy's very
// instant does not: it may as well be a frame injected right after the
// swap, which the capture cannot tell apart, and a current hub fires what
// is due first. A set-policy the
// run made before it moves with it: that hub never made two swaps out of
// order (Core.SetPolicy kept its switches in time order).
func (x *run) scheduleSwitch(h capHeader, first *capture.Packet) {
	rp := runPolicyOf(h)
	if !rp.changed || len(x.choices) == 0 {
		return
	}
	key := switchKey{rp.since, rp.hash}
	at := x.core.Start().Add(rp.since)
	if first != nil && first.Time.Before(at) {
		at = first.Time.Add(-time.Nanosecond)
	}
	if i := slices.IndexFunc(x.switches, func(p pendingSwitch) bool { return p.key == key }); i >= 0 {
		if at.Before(x.switches[i].at) {
			x.switches[i].at = at
			x.orderSwitches()
		}
		return
	}
	if x.scheduled[key] {
		return // made already
	}
	c := matchChoice(x.choices, rp.hash)
	if c < 0 {
		return // none of the replay's policies: the noter says it is a what-if
	}
	if x.scheduled == nil {
		x.scheduled = map[switchKey]bool{}
	}
	x.scheduled[key] = true
	x.switches = append(x.switches, pendingSwitch{at: at, key: key, path: h.path, choice: c})
	x.orderSwitches()
}

// orderSwitches keeps the pending switches in the run's order (by
// policy-since), each made no later than any after it: one moved earlier
// takes those the run made before it along. Equal times keep the run's
// order.
func (x *run) orderSwitches() {
	slices.SortStableFunc(x.switches, func(a, b pendingSwitch) int { return cmp.Compare(a.key.since, b.key.since) })
	for i := len(x.switches) - 2; i >= 0; i-- {
		if next := x.switches[i+1].at; next.Before(x.switches[i].at) {
			x.switches[i].at = next
		}
	}
}

// advanceTo moves virtual time to t, timers firing at their own times,
// and makes each set-policy due by t at its time: the timers due by then
// fire under the policy it replaces, those after under the new one.
//
// After a switch that failed (x.stop), time stays at it.
func (x *run) advanceTo(t time.Time) {
	for !x.holdSwitches && len(x.switches) > 0 && !x.switches[0].at.After(t) && x.stop == nil {
		p := x.switches[0]
		x.switches = x.switches[1:]
		x.drv.AdvanceTo(p.at, nil)
		x.trailersBefore(p.key.since)
		if x.stop == nil {
			x.switchPolicy(p)
		}
	}
	if x.stop == nil {
		x.drv.AdvanceTo(t, nil)
	}
}

// trailersBefore makes, at the time it is, the waiting trailer lines of
// the run's sections before its set-policy at since, however late that
// set-policy was moved (scheduleSwitch): the run made them on the policy
// it replaced. Made switches wait meanwhile: they come after.
func (x *run) trailersBefore(since time.Duration) {
	x.holdSwitches = true
	defer func() { x.holdSwitches = false }()
	now := x.core.Start().Add(x.core.Elapsed()).Add(time.Nanosecond) // makeEdit: at the latest now
	for len(x.trailers) > 0 && x.stop == nil && x.trailers[0].at < since {
		tl := x.trailers[0]
		x.trailers = x.trailers[1:]
		x.makeEdits(tl.s, tl.line, tl.afterFrame, now, true)
	}
}

// flushSwitches makes the set-policies that come after the last record,
// each at its time.
func (x *run) flushSwitches() {
	if n := len(x.switches); n > 0 {
		x.advanceTo(x.switches[n-1].at)
	}
}

// switchPolicy puts p's policy in force, compiled afresh, and starts the
// replay's capture a new file (or section) whose header says so, as the
// live hub's capture did. A policy that does not compile, or compiles to
// a text the header does not record, stops the replay there (x.stop):
// going on under the policy in force would present its decisions as the
// run's.
func (x *run) switchPolicy(p pendingSwitch) {
	c := x.choices[p.choice]
	sw := Switch{Input: p.path, Since: p.key.since, Policy: c.Name, Hash: p.key.hash}
	pol, err := c.New()
	if err == nil && !slices.Contains(c.Hashes, pol.Hash()) {
		err = fmt.Errorf("it compiled to a policy of hash %s, not the one the header records (%s): was the file changed?", pol.Hash(), p.key.hash)
	}
	if err != nil {
		sw.Err = err.Error()
		x.res.Switches = append(x.res.Switches, sw)
		x.stop = fmt.Errorf("the run's set-policy at %s (%s, %s) could not be made again: %w; the replay stopped there", p.key.since, filepath.Base(p.path), c.Name, err)
		return
	}
	sw.Seed = pol.Seed()
	x.policy, x.byteRules = pol, readsBytes(pol)
	x.core.SetPolicy(pol)
	x.res.Switches = append(x.res.Switches, sw)
	if x.sink == nil {
		return
	}
	m := x.outMeta
	m.Extra = maps.Clone(m.Extra)
	if m.Extra == nil {
		m.Extra = map[string]string{}
	}
	m.Seed, m.PolicyHash = pol.Seed(), p.key.hash
	m.SetPolicyChange(c.Name, p.key.since)
	if _, err := x.sink.SetMeta(m); err != nil {
		x.res.Switches[len(x.res.Switches)-1].OutputErr = "the output could not start a file for it: " + err.Error()
	}
}
