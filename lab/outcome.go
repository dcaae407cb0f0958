package lab

// This file holds what the judge concludes: the statuses, the results of
// markers, phases and triggers, a Failure and its classification (fail:
// the phase, the missing markers, the evidence, a silent VM's hint), and
// the results once the run is over or was stopped (results, first,
// firstHard, interrupt). The runner turns them into the Summary
// (summary.go).

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// tailLines is how many of each VM's last console lines a failure report
// and junit.xml carry.
const tailLines = 20

// A Line is one console line as the run saw it.
type Line struct {
	N    int           // 1 for the VM's first line
	At   time.Duration // since the run's start
	Text string
}

func (l Line) String() string { return fmt.Sprintf("%8.3f %s", l.At.Seconds(), clean(l.Text)) }

// clean makes console text safe to print on a terminal: a guest's console
// may hold escape sequences and bytes that are not UTF-8, and what l2hub
// prints must not move a cursor or change a colour. Control characters
// (but tab) and invalid bytes become U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if controlChar(r) {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// Marker statuses; a phase takes the last three too.
const (
	StatusOK          = "ok"
	StatusMissing     = "missing"     // the run failed waiting for it
	StatusInterrupted = "interrupted" // the run was stopped (a signal, the hub's failure) while waiting for it
	StatusNotReached  = "not reached" // the run ended before its turn
	StatusSkipped     = "skipped"     // after --until's phase
)

// Phase statuses (and the run's result words).
const (
	PhaseOK         = "ok"
	PhaseFailed     = "failed"
	PhaseOverBudget = "over budget"
)

// markerResult is one awaited marker: what was seen of it, and when.
type markerResult struct {
	VM     string        `json:"vm"`
	Marker string        `json:"marker"`
	Within time.Duration `json:"-"` // expect: from the run's start; phase markers: 0
	Status string        `json:"status"`
	At     time.Duration `json:"-"` // when it was seen
	Line   int           `json:"line,omitempty"`
	Text   string        `json:"text,omitempty"` // the console line
}

// phaseResult is one phase's outcome.
type phaseResult struct {
	Name     string                    `json:"name"`
	Status   string                    `json:"status"`
	Start    time.Duration             `json:"-"`
	End      time.Duration             `json:"-"` // when its last marker was seen (or it failed)
	Within   time.Duration             `json:"-"`
	Budget   time.Duration             `json:"-"`
	Markers  []markerResult            `json:"markers"`
	Evidence map[string]map[string]int `json:"evidence,omitempty"`
	started  bool
	ended    bool
}

// Duration is how long the phase took (to its end, or to the failure).
func (p phaseResult) Duration() time.Duration { return p.End - p.Start }

// Trigger statuses.
const (
	TriggerFired    = "fired"
	TriggerFailed   = "failed"    // the hub refused its change (or its undo): TRIGGER_FAILED
	TriggerNotFired = "not fired" // an on: trigger making a fault, and the run was done without it: TRIGGER_NOT_FIRED
	// and StatusNotReached (the run ended first, failed or stopped),
	// StatusSkipped (--until stopped the run before the last phase)
)

// triggerResult is what became of a trigger.
type triggerResult struct {
	Name     string        `json:"name"`
	Trigger  string        `json:"trigger"` // as the file wrote it
	Status   string        `json:"status"`  // set by results
	Fired    bool          `json:"fired"`
	FiredAt  time.Duration `json:"-"`
	Line     string        `json:"line,omitempty"` // the console line that fired it
	Undone   bool          `json:"undone"`
	UndoneAt time.Duration `json:"-"`
	Err      string        `json:"error,omitempty"`
	Note     string        `json:"note,omitempty"` // why it was not reached, when the run passed by it
}

// Missing is a marker a VM still owed when the run failed.
type Missing struct {
	VM     string `json:"vm"`
	Marker string `json:"marker"`
}

// A Failure is what went wrong, classified: Code is <PHASE>_TIMEOUT,
// <PHASE>_<VM>_ENDED, <PHASE>_BUDGET, FAIL_ON, TRIGGER_FAILED,
// TRIGGER_NOT_FIRED or SOAK_TIMEOUT; Phase the phase it happened in ("run"
// for a lab without phases, "end" after its last phase, "soak" during
// --soak).
type Failure struct {
	Code    string        `json:"code"`
	Phase   string        `json:"phase"`
	VM      string        `json:"vm,omitempty"`
	Trigger string        `json:"trigger,omitempty"` // TRIGGER_FAILED, TRIGGER_NOT_FIRED: the trigger's name
	Marker  string        `json:"missing_marker,omitempty"`
	Line    string        `json:"line,omitempty"` // the console line, for FAIL_ON and ENDED
	At      time.Duration `json:"-"`
	Message string        `json:"message"`
	Missing []Missing     `json:"missing,omitempty"`
	// Evidence counts the phase's evidence lines on each VM's console
	// up to the failure.
	Evidence map[string]map[string]int `json:"evidence,omitempty"`
	// Since is when the phase the failure happened in began: the wire
	// hint counts frames from Since to At.
	Since time.Duration `json:"-"`
	Hint  *Hint         `json:"hint,omitempty"`
	hard  bool
}

// Soak is what --soak saw.
type Soak struct {
	Duration time.Duration `json:"-"`
	Round    time.Duration `json:"-"`
	Rounds   int           `json:"rounds"` // rounds judged
	Passed   int           `json:"passed"`
	Failed   int           `json:"failed"`
}

// firstMissing is the first VM (in file order) that is being waited for
// (or, if none is, that owes anything), and that marker.
func (j *judge) firstMissing() (int, string) {
	if s := j.soakState; s != nil {
		for vi := range j.vms {
			if k := s.progress[vi].next(); k >= 0 {
				return vi, s.markers[vi][k].String()
			}
		}
	}
	for vi := range j.vms {
		if m := j.due(vi); m != "" {
			return vi, m
		}
	}
	for vi := range j.vms {
		if m := j.owed(vi); m != "" {
			return vi, m
		}
	}
	return -1, ""
}

// missing lists the marker each VM is being waited for.
func (j *judge) missing() []Missing {
	var out []Missing
	for vi, t := range j.vms {
		if m := j.due(vi); m != "" {
			out = append(out, Missing{VM: t.name, Marker: m})
		}
	}
	return out
}

// fail records a failure; a hard one (every kind but a budget overrun)
// ends the run. vm is the VM it concerns, or -1.
func (j *judge) fail(f Failure, vm int) {
	f.Phase = j.phaseName()
	f.Since = j.phaseStart()
	f.hard = !strings.HasSuffix(f.Code, "_BUDGET")
	if vm >= 0 {
		f.VM = j.lab.VMs[vm].Name
		if f.Marker == "" {
			f.Marker = j.owed(vm)
		}
	}
	if f.hard {
		f.Missing = j.missing()
		if m := (Missing{f.VM, f.Marker}); f.Marker != "" && !slices.Contains(f.Missing, m) {
			f.Missing = append([]Missing{m}, f.Missing...)
		}
	}
	if pi := j.cur; pi < len(j.phases) && pi <= j.until {
		f.Evidence = j.evidenceOf(pi)
	}
	if f.hard {
		f.Message += j.silent(f)
	}
	j.failures = append(j.failures, f)
	j.logf(f.At, "FAIL %s: %s", f.Code, f.Message)
	if f.hard {
		j.failed = true
		// A failure recorded once the run is done (a trigger the hub
		// refused after the last marker) leaves the phases as they ended.
		if !j.done && j.cur < len(j.phases) && j.cur <= j.until {
			p := &j.phases[j.cur]
			p.Status, p.End, p.Evidence = PhaseFailed, f.At, f.Evidence
		}
		j.finish(f.At)
	}
}

// silent explains the VMs the failure concerns (its own and those that
// still owed a marker) that printed nothing at all on their consoles: the
// likeliest cause is a command that does not send the serial console to
// stdout. A VM that could not start is not one (its exit says why). One
// that owed a marker when another's failure ended the run is blamed only
// when its silence says something: a bound the lab set for its markers
// passed (a timeout), the run was silentLong old, or its QEMU command has
// no serial console on stdout (the load warned) and the run was
// silentAfter old. Before that a correctly set up guest may well have
// printed nothing yet (a kernel booted with quiet prints its first line
// seconds in). It is "" when none is to blame.
func (j *judge) silent(f Failure) string {
	var names []string
	for vi, t := range j.vms {
		if t.lines > 0 || strings.HasPrefix(t.exit, couldNotStart) {
			continue
		}
		if t.name != f.VM {
			owes := slices.ContainsFunc(f.Missing, func(m Missing) bool { return m.VM == t.name })
			long := strings.HasSuffix(f.Code, "_TIMEOUT") || f.At >= silentLong ||
				f.At >= silentAfter && noConsoleFlag(j.lab.VMs[vi])
			if !owes || !long {
				continue
			}
		}
		names = append(names, t.name)
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("; VM %s printed nothing on its console: does its command send the serial console to stdout (%s)?", names[0], serialFlags)
	}
	return fmt.Sprintf("; VMs %s printed nothing on their consoles: do their commands send the serial console to stdout (%s)?", andList(names), serialFlags)
}

// silentAfter is how long into the run a VM whose QEMU command has no
// serial console on stdout, and that printed nothing, is blamed for it
// when another's failure ended the run: a guest's first line takes QEMU's
// start and the firmware's at least.
const silentAfter = time.Second

// silentLong is how long into the run any VM that printed nothing is
// blamed for it when another's failure ended the run: far beyond a quiet
// kernel's first line, and a wrapper script's command line cannot be read
// for its serial flags.
const silentLong = 30 * time.Second

// couldNotStart begins the exit status of a VM whose QEMU did not start.
const couldNotStart = "could not start: "

// serialFlags are the QEMU flags that put the serial console on stdout.
const serialFlags = "-serial stdio, -serial mon:stdio, -nographic"

func (j *judge) evidenceOf(pi int) map[string]map[string]int {
	var out map[string]map[string]int
	for vi, ps := range j.defs[pi].Evidence {
		for ei, p := range ps {
			if out == nil {
				out = map[string]map[string]int{}
			}
			if out[j.lab.VMs[vi].Name] == nil {
				out[j.lab.VMs[vi].Name] = map[string]int{}
			}
			out[j.lab.VMs[vi].Name][p.String()] = j.evidence[pi][vi][ei]
		}
	}
	return out
}

// first is the failure that classifies the run: the earliest.
func (j *judge) first() *Failure {
	if len(j.failures) == 0 {
		return nil
	}
	i := 0
	for k, f := range j.failures {
		if f.At < j.failures[i].At {
			i = k
		}
	}
	return &j.failures[i]
}

// firstHard is the earliest hard failure, the one that ended the run, or
// nil: after a budget overrun (first, but soft) it is the later one whose
// missing markers and phase the results name.
func (j *judge) firstHard() *Failure {
	var h *Failure
	for k := range j.failures {
		if f := &j.failures[k]; f.hard && (h == nil || f.At < h.At) {
			h = f
		}
	}
	return h
}

// interrupt records that the run was stopped at at, by a signal or the
// hub's failure, before the judge was done: the phase in progress and the
// markers being waited for were reached, and were cut short, not failed.
func (j *judge) interrupt(at time.Duration) {
	if j.done {
		return
	}
	if j.cur < len(j.phases) && j.cur <= j.until && j.phases[j.cur].started {
		p := &j.phases[j.cur]
		p.Status, p.End = StatusInterrupted, at
		for k := range p.Markers {
			if p.Markers[k].Status == "" {
				p.Markers[k].Status = StatusInterrupted
			}
		}
	}
	if !j.expectsOptional() {
		for vi, t := range j.vms {
			if k := t.expect; k < len(j.expects[vi]) && j.expects[vi][k].Status == "" {
				j.expects[vi][k].Status = StatusInterrupted
			}
		}
	}
}

// results fills in the statuses of everything not seen, once the run is
// over: the failure's missing markers, those never reached, those after
// --until's phase.
func (j *judge) results() (expects []markerResult, phases []phaseResult, triggers []triggerResult) {
	missing := map[Missing]bool{}
	if f := j.firstHard(); f != nil {
		for _, m := range f.Missing {
			missing[m] = true
		}
	}
	mark := func(r *markerResult, skipped bool) {
		switch {
		case r.Status != "":
		case skipped:
			r.Status = StatusSkipped
		case missing[Missing{r.VM, r.Marker}]:
			r.Status = StatusMissing
			delete(missing, Missing{r.VM, r.Marker}) // only the first unseen one is the missing one
		default:
			r.Status = StatusNotReached
		}
	}
	// The failed phase's markers first: the missing marker is the phase's
	// when an expect has the same text.
	if j.cur < len(j.phases) {
		for k := range j.phases[j.cur].Markers {
			mark(&j.phases[j.cur].Markers[k], j.cur > j.until)
		}
	}
	for vi := range j.expects {
		for k := range j.expects[vi] {
			mark(&j.expects[vi][k], j.expectsOptional() && !j.failed)
		}
		expects = append(expects, j.expects[vi]...)
	}
	for pi := range j.phases {
		p := &j.phases[pi]
		for k := range p.Markers {
			mark(&p.Markers[k], pi > j.until)
		}
		switch {
		case p.Status != "":
		case pi > j.until:
			p.Status = StatusSkipped
		default:
			p.Status = StatusNotReached
		}
		phases = append(phases, *p)
	}
	notFired := map[string]bool{}
	for _, f := range j.failures {
		if f.Code == "TRIGGER_NOT_FIRED" {
			notFired[f.Trigger] = true
		}
	}
	triggers = slices.Clone(j.triggers)
	for i := range triggers {
		tr := &triggers[i]
		switch {
		case tr.Err != "":
			tr.Status = TriggerFailed
		case tr.Fired:
			tr.Status = TriggerFired
		case notFired[tr.Name]:
			tr.Status = TriggerNotFired
		case j.expectsOptional() && !j.failed:
			tr.Status = StatusSkipped
		default:
			tr.Status = StatusNotReached
		}
	}
	return expects, phases, triggers
}
