package replay

import (
	"fmt"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/filter"
)

// Policy edits: the changes a live run made to its policy through the
// control API, which its l2hub capture records (filter.Edit) and a replay
// makes again at their run times.

// MaxEditResults bounds Result.Edits: a capture is untrusted input, and
// a run steered by a script may hold a great many edits.
const MaxEditResults = 1000

// EditResult is one policy edit found in an l2hub capture.
type EditResult struct {
	Frame int `json:"frame"` // the record whose comment holds it
	// AfterLast: the capture holds it after its last frame (Frame), in the
	// trailer capture.Reader.Trailer reads.
	AfterLast bool         `json:"after_last_frame,omitempty"`
	Edit      *filter.Edit `json:"edit,omitempty"`
	Applied   bool         `json:"applied"`
	Err       string       `json:"error,omitempty"`
}

// String describes r as the replay summary lists it.
func (r EditResult) String() string {
	var b strings.Builder
	if r.Edit != nil {
		fmt.Fprintf(&b, "at %s: %s", r.Edit.At, r.Edit)
	} else {
		b.WriteString("an unreadable edit")
	}
	if r.AfterLast {
		fmt.Fprintf(&b, " (after the last frame, %d)", r.Frame)
	} else {
		fmt.Fprintf(&b, " (frame %d)", r.Frame)
	}
	switch {
	case r.Err != "":
		b.WriteString(": not applied: " + r.Err)
	case !r.Applied:
		b.WriteString(": left out (--ignore-edits)")
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
func (x *run) edits(p *capture.Packet) {
	x.makeEdits(p.Comment, p.Number, p.Time, false)
}

// trailerEdits makes the edits of an input's trailer (capture.Reader.Trailer):
// the live hub made them after its last frame; afterFrame is that frame's
// number.
func (x *run) trailerEdits(trailer string, afterFrame int) {
	x.makeEdits(trailer, afterFrame, time.Time{}, true)
}

// makeEdits makes the edits comment records: on frame number, stamped
// before (zero for none: the edits came after the last frame).
func (x *run) makeEdits(comment string, number int, before time.Time, trailer bool) {
	if !strings.Contains(comment, filter.EditPrefix) {
		return
	}
	edits, errs := filter.ParseEdits(comment)
	for _, err := range errs {
		x.editResult(EditResult{Frame: number, AfterLast: trailer, Err: err.Error()})
	}
	for _, e := range edits {
		r := EditResult{Frame: number, AfterLast: trailer, Edit: &e}
		if !x.ignoreEdits {
			at := x.core.Start().Add(e.At)
			if !before.IsZero() && before.Before(at) {
				at = before.Add(-time.Nanosecond)
			}
			x.drv.AdvanceTo(at, nil)
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
	if err == nil && x.sink != nil {
		x.sink.Annotate(e.Comment(d))
	}
	return err
}
