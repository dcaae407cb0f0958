package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"l2hub/capture"
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
	Policy string        // policy file; "" for none
	Faults *filter.Flags // quick-test fault flags; nil for none
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
}

// JobResult is what Job.Run did, for the summary.
type JobResult struct {
	*Result
	Policy   *filter.Policy // nil without one
	SeedFrom string         // where the seed came from: --seed, capture or policy
	Mode     hub.Mode
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

// unseededHash reports whether the policy the job names, as given (without
// the seed the capture lent it), has the hash want: a run without --seed
// recorded its file's hash, which the capture's seed then changes.
func (j *Job) unseededHash(ports []string, want string) bool {
	var f filter.Flags
	if j.Faults != nil {
		f = *j.Faults
	}
	p, err := f.Load(j.Policy, ports)
	return err == nil && p.Hash() == want
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
	cfg, err := j.Config()
	if err != nil {
		return err
	}
	inputs := []samefile.Input{{Path: j.Policy, What: "policy"}}
	for _, in := range cfg.Inputs {
		inputs = append(inputs, samefile.Input{Path: in.Path, What: "capture"})
	}
	if err := samefile.Check("-o", j.Output, inputs...); err != nil {
		return err
	}
	// Replay's capture neither rotates nor splits per port, but a write
	// that fails goes on in the sequence's next file (out-0001.pcapng).
	for _, in := range inputs[1:] {
		if n, ok := rotatedPart(j.Output, in.Path); ok {
			if next := capture.RotatedPath(j.Output, n); samefile.Same(next, in.Path) {
				return fmt.Errorf("-o %s: after a failed write the output goes on in %s, the capture it reads (%s); write somewhere else", j.Output, next, in.Path)
			}
		}
	}
	return nil
}

// rotatedPart returns n when path is named as part n of the rotated
// sequence that starts with out (capture.RotatedPath), in any directory.
func rotatedPart(out, path string) (int, bool) {
	if out == "" || out == capture.Stdout {
		return 0, false
	}
	ext := filepath.Ext(out)
	stem := strings.TrimSuffix(filepath.Base(out), ext) + "-"
	name := filepath.Base(path)
	if !strings.HasPrefix(name, stem) || !strings.HasSuffix(name, ext) {
		return 0, false
	}
	digits := strings.TrimSuffix(strings.TrimPrefix(name, stem), ext)
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || len(digits) < 4 || capture.RotatedPath(filepath.Base(out), n) != name {
		return 0, false
	}
	return n, true
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
	r, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if j.Notes != nil {
		for _, n := range r.Notes() {
			j.Notes(n)
		}
	}
	meta, hasMeta := r.Meta()
	var faults filter.Flags
	if j.Faults != nil {
		faults = *j.Faults
	}
	out := &JobResult{SeedFrom: "policy", Mode: hub.ModeSwitch}
	withPolicy := j.Policy != "" || faults.Given()
	switch {
	case faults.SeedGiven():
		out.SeedFrom = "--seed"
	case hasMeta && meta.PolicyHash != "" && withPolicy:
		faults.SetSeed(meta.Seed)
		out.SeedFrom = "capture"
	}
	if withPolicy {
		if out.Policy, err = faults.Load(j.Policy, r.Ports()); err != nil {
			if r.PerMAC() {
				return nil, fmt.Errorf("%w\n(one capture without --port NAME=FILE or NAME=MAC: replay made a port per source MAC; name them with --port NAME=MAC)", err)
			}
			return nil, err
		}
	}
	noted := map[string]bool{}
	several := len(cfg.Inputs) > 1
	j.policyNotes(r.headers, out.Policy, r.Ports(), several, noted)
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
	rc := RunConfig{Mode: out.Mode, AgingTime: aging, Progress: j.Progress, IgnoreEdits: j.IgnoreEdits}
	if out.Policy != nil {
		rc.Policy = out.Policy
	}
	if j.Output != "" {
		if rc.Capture, err = j.output(cfg, out, aging); err != nil {
			return nil, err
		}
	}
	res, err := r.Run(ctx, rc)
	if res == nil {
		return nil, err
	}
	// The headers of sections after an input's first frame (a stream
	// capture's set-policy) are read only now.
	j.policyNotes(res.headers, out.Policy, r.Ports(), several, noted)
	out.Result = res
	return out, err
}

// policyNotes says, once per policy, when a capture header names a policy
// (its hash) that the replay does not run (pol, nil for none): the replay's
// decisions are then a what-if. With several inputs, each note names its
// file. noted holds the hashes already said.
func (j *Job) policyNotes(hs []capHeader, pol *filter.Policy, ports []string, several bool, noted map[string]bool) {
	if j.Notes == nil {
		return
	}
	for _, h := range hs {
		hash := h.meta.PolicyHash
		if hash == "" || noted[hash] {
			continue
		}
		noted[hash] = true
		where := ""
		if several {
			where = h.path + ": "
		}
		switch {
		case pol == nil:
			j.Notes(fmt.Sprintf("%sthe capture's run had a policy (hash %s, seed %d); this replay has none and forwards everything: give it --policy to reproduce the run's decisions", where, hash, h.meta.Seed))
		case pol.Hash() != hash && !j.unseededHash(ports, hash):
			j.Notes(fmt.Sprintf("%sthe policy (hash %s) is not the one the capture's run had (hash %s): its decisions are a what-if, not the run's", where, pol.Hash(), hash))
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
	c := &capture.Config{
		Path:   j.Output,
		Format: capture.FormatForPath(j.Output),
		Points: points,
		Meta: capture.Meta{
			Version: j.Version,
			Extra:   map[string]string{"replay-of": strings.Join(names, ","), "mode": out.Mode.String()},
		},
	}
	if aging > 0 {
		c.Meta.Extra["aging"] = aging.String()
	}
	if out.Policy != nil {
		c.Meta.Seed = out.Policy.Seed()
		c.Meta.PolicyHash = out.Policy.Hash()
	}
	return c, nil
}

// Report writes what `l2hub replay` prints of the result: the summary on
// out (as JSON with asJSON), and on warn, a line each, the inputs' errors
// and the policy edits that could not be made again.
func (r *JobResult) Report(out, warn io.Writer, asJSON bool) error {
	var err error
	if asJSON {
		v := struct {
			Policy   string `json:"policy,omitempty"`
			Seed     uint64 `json:"seed,omitempty"`
			SeedFrom string `json:"seed_from,omitempty"`
			Mode     string `json:"mode"`
			*Result
		}{Mode: r.Mode.String(), SeedFrom: r.SeedFrom, Result: r.Result}
		if pol := r.Policy; pol != nil {
			v.Policy, v.Seed = pol.Name(), pol.Seed()
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // links as a->b, not a-\u003eb
		err = enc.Encode(v)
	} else {
		if pol := r.Policy; pol != nil {
			fmt.Fprintf(out, "policy %s, seed %d (from %s); %s mode\n", pol.Name(), pol.Seed(), r.SeedFrom, r.Mode)
		}
		err = r.WriteSummary(out)
	}
	var msgs bytes.Buffer
	r.WriteInputErrors(&msgs)
	for line := range bytes.Lines(msgs.Bytes()) {
		fmt.Fprintf(warn, "l2hub replay: %s", line)
	}
	for _, o := range r.Owners {
		if o.How == ownerFirst {
			fmt.Fprintf(warn, "l2hub replay: warning: %s's frames went to port %s by a guess: the inputs hold them alike "+
				"(as a classic pcap per port of one link does); name its port with --port NAME=%s, or capture as pcapng, "+
				"which records each frame's port\n", macString(o.MAC), o.Port, macString(o.MAC))
		}
	}
	for _, e := range r.Edits {
		if e.Err != "" {
			fmt.Fprintf(warn, "l2hub replay: warning: policy edit %s; the decisions after it may differ from the live run's\n", e)
		}
	}
	return err
}

// Failure is why a replay that ran must still fail: an input it stopped
// at (the frames before it were replayed), or one cut short unless
// truncOK accepts that.
func (r *JobResult) Failure(truncOK bool) error {
	if err := r.Err(); err != nil {
		return fmt.Errorf("replay stopped early on bad input (the frames before it were replayed): %w", err)
	}
	for _, in := range r.Inputs {
		if in.Err != nil && in.Err.Truncated() && !truncOK {
			return fmt.Errorf("%w (the %d frames before the cut were replayed; --allow-truncated accepts a capture cut short)", in.Err, in.Packets)
		}
	}
	return nil
}
