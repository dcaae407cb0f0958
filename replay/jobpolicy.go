package replay

import (
	"fmt"
	"slices"
	"strings"

	"l2hub/filter"
)

// A job's policies: each policy file read once and compiled with the
// job's fault flags, the seed a capture lends it, and the hashes a capture
// header records for a policy that decides as it does (policyHashes);
// which of them the replay starts with (startPolicy); and the what-if
// notes for the policies a run had that the job does not (policyNoter).

// policyText is a policy file as the job read it, once: a file that
// cannot be read twice (a pipe, <(…), /dev/stdin) compiles from its text
// at each set-policy as at the start. path is "" for none (fault flags
// alone).
type policyText struct {
	path string
	data []byte
}

// readPolicy reads the policy file at path ("" for none).
func readPolicy(path string) (policyText, error) {
	if path == "" {
		return policyText{}, nil
	}
	data, err := filter.ReadPolicy(path)
	return policyText{path, data}, err
}

// compile compiles the text with flags, as flags.Load compiles the file.
func (t policyText) compile(flags filter.Flags, ports []string) (*filter.Policy, error) {
	if t.path == "" {
		return flags.Policy(ports)
	}
	return flags.Parse(t.data, t.path, ports)
}

// loadPolicy compiles the job's policy (text) for ports: its file and
// flags, and the seed the capture lends it (lend, without --seed), unless
// a header (hs) records it as given: replaying a set-policy run's files
// with its second policy takes that policy's seed. A seed equal to the
// policy's own is not lent either: as a flag it would change the
// policy's text, and so its hash, and not its decisions. hashes are
// those a capture header records for a policy equal to it
// (policyHashes).
//
// It returns the flags it compiled the policy with (the lent seed set),
// so that the policy can be compiled afresh.
func (j *Job) loadPolicy(text policyText, ports []string, lend *uint64, hs []capHeader) (pol *filter.Policy, hashes []string, used filter.Flags, err error) {
	var faults filter.Flags
	if j.Faults != nil {
		faults = *j.Faults
	}
	if pol, err = text.compile(faults, ports); err != nil {
		return nil, nil, faults, err
	}
	hashes = policyHashes(pol, text, faults, ports)
	recorded := slices.ContainsFunc(hs, func(h capHeader) bool { return slices.Contains(hashes, h.meta.PolicyHash) })
	if lend == nil || faults.SeedGiven() || recorded || pol.Seed() == *lend {
		return pol, hashes, faults, nil
	}
	lent := faults
	lent.SetSeed(*lend)
	if pol, err = text.compile(lent, ports); err != nil {
		return nil, nil, faults, err
	}
	return pol, policyHashes(pol, text, faults, ports), lent, nil
}

// policyHashes returns the hashes a capture header records for a policy
// that decides as pol does, pol being the policy text (none for flags
// alone) with flags: pol's own and, when pol's seed is the file's, those
// of the same flags with --seed of that seed and without --seed. Serve
// hashes the policy's text as given, and --seed equal to the file's seed
// changes the text (a "# flags: --seed N" line), not the decisions.
func policyHashes(pol *filter.Policy, text policyText, flags filter.Flags, ports []string) []string {
	hashes := []string{pol.Hash()}
	bare := flags
	bare.ClearSeed()
	own, err := text.compile(bare, ports)
	if err != nil || own.Seed() != pol.Seed() {
		return hashes
	}
	seeded := bare
	seeded.SetSeed(own.Seed())
	alts := []*filter.Policy{own}
	if p, err := text.compile(seeded, ports); err == nil {
		alts = append(alts, p)
	}
	for _, p := range alts {
		if !slices.Contains(hashes, p.Hash()) {
			hashes = append(hashes, p.Hash())
		}
	}
	return hashes
}

// startPolicy sets out's Policy to the one of the job's policies
// (choices, compiled as loaded) the replay starts with, and returns its
// hashes: the one the run started with, by the header of its start (or,
// when the inputs start at a set-policy's file, the one it put in force);
// none, when the run started without a policy and a later header records
// a set-policy to one of them; else the first (the job's Policy), a
// what-if by choice.
func startPolicy(out *JobResult, hs []capHeader, choices []PolicyChoice, loaded []*filter.Policy) []string {
	rp, ok := runStart(hs)
	if !ok {
		rp, ok = earliestSetPolicy(hs)
	}
	if !ok {
		return choices[0].Hashes
	}
	if i := matchChoice(choices, rp.hash); i >= 0 {
		if i > 0 {
			out.SeedFrom = "policy"
		}
		out.Policy, out.PolicyHash = loaded[i], rp.hash
		return choices[i].Hashes
	}
	later := slices.ContainsFunc(hs, func(h capHeader) bool {
		rp := runPolicyOf(h)
		return rp.changed && matchChoice(choices, rp.hash) >= 0
	})
	if !rp.changed && rp.hash == "" && later {
		out.Policy, out.PolicyHash = nil, ""
		return []string{""}
	}
	return choices[0].Hashes
}

// runStart returns the policy a header records the run started with (a
// header of no set-policy's file), if any does.
func runStart(hs []capHeader) (runPolicy, bool) {
	for _, h := range hs {
		if rp := runPolicyOf(h); !rp.changed {
			return rp, true
		}
	}
	return runPolicy{}, false
}

// policyNoter says, once per policy a capture header records, when it is
// not one the replay runs where the run had it (hashes, those of the
// policy it starts with, [""] for none; choices, those it puts in force
// at the run's set-policies): the replay's decisions are then, over the
// time the run had it, a what-if. With several inputs, each note names
// its file.
type policyNoter struct {
	job     *Job
	out     *JobResult
	hashes  []string
	choices []PolicyChoice
	several bool
	seen    timeline
	told    int // what-if notes made
	untold  int // what-if notes past maxPolicyNotes, left out
}

// maxPolicyNotes bounds the what-if notes policyNoter makes, one per
// policy: a run with hundreds of set-policies gets the first ones and a
// count of the rest.
const maxPolicyNotes = 16

func (pn *policyNoter) notes(hs []capHeader) {
	pol := pn.out.Policy
	for _, h := range hs {
		if !pn.seen.add(h) {
			continue
		}
		rp := runPolicyOf(h)
		where := ""
		if pn.several {
			where = h.path
		}
		var text string
		switch {
		case slices.Contains(pn.hashes, rp.hash), rp.hash == "" && !rp.changed:
			continue // the run's policy, or a run without one (a replay with a policy is a what-if by choice)
		case rp.changed && matchChoice(pn.choices, rp.hash) >= 0:
			continue // the replay puts it in force there too
		case len(pn.choices) > 1 && rp.changed:
			text = fmt.Sprintf("the run replaced its policy at %s (%s), which is none of this replay's policies (%s): the replay keeps the one in force then, and its decisions after %s are a what-if",
				rp.since, rp, pn.names(), rp.since)
		case len(pn.choices) > 1:
			text = fmt.Sprintf("the capture's run started with a policy (hash %s, seed %d) that is none of this replay's policies (%s): the replay starts with %s, and its decisions are a what-if until it puts in force one the run had",
				rp.hash, rp.seed, pn.names(), pol.Name())
		case rp.changed && pol == nil:
			text = fmt.Sprintf("the run replaced its policy at %s (%s, seed %d); this replay has no policy and forwards everything: decisions after %s are a what-if",
				rp.since, rp, rp.seed, rp.since)
		case rp.changed:
			text = fmt.Sprintf("the run replaced its policy at %s (%s); this replay runs %s (hash %s) throughout: decisions after %s are a what-if",
				rp.since, rp, pol.Name(), pn.out.PolicyHash, rp.since)
		case pol == nil:
			text = fmt.Sprintf("the capture's run had a policy (hash %s, seed %d); this replay has none and forwards everything: give it --policy to reproduce the run's decisions", rp.hash, rp.seed)
		default:
			text = fmt.Sprintf("the policy (%s, hash %s) is not the one the capture's run had (hash %s): its decisions are a what-if, not the run's", pol.Name(), pn.out.PolicyHash, rp.hash)
		}
		if pn.told == maxPolicyNotes {
			pn.untold++
			continue
		}
		pn.told++
		pn.job.note(pn.out, newNote(NoteWhatIf, where, text))
	}
}

// leftOut says what notes bounds left out: the what-if notes past
// maxPolicyNotes, and the policies past MaxRunPolicies.
func (pn *policyNoter) leftOut() {
	if pn.untold > 0 {
		pn.job.note(pn.out, newNote(NoteWhatIf, "", fmt.Sprintf("and %d more policies the run had that are none of this replay's where it had them (what-ifs as above; notes left out)", pn.untold)))
	}
	if pn.seen.over > 0 {
		pn.job.note(pn.out, warning(NoteHeader, "", fmt.Sprintf("the inputs' headers record more than %d policies of the run (%d more): the replay tells apart the first %d it read, and judges an edit made under one of the rest by those", MaxRunPolicies, pn.seen.over, MaxRunPolicies)))
	}
}

// names lists the replay's policies, for a note: the first with the
// flags given for it (--seed 9), which make it another policy than its
// file's.
func (pn *policyNoter) names() string {
	var ns []string
	for i, c := range pn.choices {
		if f := pn.job.Faults; i == 0 && f != nil && f.Given() {
			c.Name += " with " + f.String()
		}
		ns = append(ns, c.Name)
	}
	return strings.Join(ns, ", ")
}

// unused warns of each of the job's policies after the first that no
// header (of the timeline the notes read) records a set-policy to: it
// decided nothing.
func (pn *policyNoter) unused() {
	for _, c := range pn.choices[min(1, len(pn.choices)):] {
		used := slices.ContainsFunc(pn.seen.ps, func(rp runPolicy) bool { return slices.Contains(c.Hashes, rp.hash) })
		if !used {
			pn.job.note(pn.out, warning(NoteHeader, "", fmt.Sprintf("--policy %s (hash %s) is none of the policies the inputs' headers record the run had: it decided nothing", c.Name, c.Hashes[0])))
		}
	}
}
