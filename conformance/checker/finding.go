package checker

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Verdict is a finding's outcome.
type Verdict uint8

const (
	Pass Verdict = iota + 1 // the check saw traffic and it conforms
	Info                    // an observation: an as-built deviation, a statistic, an explained retransmission
	Warn                    // suspicious or incomplete, but not a protocol error
	Fail                    // the traffic violates the spec
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	}
	return "verdict-?"
}

// MarshalText makes JSON carry the name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a name written by MarshalText.
func (v *Verdict) UnmarshalText(b []byte) error {
	for _, c := range []Verdict{Pass, Info, Warn, Fail} {
		if string(b) == c.String() {
			*v = c
			return nil
		}
	}
	return fmt.Errorf("checker: unknown verdict %q", b)
}

// severity orders verdicts for the report: failures first.
func (v Verdict) severity() int {
	switch v {
	case Fail:
		return 0
	case Warn:
		return 1
	case Info:
		return 2
	}
	return 3
}

// MaxFindingFrames bounds the frame numbers one finding keeps.
const MaxFindingFrames = 16

// Finding is one result: which check, its verdict, the frames that prove it
// and one line of explanation. A finding that happened several times says
// so in Count and cites the first MaxFindingFrames frames.
type Finding struct {
	ID      string  `json:"id"`
	Verdict Verdict `json:"verdict"`
	Frames  []int   `json:"frames,omitempty"`
	Message string  `json:"message"`
	Count   int     `json:"count,omitempty"` // occurrences folded into this finding, when more than one

	at int // the frame that settled it first; 0 for end-of-run findings
}

func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s %-9s", strings.ToUpper(f.Verdict.String()), f.ID)
	if len(f.Frames) > 0 {
		b.WriteString(" frame")
		if len(f.Frames) > 1 {
			b.WriteString("s")
		}
		b.WriteString(" ")
		for i, n := range f.Frames {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteString(":")
	}
	b.WriteString(" ")
	b.WriteString(f.Message)
	if f.Count > 1 {
		fmt.Fprintf(&b, " (x%d)", f.Count)
	}
	return b.String()
}

// Report is the checker's result.
type Report struct {
	Profile string `json:"profile"`
	// Frames counts every frame given to the checker; Checked those it
	// judged; Skipped the copies it did not judge again (egress copies of
	// ingress frames, loopback echoes, the same frame in another file).
	Frames  int `json:"frames"`
	Checked int `json:"checked"`
	Skipped int `json:"skipped"`
	// Lost counts live frames the checker's queue had no room for.
	Lost     int       `json:"lost,omitempty"`
	Pass     int       `json:"pass"`
	Info     int       `json:"info"`
	Warn     int       `json:"warn"`
	Fail     int       `json:"fail"`
	Findings []Finding `json:"findings"`
	// Note says how frame numbers count (several inputs are merged by time).
	Note string `json:"note,omitempty"`
}

// OK reports whether nothing failed.
func (r Report) OK() bool { return r.Fail == 0 }

// First returns the first finding with id, if any.
func (r Report) First(id string) (Finding, bool) {
	i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.ID == id })
	if i < 0 {
		return Finding{}, false
	}
	return r.Findings[i], true
}

// WriteText writes the report for people: a verdict line with the counts,
// then every finding, failures first, each group in frame order.
func (r Report) WriteText(w io.Writer) error {
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s check: %s: %d fail, %d warn, %d pass, %d info (%d frames, %d checked, %d copies skipped",
		r.Profile, verdict, r.Fail, r.Warn, r.Pass, r.Info, r.Frames, r.Checked, r.Skipped)
	if r.Lost > 0 {
		fmt.Fprintf(&b, ", %d lost by the checker's queue", r.Lost)
	}
	b.WriteString(")\n")
	if r.Note != "" {
		b.WriteString(r.Note + "\n")
	}
	for _, f := range r.Findings {
		b.WriteString(f.String())
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sortFindings orders findings for the report: failures first, then
// warnings, information and passes; within a verdict by the frame that
// settled each (end-of-run findings last), then by first frame and id.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if c := cmp.Compare(a.Verdict.severity(), b.Verdict.severity()); c != 0 {
			return c
		}
		if c := cmp.Compare(settled(a), settled(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(firstFrame(a), firstFrame(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

const never = int(^uint(0) >> 1)

func settled(f Finding) int {
	if f.at == 0 {
		return never
	}
	return f.at
}

func firstFrame(f Finding) int {
	if len(f.Frames) == 0 {
		return never
	}
	return f.Frames[0]
}
