package replay

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/filter"
	"l2hub/hub"
)

// Policy edits: the changes a live run made to its policy through the
// control API, which its l2hub capture records (filter.Edit) and a replay
// makes again at their run times.

// MaxEditResults bounds Result.Edits: a capture is untrusted input, and
// a run steered by a script may hold a great many edits.
const MaxEditResults = 1000

// EditResult is one policy edit found in an l2hub capture.
type EditResult struct {
	Input string `json:"input"` // the input that holds it
	Frame int    `json:"frame"` // the record whose comment holds it, numbered in Input
	// AfterLast: the capture holds it after its last frame (Frame), or in
	// a stream after the last frame of a section, in the trailer
	// capture.Reader.SectionTrailer reads.
	AfterLast bool         `json:"after_last_frame,omitempty"`
	Edit      *filter.Edit `json:"edit,omitempty"`
	Applied   bool         `json:"applied"`
	// MadeUnder, when set, says which policy the run had when it made the
	// edit, by the capture headers, which is not the one the replay runs
	// (a run's set-policy, or a what-if policy): Applied or not, the edit
	// and the decisions after it are then a what-if (WhatIf).
	MadeUnder string `json:"made_under,omitempty"`
	WhatIf    bool   `json:"what_if,omitempty"`
	Err       string `json:"error,omitempty"`

	several bool // the replay has several inputs: String names Input
}

// String describes r as the replay summary lists it.
func (r EditResult) String() string {
	var b strings.Builder
	if r.Edit != nil {
		fmt.Fprintf(&b, "at %s: %s", r.Edit.At, r.Edit)
	} else {
		b.WriteString("an unreadable edit")
	}
	in := ""
	if r.several {
		in = filepath.Base(r.Input) + " "
	}
	if r.AfterLast {
		fmt.Fprintf(&b, " (%safter the last frame, %d)", in, r.Frame)
	} else {
		fmt.Fprintf(&b, " (%sframe %d)", in, r.Frame)
	}
	switch {
	case r.Err != "":
		b.WriteString(": not applied: " + r.Err)
	case !r.Applied:
		b.WriteString(": left out (--ignore-edits)")
	}
	if r.MadeUnder != "" {
		b.WriteString("; made under " + r.MadeUnder + ", not this replay's policy: a what-if")
	}
	return b.String()
}

// edits makes the policy edits p's comment records (filter.ParseEdits),
// each at its run time, before p's own frame: the live hub wrote p first
// after making the edit, so every record before p in the capture came
// before the edit, and p and what follows after it. The clock is taken to
// the edit's time first (timers due by then fire), unless p is a delayed
// frame's delivery stamped earlier than the edit: the live hub fired that
// timer late, after the edit, so only the timers due before p's time fire
// first. Either way the edit itself takes the time the live hub made it
// at.
func (x *run) edits(s *source, p *capture.Packet) {
	x.makeEdits(s, p.Comment, p.Number, p.Time, false)
}

// A trailer's edits and peer changes (capture.Reader.SectionTrailer) came
// after its section's last frame, but not after every other input's: one
// file of a per-port capture ends long before another. Each waits for its
// time, and is made before the first record of any input stamped after
// it, or at the end. Every port's file of a per-port capture repeats the
// same trailer: a line is taken once.

// trailerLine is an edit or peer change line of a trailer, waiting.
type trailerLine struct {
	s          *source
	line       string
	afterFrame int           // the number of its input's last frame
	at         time.Duration // its run time (0 when unreadable: made at once, to say so)
}

// queueTrailer keeps the edit and peer lines of s's trailer until their
// times.
func (x *run) queueTrailer(s *source, trailer string, afterFrame int) {
	for line := range strings.Lines(trailer) {
		line = strings.TrimRight(line, "\r\n")
		var at time.Duration
		switch {
		case strings.HasPrefix(line, filter.EditPrefix):
			if es, _ := filter.ParseEdits(line); len(es) == 1 {
				at = es[0].At
			}
		case strings.HasPrefix(line, hub.PeerPrefix):
			if ps, _ := hub.ParsePeers(line); len(ps) == 1 {
				at = ps[0].At
			}
		default:
			continue
		}
		if x.trailerSeen[line] {
			continue
		}
		if x.trailerSeen == nil {
			x.trailerSeen = map[string]bool{}
		}
		x.trailerSeen[line] = true
		tl := trailerLine{s, line, afterFrame, at}
		i := sort.Search(len(x.trailers), func(i int) bool { return x.trailers[i].at > at })
		x.trailers = slices.Insert(x.trailers, i, tl)
	}
}

// dueTrailers makes the waiting trailer lines stamped before t, in time
// order; every one when t is zero. A line the run made before a
// set-policy is made before it (trailersBefore).
func (x *run) dueTrailers(t time.Time) {
	for len(x.trailers) > 0 && x.stop == nil {
		tl := x.trailers[0]
		if !t.IsZero() && !x.core.Start().Add(tl.at).Before(t) {
			return
		}
		// The set-policies due by its time first: one the run made after
		// it, moved earlier (scheduleSwitch), makes it before the switch.
		x.advanceTo(x.core.Start().Add(tl.at))
		if x.stop != nil || len(x.trailers) == 0 || x.trailers[0] != tl {
			continue
		}
		x.trailers = x.trailers[1:]
		x.makeEdits(tl.s, tl.line, tl.afterFrame, time.Time{}, true)
	}
}

// makeEdits makes the edits comment records: on s's frame number, stamped
// before (zero for none: the edits came after the last frame). Each is
// marked when the run made it under a policy the replay does not run.
// Peer changes the comment records (peerChanges) are made too, each in
// its place among the edits.
func (x *run) makeEdits(s *source, comment string, number int, before time.Time, trailer bool) {
	edits := strings.Contains(comment, filter.EditPrefix)
	peers := x.peers && strings.Contains(comment, hub.PeerPrefix)
	if !edits && !peers {
		return
	}
	for line := range strings.Lines(comment) {
		if x.stop != nil {
			return
		}
		switch {
		case edits && strings.HasPrefix(line, filter.EditPrefix):
			x.makeEdit(s, line, number, before, trailer)
		case peers && strings.HasPrefix(line, hub.PeerPrefix):
			if !trailer && s.early[strings.TrimRight(line, "\r\n")] {
				continue // made before another input's record (earlyPeers)
			}
			x.peerChanges(line, number, before)
		}
	}
}

// makeEdit makes the edit a comment line records.
func (x *run) makeEdit(s *source, line string, number int, before time.Time, trailer bool) {
	several := len(x.r.cfg.Inputs) > 1
	edits, errs := filter.ParseEdits(line)
	for _, err := range errs {
		x.editResult(EditResult{Input: s.in.Path, Frame: number, AfterLast: trailer, Err: err.Error(), several: several})
	}
	for _, e := range edits {
		r := EditResult{Input: s.in.Path, Frame: number, AfterLast: trailer, Edit: &e, several: several}
		r.MadeUnder = x.runs.madeUnder(e.At, x.hashes)
		r.WhatIf = r.MadeUnder != ""
		if !x.ignoreEdits {
			at := x.core.Start().Add(e.At)
			if !before.IsZero() && before.Before(at) {
				at = before.Add(-time.Nanosecond)
			}
			x.advanceTo(at)
			if x.stop != nil {
				return // the replay stopped at a set-policy before it
			}
			if err := x.applyEdit(e); err != nil {
				r.Err = err.Error()
			} else {
				r.Applied = true
			}
		}
		x.editResult(r)
	}
}

// editResult keeps r in the result, up to MaxEditResults.
func (x *run) editResult(r EditResult) {
	if len(x.res.Edits) < MaxEditResults {
		x.res.Edits = append(x.res.Edits, r)
	} else {
		x.res.EditsLeftOut++
	}
}

// applyEdit makes e on the policy in force (on a replay without a
// policy, on an empty one: no rules, seed 0, as the live hub made one for
// its first edit) and records it in the replay's capture as the live hub
// recorded it, on the next frame.
func (x *run) applyEdit(e filter.Edit) error {
	p, ok := x.policy.(*filter.Policy)
	if !ok && x.policy != nil {
		return fmt.Errorf("the policy is a %T, not a policy file's", x.policy)
	}
	if p == nil {
		var err error
		if p, err = filter.Parse([]byte("rules: []\n"), "control", x.r.Ports()); err != nil {
			return err
		}
		x.policy = p
		x.core.SetPolicy(p)
	}
	d, err := e.Apply(p, e.At)
	if err == nil {
		x.byteRules = readsBytes(p)
	}
	if err == nil && x.sink != nil {
		x.sink.Annotate(e.Comment(d))
	}
	return err
}
