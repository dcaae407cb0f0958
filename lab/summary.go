package lab

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"l2hub/conformance/checker"
)

// Summary is a run's outcome, as summary.json holds it. Times are
// milliseconds since the run's start; durations are milliseconds.
type Summary struct {
	Lab    string `json:"lab"`
	File   string `json:"file"`
	Result string `json:"result"` // pass, fail, interrupted, error
	Seed   uint64 `json:"seed"`
	// SeedSet is false when neither the lab nor --seed set a seed: the
	// policy file's (or none) was in force.
	SeedSet   bool      `json:"seed_set"`
	Until     string    `json:"until,omitempty"`
	Started   time.Time `json:"started"`
	Duration  ms        `json:"duration_ms"`
	Timeout   ms        `json:"timeout_ms"`
	Dir       string    `json:"run_dir"`
	Rerun     string    `json:"rerun,omitempty"` // the command that repeats this run
	Error     string    `json:"error,omitempty"` // for result error
	Interrupt bool      `json:"interrupted,omitempty"`
	// Notes are what else the run has to say: a QEMU that still ran after
	// SIGKILL, and was not waited for.
	Notes []string `json:"notes,omitempty"`

	// Classification is the first failure: its code, phase, VM, missing
	// marker, evidence counts and the wire's hint.
	Classification *FailureSummary   `json:"classification,omitempty"`
	Failures       []FailureSummary  `json:"failures,omitempty"`
	Expect         []MarkerSummary   `json:"expect"`
	Phases         []PhaseSummary    `json:"phases"`
	Triggers       []TriggerSummary  `json:"triggers,omitempty"`
	Soak           *SoakSummary      `json:"soak,omitempty"`
	VMs            []VMInfo          `json:"vms"`
	Check          *CheckSummary     `json:"check,omitempty"`
	Files          map[string]string `json:"files"`
	// FileErrors are the run directory's files that could not be written,
	// or not whole (a full disk): a console log that stops before the
	// console did, check.txt missing. summary.json cannot list itself.
	FileErrors []FileError `json:"file_errors,omitempty"`

	tails map[string][]Line // each VM's last console lines, for junit.xml
	// unwritten are the files of the run's verdict, summary.json and
	// junit.xml, that could not be written: Verdict fails the run for them.
	unwritten []string
}

// ms is a duration written in JSON as whole milliseconds.
type ms time.Duration

func (d ms) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).Milliseconds()) }

func (d *ms) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*d = ms(time.Duration(n) * time.Millisecond)
	return nil
}

// D returns the duration.
func (d ms) D() time.Duration { return time.Duration(d) }

// MarkerSummary is one awaited marker.
type MarkerSummary struct {
	VM     string `json:"vm"`
	Marker string `json:"marker"`
	Status string `json:"status"` // ok, missing, interrupted, not reached, skipped
	Within ms     `json:"within_ms,omitempty"`
	At     *ms    `json:"at_ms,omitempty"` // when it was seen
	Line   int    `json:"line,omitempty"`  // its line among the VM's console lines, from 1
	Text   string `json:"text,omitempty"`
}

// PhaseSummary is one phase: when it ran, its markers, and its budget
// against what was observed.
type PhaseSummary struct {
	Name       string                    `json:"name"`
	Status     string                    `json:"status"` // ok, over budget, failed, interrupted, not reached, skipped
	Start      *ms                       `json:"start_ms,omitempty"`
	End        *ms                       `json:"end_ms,omitempty"`
	Duration   *ms                       `json:"duration_ms,omitempty"`
	Within     ms                        `json:"within_ms"`
	Budget     ms                        `json:"budget_ms,omitempty"`
	OverBudget bool                      `json:"over_budget,omitempty"`
	Markers    []MarkerSummary           `json:"markers"`
	Evidence   map[string]map[string]int `json:"evidence,omitempty"`
}

// FailureSummary is a classified failure.
type FailureSummary struct {
	Code     string                    `json:"code"`
	Phase    string                    `json:"phase"`
	VM       string                    `json:"vm,omitempty"`
	Trigger  string                    `json:"trigger,omitempty"`
	Marker   string                    `json:"missing_marker,omitempty"`
	Line     string                    `json:"line,omitempty"`
	At       ms                        `json:"at_ms"`
	Since    ms                        `json:"phase_start_ms"`
	Message  string                    `json:"message"`
	Missing  []Missing                 `json:"missing,omitempty"`
	Evidence map[string]map[string]int `json:"evidence,omitempty"`
	Hint     *Hint                     `json:"hint,omitempty"`
}

// TriggerSummary is one trigger and what became of it.
type TriggerSummary struct {
	Name    string `json:"name"`
	Trigger string `json:"trigger"`
	// Status is fired, failed (the hub refused its change: TRIGGER_FAILED),
	// not fired (an on: trigger making a fault whose marker never came:
	// TRIGGER_NOT_FIRED), not reached (the run ended first; Note says why
	// when it passed by the trigger) or skipped (after --until's phase).
	Status   string `json:"status"`
	Fired    bool   `json:"fired"`
	FiredAt  *ms    `json:"fired_ms,omitempty"`
	Line     string `json:"line,omitempty"`
	Undone   bool   `json:"undone,omitempty"`
	UndoneAt *ms    `json:"undone_ms,omitempty"`
	Err      string `json:"error,omitempty"`
	Note     string `json:"note,omitempty"`
}

// SoakSummary is what --soak saw.
type SoakSummary struct {
	Duration ms  `json:"duration_ms"`
	Round    ms  `json:"round_ms"`
	Rounds   int `json:"rounds"`
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
}

// VMInfo is one QEMU of the run.
type VMInfo struct {
	Name    string `json:"name"`
	Port    string `json:"port"`
	PID     int    `json:"pid,omitempty"`
	Command string `json:"command,omitempty"`
	Log     string `json:"log"`
	Exit    string `json:"exit,omitempty"`
	Lines   int    `json:"console_lines"`
}

// CheckSummary is the conformance checker's verdict on the capture.
type CheckSummary struct {
	Profile string           `json:"profile"`
	OK      bool             `json:"ok"`
	Fail    int              `json:"fail"`
	Warn    int              `json:"warn"`
	Pass    int              `json:"pass"`
	First   *checker.Finding `json:"first_failure,omitempty"`
}

func msp(d time.Duration) *ms { v := ms(d); return &v }

// summarize turns the judge's state into the run's Summary.
func (r *runner) summarize(result string, report *checker.Report) *Summary {
	s := &Summary{
		Lab: r.lab.Name, File: r.lab.File, Result: result, Seed: r.seed, SeedSet: r.seedSet,
		Until: r.opts.Until, Started: r.start.UTC(), Duration: ms(r.now()), Timeout: ms(r.lab.Timeout + r.opts.Soak),
		Dir: r.dir, Error: r.errText, Interrupt: result == ResultInterrupted, VMs: r.vmInfo, Notes: r.notes,
		Expect: []MarkerSummary{}, Phases: []PhaseSummary{}, tails: map[string][]Line{},
		Files: map[string]string{"summary_json": "summary.json", "summary_txt": "summary.txt", "junit": "junit.xml", "hub_log": "hub.log", "lab_log": "lab.log"},
	}
	if s.VMs == nil {
		s.VMs = []VMInfo{}
	}
	if r.opts.Rerun != nil {
		s.Rerun = r.opts.Rerun(r.seed, r.seedSet)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "capture.pcapng")); err == nil {
		s.Files["capture"] = "capture.pcapng"
	}
	if r.reportErr != "" {
		s.Files["report_error"] = r.reportErr
	} else if _, err := os.Stat(filepath.Join(r.dir, "report.html")); err == nil {
		s.Files["report"] = "report.html"
	}
	if report != nil {
		s.Files["check"] = "check.txt"
		s.Check = &CheckSummary{Profile: report.Profile, OK: report.OK(), Fail: report.Fail, Warn: report.Warn, Pass: report.Pass}
		for _, f := range report.Findings {
			if f.Verdict == checker.Fail {
				s.Check.First = &f
				break
			}
		}
	}
	for _, vm := range r.vmInfo {
		s.Files["console_"+vm.Name] = vm.Log
	}
	for _, l := range r.logs {
		if e := l.failure(); e != nil {
			s.FileErrors = append(s.FileErrors, *e)
		}
	}
	s.FileErrors = append(s.FileErrors, r.fileErrs...)
	j := r.judge
	if j == nil {
		return s
	}
	for i := range s.VMs {
		for vi, t := range j.vms {
			if r.lab.VMs[vi].Name == s.VMs[i].Name {
				s.VMs[i].Lines = t.lines
			}
		}
	}
	for _, t := range j.vms {
		s.tails[t.name] = t.tail
	}
	expects, phases, triggers := j.results()
	for _, m := range expects {
		s.Expect = append(s.Expect, markerSummary(m))
	}
	for _, p := range phases {
		ps := PhaseSummary{Name: p.Name, Status: p.Status, Within: ms(p.Within), Budget: ms(p.Budget), Evidence: p.Evidence,
			OverBudget: p.Status == PhaseOverBudget}
		if p.started {
			ps.Start = msp(p.Start)
		}
		if p.ended || p.Status == PhaseFailed || p.Status == StatusInterrupted {
			ps.End, ps.Duration = msp(p.End), msp(p.Duration())
		}
		for _, m := range p.Markers {
			ps.Markers = append(ps.Markers, markerSummary(m))
		}
		s.Phases = append(s.Phases, ps)
	}
	for _, t := range triggers {
		ts := TriggerSummary{Name: t.Name, Trigger: t.Trigger, Status: t.Status, Fired: t.Fired, Line: t.Line, Undone: t.Undone, Err: t.Err, Note: t.Note}
		if t.Fired {
			ts.FiredAt = msp(t.FiredAt)
		}
		if t.Undone {
			ts.UndoneAt = msp(t.UndoneAt)
		}
		s.Triggers = append(s.Triggers, ts)
	}
	if j.soakRes != nil {
		s.Soak = &SoakSummary{Duration: ms(j.soakRes.Duration), Round: ms(j.soakRes.Round), Rounds: j.soakRes.Rounds, Passed: j.soakRes.Passed, Failed: j.soakRes.Failed}
	}
	var ports []string
	for _, vm := range r.lab.VMs {
		ports = append(ports, vm.Port)
	}
	first, hard := j.first(), j.firstHard()
	for i := range j.failures {
		f := &j.failures[i]
		fs := FailureSummary{Code: f.Code, Phase: f.Phase, VM: f.VM, Trigger: f.Trigger, Marker: f.Marker, Line: f.Line, At: ms(f.At), Since: ms(f.Since),
			Message: f.Message, Missing: f.Missing, Evidence: f.Evidence}
		// The wire does not explain a change the hub refused. The failure
		// that ended the run gets a hint too when a budget overrun came
		// first and classifies it.
		if (f == first || f == hard) && s.Files["capture"] != "" && f.Code != "TRIGGER_FAILED" {
			fs.Hint = wireHint(filepath.Join(r.dir, "capture.pcapng"), r.start, f, ports, report, r.lab.Hub.Check != "")
		}
		s.Failures = append(s.Failures, fs)
		if f == first {
			c := fs
			s.Classification = &c
		}
	}
	if result == ResultPass && len(s.Failures) > 0 {
		s.Result = ResultFail
	}
	return s
}

func markerSummary(m markerResult) MarkerSummary {
	s := MarkerSummary{VM: m.VM, Marker: m.Marker, Status: m.Status, Within: ms(m.Within), Line: m.Line, Text: m.Text}
	if m.Status == StatusOK {
		s.At = msp(m.At)
	}
	return s
}

// write writes junit.xml, summary.txt and summary.json (which lists the
// others if they could not be written) into the run directory, each whole
// or not at all, and the summary table to Out; a file it could not write
// (a full disk) is said on Out, after the table, where a CI log shows it.
// Without summary.json or junit.xml the run has no verdict a CI system
// can read: s.unwritten names them, and Verdict fails the run.
func (r *runner) write(s *Summary) {
	var failed []string
	put := func(name string, data []byte, err error) bool {
		if err == nil {
			err = r.fs().WriteFile(filepath.Join(r.dir, name), data)
		}
		if err != nil {
			e := FileError{File: name, Error: err.Error()}
			if name != "junit.xml" { // the text, written after it, has its note
				failed = append(failed, e.String()+"\n")
			}
			s.FileErrors = append(s.FileErrors, e)
			return false
		}
		return true
	}
	var junit bytes.Buffer
	err := s.WriteJUnit(&junit)
	if !put("junit.xml", junit.Bytes(), err) {
		s.unwritten = append(s.unwritten, "junit.xml")
		delete(s.Files, "junit")
	}
	var txt strings.Builder
	s.WriteText(&txt)
	if !put("summary.txt", []byte(txt.String()), nil) {
		delete(s.Files, "summary_txt")
	}
	data, err := jsonIndent(s)
	if !put("summary.json", data, err) {
		s.unwritten = append(s.unwritten, "summary.json")
	}
	r.printf("\n%s%s", txt.String(), strings.Join(failed, ""))
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func optSecs(d *ms) string {
	if d == nil {
		return "-"
	}
	return secs(d.D())
}

// writeDetails writes what a failure missed, its last line, evidence and
// wire hint, each line after indent.
func writeDetails(w io.Writer, indent string, f *FailureSummary) {
	if f.Marker != "" {
		fmt.Fprintf(w, "%smissing marker: %q\n", indent, f.Marker)
	}
	for _, m := range f.Missing {
		if m.VM != f.VM || m.Marker != f.Marker {
			fmt.Fprintf(w, "%salso missing on %s: %q\n", indent, m.VM, m.Marker)
		}
	}
	if f.Line != "" {
		fmt.Fprintf(w, "%slast line: %s\n", indent, clean(f.Line))
	}
	for _, vm := range sortedKeys(f.Evidence) {
		for _, pat := range sortedKeys(f.Evidence[vm]) {
			fmt.Fprintf(w, "%sevidence %s: %q x%d\n", indent, vm, pat, f.Evidence[vm][pat])
		}
	}
	if f.Hint != nil {
		fmt.Fprintf(w, "%swire: %s\n", indent, f.Hint.Text)
	}
}

// WriteText writes the summary for people: the verdict, the
// classification with its hint, the phases with their budgets, the
// markers and the triggers.
func (s *Summary) WriteText(w io.Writer) {
	verdict := strings.ToUpper(s.Result)
	fmt.Fprintf(w, "%s %s in %s", verdict, s.Lab, secs(s.Duration.D()))
	if s.SeedSet {
		fmt.Fprintf(w, " (seed %d)", s.Seed)
	}
	if s.Until != "" {
		fmt.Fprintf(w, ", until phase %s", s.Until)
	}
	fmt.Fprintf(w, "\nrun directory: %s\n", s.Dir)
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, e := range s.FileErrors {
		fmt.Fprintf(w, "note: %s\n", e)
	}
	if c := s.Classification; c != nil {
		fmt.Fprintf(w, "\nfailure: %s (phase %s", c.Code, c.Phase)
		if c.VM != "" {
			fmt.Fprintf(w, ", VM %s", c.VM)
		}
		fmt.Fprintf(w, ", at %s)\n", secs(c.At.D()))
		fmt.Fprintf(w, "  %s\n", c.Message)
		writeDetails(w, "  ", c)
		// After a budget overrun (the classification), the failure that
		// ended the run says what it missed and what the wire saw too.
		decisive := s.decisive()
		for i := 1; i < len(s.Failures); i++ {
			f := &s.Failures[i]
			fmt.Fprintf(w, "  then: %s at %s: %s\n", f.Code, secs(f.At.D()), f.Message)
			if f == decisive && budgetOnly(c) {
				writeDetails(w, "    ", f)
			}
		}
		if s.Rerun != "" {
			fmt.Fprintf(w, "  rerun: %s\n", s.Rerun)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if len(s.Phases) > 0 {
		fmt.Fprintln(tw, "\nPHASE\tSTATUS\tSTART\tEND\tDURATION\tWITHIN\tBUDGET")
		for _, p := range s.Phases {
			budget := "-"
			if p.Budget > 0 {
				budget = secs(p.Budget.D())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Status, optSecs(p.Start), optSecs(p.End), optSecs(p.Duration), secs(p.Within.D()), budget)
		}
	}
	markers := len(s.Expect)
	for _, p := range s.Phases {
		markers += len(p.Markers)
	}
	if markers > 0 { // an ERROR summary has none
		fmt.Fprintln(tw, "\nVM\tMARKER\tSTATUS\tAT\tLINE\tWHERE")
	}
	row := func(m MarkerSummary, where string) {
		line := "-"
		if m.Line > 0 {
			line = fmt.Sprint(m.Line)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.VM, cut(m.Marker, 60), m.Status, optSecs(m.At), line, where)
	}
	for _, m := range s.Expect {
		row(m, "expect, within "+secs(m.Within.D()))
	}
	for _, p := range s.Phases {
		for _, m := range p.Markers {
			row(m, "phase "+p.Name)
		}
	}
	if len(s.Triggers) > 0 {
		fmt.Fprintln(tw, "\nTRIGGER\tSTATUS\tFIRED\tUNDONE\tWHAT")
		for _, t := range s.Triggers {
			what := t.Trigger
			switch {
			case t.Err != "":
				what += " (failed: " + t.Err + ")"
			case t.Note != "":
				what += " (" + t.Note + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, cmp.Or(t.Status, "-"), optSecs(t.FiredAt), optSecs(t.UndoneAt), what)
		}
	}
	tw.Flush()
	if s.Soak != nil {
		fmt.Fprintf(w, "\nsoak: %s in rounds of %s: %d rounds, %d passed, %d failed\n", secs(s.Soak.Duration.D()), secs(s.Soak.Round.D()), s.Soak.Rounds, s.Soak.Passed, s.Soak.Failed)
	}
	if s.Check != nil {
		fmt.Fprintf(w, "\ncheck %s: %d fail, %d warn, %d pass (check.txt)\n", s.Check.Profile, s.Check.Fail, s.Check.Warn, s.Check.Pass)
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ReadSummary reads a run directory's summary.json.
func ReadSummary(dir string) (*Summary, error) {
	data, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	return &s, nil
}
