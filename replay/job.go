package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/samefile"
)

// Job is one `l2hub replay` as its user asks for it: capture files and
// --port values, a policy (a file, fault flags or both), the forwarding
// mode, and the output. Run works out what the captures leave open: the
// seed, the mode and the aging time a live run's capture records.
type Job struct {
	Files []string // captures, as arguments
	// Ports are NAME=FILE (the file's port is NAME; the file is added if it
	// is not among Files) and NAME=MAC (frames from MAC enter port NAME).
	Ports  []string
	Policy string        // policy file (the run's own, the first of several); "" for none
	Faults *filter.Flags // quick-test fault flags, applied to Policy; nil for none
	// Policies are more policy files (a repeated --policy): those a run's
	// ctl set-policy put in force, each read as set-policy reads it (a
	// file alone). The replay puts each in force where the capture
	// headers record its set-policy, as Policy too: replaying a run's
	// files in order with every policy it had reproduces every decision
	// (RunConfig.Policies).
	Policies []string
	// Mode is the forwarding mode; "" takes the capture's, else switch.
	Mode string
	// Aging is the switch's aging time; nil or 0 takes the capture's, else
	// the default (as serve's 0 takes the default).
	Aging *time.Duration
	// Output, when set, is the file (pcapng, or pcap by its name) that gets
	// what each port received, with the points Points names (ingress,
	// egress or both).
	Output, Points string
	Version        string // recorded in the output's header
	// Notes receives what the replay noticed about its inputs (one line
	// each, such as ports made per source MAC); nil drops them.
	Notes    func(string)
	Progress func(Progress)
	// IgnoreEdits is RunConfig.IgnoreEdits.
	IgnoreEdits bool
	// Drain is RunConfig.Drain.
	Drain bool
	// SpoolMax bounds the temporary file an input that can be read only
	// once (a pipe) is kept in (Spool); 0 is DefaultSpoolMax.
	SpoolMax int64
}

// JobResult is what Job.Run did, for the summary.
type JobResult struct {
	*Result
	// Policy is the policy the replay starts with: nil without one (or
	// when the run started without one and a set-policy put one of the
	// job's in force).
	Policy *filter.Policy
	// PolicyHash is Policy's hash as a capture header records it: the one
	// of its equal texts (with or without the capture's seed as a flag)
	// that the first header records, if one does.
	PolicyHash string
	SeedFrom   string // where the seed came from: --seed, capture or policy
	Mode       hub.Mode
	// Notes are what Run noticed and told Job.Notes, in order; Report adds
	// the warnings the result gives (Warnings).
	Notes []Note
}

// Config turns the job's files and --port values into inputs and MAC
// mappings. Errors name --port.
func (j *Job) Config() (Config, error) {
	var cfg Config
	for _, a := range j.Files {
		cfg.Inputs = append(cfg.Inputs, Input{Path: a})
	}
	for _, p := range j.Ports {
		mp, isMAC, err := ParseMACPort(p)
		if err != nil {
			return cfg, fmt.Errorf("--port: %w", err)
		}
		if isMAC {
			cfg.MACs = append(cfg.MACs, mp)
			continue
		}
		name, file, _ := strings.Cut(p, "=")
		if looksLikeMAC(file) {
			if _, err := os.Stat(file); err != nil {
				return cfg, fmt.Errorf("--port %s: %q is not a MAC address (six bytes in hex, such as 52:54:00:12:34:0a), nor a file", p, file)
			}
		}
		found := false
		for i := range cfg.Inputs {
			if samefile.Same(cfg.Inputs[i].Path, file) {
				cfg.Inputs[i].Port, found = name, true
			}
		}
		if !found {
			cfg.Inputs = append(cfg.Inputs, Input{Path: file, Port: name})
		}
	}
	if len(cfg.Inputs) == 0 {
		return cfg, fmt.Errorf("no captures to replay: give files as arguments or with --port NAME=FILE")
	}
	return cfg, nil
}

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

// macLike matches what is meant as a MAC address: six (or eight) groups of
// one or two characters, separated by colons or dashes.
var macLike = regexp.MustCompile(`^[0-9A-Za-z]{1,2}([:-][0-9A-Za-z]{1,2}){5,7}$`)

// looksLikeMAC reports whether s is meant as a MAC address, parsed or not
// (52:54:00:12:34:0x, a typo).
func looksLikeMAC(s string) bool { return macLike.MatchString(s) }

// Check refuses, before anything is read or written, what the job's flags
// get wrong: --points, the --port values, and an output that is one of
// the files the job reads (a capture or the policy), which writing it
// would destroy before reading it.
func (j *Job) Check() error {
	if j.Aging != nil && *j.Aging < 0 {
		return errors.New("--aging: must not be negative") // as serve says it
	}
	if j.Points != "" {
		if _, err := capture.ParsePoints(j.Points); err != nil {
			return fmt.Errorf("--points: %w", err)
		}
	}
	if len(j.Policies) > 0 && j.Policy == "" {
		return errors.New("more policies than one need the first, the run's own (Job.Policy)")
	}
	cfg, err := j.Config()
	if err != nil {
		return err
	}
	if err := onceEach(cfg.Inputs); err != nil {
		return err
	}
	inputs := []samefile.Input{{Path: j.Policy, What: "policy"}}
	for _, p := range j.Policies {
		inputs = append(inputs, samefile.Input{Path: p, What: "policy"})
	}
	for _, in := range cfg.Inputs {
		inputs = append(inputs, samefile.Input{Path: in.Path, What: "capture"})
	}
	if err := samefile.Check("-o", j.Output, inputs...); err != nil {
		return err
	}
	// Replay's capture neither rotates by size nor splits per port, but
	// a set-policy made again, or a write that fails, goes on in the
	// sequence's next file (out-0001.pcapng).
	for _, in := range inputs[1+len(j.Policies):] {
		if n, ok := capture.RotatedPart(j.Output, in.Path); ok {
			if next := capture.RotatedPath(j.Output, n); samefile.Same(next, in.Path) {
				return fmt.Errorf("-o %s: after a set-policy or a failed write the output goes on in %s, the capture it reads (%s); write somewhere else", j.Output, next, in.Path)
			}
		}
	}
	return nil
}

// onceEach refuses a file given twice, under one name or two (a link):
// replayed twice, its frames and edits would all be made twice. Open
// refuses a copy (ErrSameCapture).
func onceEach(ins []Input) error {
	bySize := map[int64][]string{} // only files of one size can be one
	for _, in := range ins {
		fi, err := os.Stat(in.Path)
		if err != nil {
			continue // Open says why
		}
		for _, o := range bySize[fi.Size()] {
			switch {
			case o == in.Path:
				return fmt.Errorf("%w: %s is given twice; give each capture once", ErrSameCapture, in.Path)
			case samefile.Same(o, in.Path):
				return fmt.Errorf("%w: %s and %s are one file; give each capture once", ErrSameCapture, o, in.Path)
			}
		}
		bySize[fi.Size()] = append(bySize[fi.Size()], in.Path)
	}
	return nil
}

// Run opens the inputs and replays them. The seed is the flags' --seed if
// given, else the capture's when its run had a policy (its header then
// carries the policy's hash), else the policy file's. The result is
// returned with an error when the replay got somewhere before it failed.
func (j *Job) Run(ctx context.Context) (*JobResult, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	cfg, err := j.Config()
	if err != nil {
		return nil, err
	}
	// A replay reads its inputs twice (Open, Run): one that can be read
	// only once (a pipe, /dev/stdin, <(…), a named pipe) is read into a
	// temporary file first.
	for _, in := range cfg.Inputs {
		if err := CheckCapture(in.Path); err != nil {
			return nil, err
		}
	}
	for i, in := range cfg.Inputs {
		spooled, remove, err := Spool(ctx, in, j.SpoolMax)
		if err != nil {
			return nil, err
		}
		if remove != nil {
			defer remove()
		}
		cfg.Inputs[i] = spooled
	}
	r, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	out := &JobResult{SeedFrom: "policy", Mode: hub.ModeSwitch}
	for _, n := range r.Notes() {
		j.note(out, n)
	}
	meta, hasMeta := r.Meta()
	var faults filter.Flags
	if j.Faults != nil {
		faults = *j.Faults
	}
	withPolicy := j.Policy != "" || faults.Given()
	var lend *uint64
	switch {
	case faults.SeedGiven():
		out.SeedFrom = "--seed"
	case len(j.Policies) > 0 && withPolicy:
		// Several policies: the first is the run's first, which lends
		// its seed only from the header of the run's start.
		if rp, ok := runStart(r.headers); ok && rp.hash != "" {
			lend = &rp.seed
			out.SeedFrom = "capture"
		}
	case hasMeta && meta.PolicyHash != "" && withPolicy:
		lend = &meta.Seed
		out.SeedFrom = "capture"
	}
	// Each policy file is read once, here: a switch compiles its policy
	// afresh from the text kept.
	first, err := readPolicy(j.Policy)
	if err != nil {
		return nil, err
	}
	texts := make([]policyText, len(j.Policies))
	for i, path := range j.Policies {
		if texts[i], err = readPolicy(path); err != nil {
			return nil, err
		}
	}
	hashes := []string{""}
	var choices []PolicyChoice
	var loaded []*filter.Policy
	ports := r.Ports()
	if withPolicy {
		var used filter.Flags
		if out.Policy, hashes, used, err = j.loadPolicy(first, ports, lend, r.headers); err != nil {
			if r.PerMAC() {
				return nil, fmt.Errorf("%w\n(one capture without --port NAME=FILE or NAME=MAC: replay made a port per source MAC; name them with --port NAME=MAC)", err)
			}
			return nil, err
		}
		out.PolicyHash = hashes[0]
		if hasMeta && slices.Contains(hashes, meta.PolicyHash) {
			out.PolicyHash = meta.PolicyHash
		}
		choices = append(choices, PolicyChoice{Name: out.Policy.Name(), Hashes: hashes, New: func() (*filter.Policy, error) { return first.compile(used, ports) }})
		loaded = append(loaded, out.Policy)
	}
	for _, text := range texts {
		p, err := text.compile(filter.Flags{}, ports)
		if err != nil {
			return nil, err
		}
		choices = append(choices, PolicyChoice{Name: p.Name(), Hashes: policyHashes(p, text, filter.Flags{}, ports), New: func() (*filter.Policy, error) { return text.compile(filter.Flags{}, ports) }})
		loaded = append(loaded, p)
	}
	if len(choices) > 0 {
		hashes = startPolicy(out, r.headers, choices, loaded)
	}
	pn := policyNoter{job: j, out: out, hashes: hashes, choices: choices, several: len(cfg.Inputs) > 1}
	pn.notes(r.headers)
	if len(choices) > 0 {
		for _, n := range versionNotes(r.headers) {
			j.note(out, n)
		}
	}
	switch {
	case j.Mode != "":
		if out.Mode, err = hub.ParseMode(j.Mode); err != nil {
			return nil, fmt.Errorf("--mode: %w", err)
		}
	case hasMeta && meta.Extra["mode"] != "":
		if out.Mode, err = hub.ParseMode(meta.Extra["mode"]); err != nil {
			return nil, fmt.Errorf("capture header: mode: %w", err)
		}
	}
	var aging time.Duration
	switch {
	case j.Aging != nil && *j.Aging > 0:
		aging = *j.Aging
	case hasMeta && meta.Extra["aging"] != "":
		if aging, err = time.ParseDuration(meta.Extra["aging"]); err != nil {
			return nil, fmt.Errorf("capture header: aging: %w", err)
		}
		if aging < 0 {
			return nil, fmt.Errorf("capture header: aging %s: must not be negative", aging)
		}
	}
	for _, n := range coverageNotes(r.headers, out.Mode) {
		j.note(out, n)
	}
	if fs := r.Foreign(); len(fs) > 0 && withPolicy {
		j.note(out, foreignNote(fs, hasMeta && !meta.Start.IsZero()))
	}
	// A what-if (another policy than the run's, inputs with no l2hub
	// header) delivers every copy its policy delayed: when the
	// hypothetical hub would have stopped is unknown, and the copies are
	// what the user asks about. Only a replay of the run as it was ends
	// where the run did.
	drain := j.Drain || WhatIf(out.Notes)
	rc := RunConfig{Mode: out.Mode, AgingTime: aging, Progress: j.Progress, IgnoreEdits: j.IgnoreEdits, Drain: drain, PolicyHashes: hashes, Policies: choices}
	if out.Policy != nil {
		rc.Policy = out.Policy
	}
	if j.Output != "" {
		if rc.Capture, err = j.output(cfg, out, aging); err != nil {
			return nil, err
		}
		rc.Capture.Snaplen = r.Snaplen()
	}
	res, err := r.Run(ctx, rc)
	if res == nil {
		return nil, err
	}
	// The headers of sections after an input's first frame (a stream
	// capture's set-policy) are read only now.
	pn.notes(res.headers)
	pn.unused()
	pn.leftOut()
	out.Result = res
	return out, err
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

// foreignNote says that a policy's decisions over inputs with no l2hub
// header (classic pcap, another tool's pcapng: paths) are a what-if:
// nothing in them records the run's verdicts, seed, policy, start or
// edits, nor which way a frame went. started: an l2hub input's header
// gives the policy's time zero, else it is the first frame.
func foreignNote(paths []string, started bool) Note {
	input, what := "", strings.Join(paths, ", ")+" have"
	if len(paths) == 1 {
		input, what = paths[0], "it has"
	}
	text := what + " no l2hub capture header: nothing records the run's verdicts, seed, policy, start or edits, " +
		"nor which frames a VM sent and which it received, so the policy's decisions are a what-if, not the run's"
	if !started {
		text += ": policy time counts from the first frame, not from the hub's start"
	}
	text += "; a copy the hub delivered late (a delay) may be replayed again as a frame sent; edits made while it ran are unknown " +
		"(capture with l2hub serve to a .pcapng file to replay a run faithfully)"
	return newNote(NoteWhatIf, input, text)
}

// firstPartName returns the name of the first file of the rotated
// sequence path is part n of (capture.RotatedPath), in its directory:
// run.pcapng for run-0003.pcapng.
func firstPartName(path string, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(filepath.Base(path), ext)
	i := strings.LastIndexByte(stem, '-')
	if i < 0 {
		return "", false
	}
	first := filepath.Join(filepath.Dir(path), stem[:i]+ext)
	if capture.RotatedPath(first, n) != path {
		return "", false
	}
	return first, true
}

// note keeps n in out and tells Job.Notes.
func (j *Job) note(out *JobResult, n Note) {
	out.Notes = append(out.Notes, n)
	if j.Notes != nil {
		j.Notes(n.String())
	}
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

// output is the capture configuration of the job's output file.
func (j *Job) output(cfg Config, out *JobResult, aging time.Duration) (*capture.Config, error) {
	points := capture.PointsBoth
	if j.Points != "" {
		var err error
		if points, err = capture.ParsePoints(j.Points); err != nil {
			return nil, fmt.Errorf("--points: %w", err)
		}
	}
	names := make([]string, len(cfg.Inputs))
	for i, in := range cfg.Inputs {
		names[i] = filepath.Base(in.Path)
	}
	path := j.Output
	if capture.WritesStdout(path) {
		// Another name of standard output (/dev/stdout, the file the
		// shell sent it to) is the stream "-" is: a set-policy starts a
		// section in it, not a numbered file beside it (/dev/stdout-0001).
		path = capture.Stdout
	}
	c := &capture.Config{
		Path:   path,
		Format: capture.FormatForPath(j.Output),
		Points: points,
		Meta: capture.Meta{
			Version: j.Version,
			Extra:   map[string]string{replayOfKey: strings.Join(names, ","), "mode": out.Mode.String()},
		},
	}
	if aging > 0 {
		c.Meta.Extra["aging"] = aging.String()
	}
	if out.Policy != nil {
		c.Meta.Seed = out.Policy.Seed()
		c.Meta.PolicyHash = out.PolicyHash
	}
	return c, nil
}

// Report writes what `l2hub replay` prints of the result: the summary on
// out (as JSON with asJSON, with every note, Run's and Warnings', in
// notes), and on warn, a line each, the warnings (Warnings).
func (r *JobResult) Report(out, warn io.Writer, asJSON bool) error {
	var err error
	warnings := r.Warnings()
	if asJSON {
		v := struct {
			Schema     int    `json:"schema"` // control.Schema
			Policy     string `json:"policy,omitempty"`
			PolicyHash string `json:"policy_hash,omitempty"`
			Seed       uint64 `json:"seed"` // 0 without a policy
			SeedFrom   string `json:"seed_from,omitempty"`
			Mode       string `json:"mode"`
			// WhatIf: a note says the decisions are, in part or whole,
			// not the run's (NoteWhatIf).
			WhatIf bool   `json:"what_if"`
			Notes  []Note `json:"notes"`
			*Result
			// The rules' counters (Result.Rules) as serve's summary and
			// ctl rules --json give them.
			control.PolicyCounters
		}{Schema: control.Schema, Mode: r.Mode.String(), SeedFrom: r.SeedFrom, Result: r.Result, PolicyCounters: control.NewPolicyCounters(r.Rules)}
		v.Notes = append(slices.Clone(r.Notes), warnings...)
		if v.Notes == nil {
			v.Notes = []Note{}
		}
		v.WhatIf = WhatIf(v.Notes)
		if pol := r.Policy; pol != nil {
			v.Policy, v.PolicyHash, v.Seed = pol.Name(), r.PolicyHash, pol.Seed()
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // links as a->b, not a-\u003eb
		err = enc.Encode(v)
	} else {
		if pol := r.Policy; pol != nil {
			fmt.Fprintf(out, "policy %s (hash %s), seed %d (from %s); %s mode\n", pol.Name(), r.PolicyHash, pol.Seed(), r.SeedFrom, r.Mode)
		}
		err = r.WriteSummary(out)
	}
	for _, n := range warnings {
		fmt.Fprintf(warn, "l2hub replay: %s\n", n)
	}
	return err
}

// Warnings are the notes the result gives, after the run: where inputs
// stopped early, lost events or ran their clock backwards, frames cut
// short, owners guessed, and edits that could not be made again or were
// made under another policy.
func (r *JobResult) Warnings() []Note {
	ns := r.inputNotes()
	for _, o := range r.Owners {
		if o.How == ownerFirst {
			ns = append(ns, warning(NoteOwnerGuess, "", fmt.Sprintf("%s's frames went to port %s by a guess: the inputs hold them alike "+
				"(as a classic pcap per port of one link does); name its port with --port NAME=%s, or capture as pcapng, "+
				"which records each frame's port", macString(o.MAC), o.Port, macString(o.MAC))))
		}
	}
	for _, sw := range r.Switches {
		if sw.Err != "" {
			ns = append(ns, warning(NoteWhatIf, sw.Input, fmt.Sprintf("the run's set-policy at %s (to %s) could not be made again: %s; "+
				"the replay stopped there: the run's decisions from then on are not replayed, and what it wrote ends there", sw.Since, sw.Policy, sw.Err)))
		}
	}
	for _, msg := range r.PeerErrors {
		ns = append(ns, warning(NoteEdit, "", fmt.Sprintf("VM attach or detach the capture noted could not be read (%s); the deliveries after it may differ from the live run's", msg)))
	}
	whatIf := 0
	for _, e := range r.Edits {
		switch {
		case e.Err != "":
			ns = append(ns, warning(NoteEdit, "", fmt.Sprintf("policy edit %s; the decisions after it may differ from the live run's", e)))
		case e.WhatIf:
			whatIf++
		}
	}
	if whatIf > 0 {
		ns = append(ns, warning(NoteWhatIf, "", whatIfEdits(whatIf, len(r.Edits)+r.EditsLeftOut)))
	}
	if r.Discarded > 0 {
		// The cutoff is made only for a replay that starts as the run's
		// (Job.Run); one that turns out a what-if (an edit made under
		// another policy, a later section's header) delivers copies that
		// the live hub may not have held.
		what := "which the live hub discarded as it stopped"
		if WhatIf(r.Notes) || WhatIf(ns) {
			what = "where the run stopped; a hub stopped there discards what it holds, as the live one did"
		}
		ns = append(ns, newNote(NoteEnd, "", fmt.Sprintf("%d delayed %s still held at the capture's end (%s after the start), "+
			"%s: the replay discarded %s too (--drain delivers them)",
			r.Discarded, plural(r.Discarded, "copy was", "copies were"), r.End.Sub(r.Start), what, plural(r.Discarded, "it", "them"))))
	}
	// A replay that says it is the run's must count what the run counted.
	if !WhatIf(r.Notes) && !WhatIf(ns) {
		ns = append(ns, r.liveDiffers()...)
	}
	return ns
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}

// replayedDrops are the drop reasons a replay decides as the live hub
// did, from what its capture records: the policy's, the forwarding
// rules' and the bound on delayed frames. The others happen before a
// frame reaches the hub's decisions (runt, foreign-source,
// kernel-overflow, bad-encap, other-vni, own-echo: the capture never sees
// the frame), or after them, in the live ports' queues and transports
// (flowControlDrops; write-error, oversize), which a replay does not
// have. port-down is both: the hub's, for a port with no VM, and a
// transport's, for a write that failed after the hub queued the copy (a
// unixgram VM not bound yet), counted in tx as well; the counters cannot
// tell them apart, so it is not compared.
var replayedDrops = []hub.DropReason{hub.DropPolicy, hub.DropReflect, hub.DropSplitHorizon, hub.DropDelayFull}

// flowControlDrops are the copies a live port's queue refused after the
// hub decided to send them (its peer slow or gone): a replay has no
// queues and sends them, so the live hub decided to send tx plus these.
var flowControlDrops = []hub.DropReason{hub.DropQueueFull, hub.DropStalled, hub.DropBacklogFull}

// liveDiffers notes which ports' counters differ from the live hub's, as
// the capture's last statistics record them (PortResult.Live): rx, tx and
// the drops of each reason a replay decides (replayedDrops), when the
// capture lists them. A port whose live queue dropped copies
// (flowControlDrops) is compared on the copies the live hub decided to
// send, tx and those drops, and a note of its own says so.
func (r *JobResult) liveDiffers() []Note {
	var diffs, queued []string
	for _, p := range r.Ports {
		l := p.Live
		if l == nil {
			continue
		}
		var d []string
		add := func(what string, got, lived uint64) {
			if got != lived {
				d = append(d, fmt.Sprintf("%s %d, live %d", what, got, lived))
			}
		}
		add("rx", p.Stats.RxFrames, l.RxFrames)
		var flow uint64
		var why []string
		for _, reason := range flowControlDrops {
			if n := l.Drops[reason.String()]; n > 0 {
				flow += n
				why = append(why, fmt.Sprintf("%s %d", reason, n))
			}
		}
		if flow == 0 {
			add("tx", p.Stats.TxFrames, l.TxFrames)
		} else {
			queued = append(queued, fmt.Sprintf("port %s: %s", p.Name, strings.Join(why, ", ")))
			if p.Stats.TxFrames != l.TxFrames+flow {
				d = append(d, fmt.Sprintf("tx %d, live %d and %s", p.Stats.TxFrames, l.TxFrames, strings.Join(why, ", ")))
			}
		}
		if l.reasons {
			for _, reason := range replayedDrops {
				add("dropped "+reason.String(), p.Stats.Drops[reason.String()], l.Drops[reason.String()])
			}
		}
		if len(d) > 0 {
			diffs = append(diffs, "port "+p.Name+": "+strings.Join(d, ", "))
		}
	}
	var ns []Note
	if len(queued) > 0 {
		ns = append(ns, newNote(NoteQueues, "", fmt.Sprintf("the live hub's queues dropped copies it had decided to send (%s), which the replay sent: "+
			"a replay has no queues, so its tx is compared with the live tx plus them, and its output has those copies where the capture records them dropped", strings.Join(queued, "; "))))
	}
	if len(diffs) > 0 {
		ns = append(ns, warning(NoteWhatIf, "", fmt.Sprintf("the replay's counters differ from those the capture's last statistics record of the live hub (%s): "+
			"its decisions or deliveries are not all the run's", strings.Join(diffs, "; "))))
	}
	return ns
}

// whatIfEdits is the warning for n of the total policy edits a capture
// recorded that were made under another policy than the replay's.
func whatIfEdits(n, total int) string {
	which, were, they, them := fmt.Sprintf("%d of the %d policy edits the capture recorded", n, total), "were", "they", "them"
	switch {
	case n == 1 && total == 1:
		which = "the policy edit the capture recorded"
	case n == total:
		which = fmt.Sprintf("all %d policy edits the capture recorded", total)
	}
	if n == 1 {
		were, they, them = "was", "it", "it"
	}
	return fmt.Sprintf("%s %s made under another policy than this replay's (the summary's edits say which): "+
		"made again on this replay's, %s and the decisions after %s are a what-if", which, were, they, them)
}

// Failure is why a replay that ran must still fail: an input it stopped
// at (the frames before it were replayed), or one cut short unless
// truncOK accepts that, or inputs that held nothing to replay but egress
// copies.
func (r *JobResult) Failure(truncOK bool) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("replay stopped early on bad input (the frames before it were replayed): %w", err)
	}
	for _, in := range r.Inputs {
		if in.Err != nil && in.Err.Truncated() && !truncOK {
			return fmt.Errorf("%w (the %d frames before the cut were replayed; --allow-truncated accepts a capture cut short)", in.Err, in.Packets)
		}
	}
	if r.Replayed == 0 && r.Injected == 0 && r.Packets > 0 {
		var egress []string
		for _, n := range r.Notes {
			if n.Kind == NoteEgressOnly {
				egress = append(egress, n.Input)
			}
		}
		if len(egress) > 0 {
			return fmt.Errorf("replayed none of the %d frames: %s %s only egress copies (what ports received, as --capture-points egress records); "+
				"replay needs what the ports sent: capture with --capture-points ingress or both", r.Packets, strings.Join(egress, ", "), hasHave(len(egress)))
		}
	}
	return nil
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}
