package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/samefile"
)

// Job: `l2hub replay` from its flags to its result. Check refuses what the
// flags get wrong, Config turns files and --port values into inputs, and
// Run opens them, settles the seed, mode and aging a live run's capture
// records, and replays them; its policies are read and noted in
// jobpolicy.go, and its result reported in jobreport.go.

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
	// OutputStdout: the output capture went to standard output (-o -,
	// capture.WritesStdout), so Report writes the summary where it
	// writes the warnings.
	OutputStdout bool
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
	out := &JobResult{SeedFrom: "policy", Mode: hub.ModeSwitch, OutputStdout: capture.WritesStdout(j.Output)}
	for _, n := range r.Notes() {
		j.note(out, n)
	}
	if err := nothingToReplay(r, out.Notes, cfg.Inputs); err != nil {
		return nil, err // before the output is made
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

// nothingToReplay says why inputs whose records Open read hold no frame
// to replay (Replayer.Frames): one stopped at its first record (a link
// type other than Ethernet, a record too long; one cut short is Run's to
// judge, with --allow-truncated), only egress copies (the notes say so),
// or no record at all; nil when they hold one. An l2hub capture without
// frames (a run stopped before any, the file a set-policy started)
// still holds its run's ports, policies and edits, and is replayed.
func nothingToReplay(r *Replayer, notes []Note, ins []Input) error {
	n, err := r.Frames()
	switch {
	case n > 0:
		return nil
	case err != nil && !errors.Is(err, capture.ErrTruncated):
		return fmt.Errorf("%w: %w", ErrNothingToReplay, err)
	}
	if err := egressOnly(notes); err != nil {
		return fmt.Errorf("%w: %w", ErrNothingToReplay, err)
	}
	if len(r.headers) > 0 || err != nil {
		return nil
	}
	paths := make([]string, len(ins))
	for i, in := range ins {
		paths[i] = in.Path
	}
	return fmt.Errorf("%w: %s %s no frames", ErrNothingToReplay, strings.Join(paths, ", "), plural(len(paths), "holds", "hold"))
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
