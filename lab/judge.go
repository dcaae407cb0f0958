package lab

import (
	"fmt"
	"slices"
	"strconv"
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

// fire is a trigger's action for the runner to perform.
type fire struct {
	trigger int
	undo    bool
	at      time.Duration
	act     Action
}

// judge follows one run of a lab: console lines, VM exits and the passing
// of time go in, each with its time since the run's start and in time
// order; the trigger actions to perform come out. It never reads a clock
// and never blocks, so every timeout, budget and classification can be
// tested by feeding it lines and times.
type judge struct {
	lab     *Lab
	until   int           // the last phase to run
	soak    time.Duration // --soak
	timeout time.Duration // the lab's, plus the soak
	logf    func(at time.Duration, format string, args ...any)

	defs     []Phase // the lab's phases, Markers and Evidence one entry per VM
	vms      []vmTrack
	expects  [][]markerResult // per VM
	phases   []phaseResult
	progress [][]seen // per phase, per VM: which of its markers were seen
	evidence [][][]int
	cur      int // the current phase; len(phases) or until+1 once done
	triggers []triggerResult
	// undoAt is per trigger when its For ends: 0 while none is due, and
	// until the runner has made the change (acted), so that one late tick
	// never hands out a change and its undo together.
	undoAt []time.Duration
	// inForce is per partition trigger whether its partition is made and
	// not healed, as far as the judge has asked (a refusal undoes it).
	inForce []bool
	// moot is per heal trigger whether it came due while its partition
	// (a trigger's) was not in force, not made yet or healed already: it
	// does nothing (see fireTrigger).
	moot []bool

	failures []Failure
	failed   bool // a hard failure ended the run
	done     bool
	doneAt   time.Duration

	soakState *soakTrack
	soakRes   *Soak
}

type vmTrack struct {
	name     string
	lines    int
	tail     []Line
	exited   bool
	exitAt   time.Duration
	exit     string
	expect   int  // next expect
	prompted bool // the line in progress matched an expect marker as a prompt
	// promptSoak marks the markers of the last phase (the soak's) that the
	// line in progress matched as a prompt: the whole line does not count
	// for them again, in the soak's next round.
	promptSoak []bool
	// holdUntil is, while the line in progress was seen as a prompt,
	// promptHold after it (0 otherwise): the run does not end before, so
	// that fail_on sees the rest of that line if it comes.
	holdUntil time.Duration
}

// promptHold is how long a run whose last marker came in a prompt (or
// that a prompt's line is open in) waits for that line to end before it
// ends: a guest that prints "selftest ... " and then, after the test,
// "FAIL" on the same line must fail; a real prompt ("login: ") waits for
// input, and its line never ends by itself.
const promptHold = time.Second

type soakTrack struct {
	start, end time.Duration
	roundStart time.Duration
	roundEnd   time.Duration
	progress   []seen
	markers    [][]Pattern
}

func newJudge(l *Lab, until int, soak time.Duration, logf func(time.Duration, string, ...any)) *judge {
	if logf == nil {
		logf = func(time.Duration, string, ...any) {}
	}
	if until < 0 || until >= len(l.Phases) {
		until = len(l.Phases) - 1
	}
	j := &judge{lab: l, until: until, soak: soak, timeout: l.Timeout + soak, logf: logf}
	for _, vm := range l.VMs {
		j.vms = append(j.vms, vmTrack{name: vm.Name})
		var ex []markerResult
		for _, e := range vm.Expect {
			ex = append(ex, markerResult{VM: vm.Name, Marker: e.Marker.String(), Within: e.Within})
		}
		j.expects = append(j.expects, ex)
	}
	for _, ph := range l.Phases {
		ph.Markers = padded(ph.Markers, len(l.VMs))
		ph.Evidence = padded(ph.Evidence, len(l.VMs))
		j.defs = append(j.defs, ph)
		pr := phaseResult{Name: ph.Name, Within: ph.Within, Budget: ph.Budget}
		for vi, ms := range ph.Markers {
			for _, m := range ms {
				pr.Markers = append(pr.Markers, markerResult{VM: l.VMs[vi].Name, Marker: m.String()})
			}
		}
		j.phases = append(j.phases, pr)
		prog := make([]seen, len(l.VMs))
		for vi := range prog {
			prog[vi] = make(seen, len(ph.Markers[vi]))
		}
		j.progress = append(j.progress, prog)
		ev := make([][]int, len(l.VMs))
		for vi := range ph.Evidence {
			ev[vi] = make([]int, len(ph.Evidence[vi]))
		}
		j.evidence = append(j.evidence, ev)
	}
	for _, tr := range l.Triggers {
		j.triggers = append(j.triggers, triggerResult{Name: tr.Name, Trigger: tr.Text})
	}
	j.undoAt = make([]time.Duration, len(l.Triggers))
	j.inForce = make([]bool, len(l.Triggers))
	j.moot = make([]bool, len(l.Triggers))
	if len(j.phases) > 0 {
		j.phases[0].started = true
	}
	return j
}

// padded returns ps with one entry per VM.
func padded(ps [][]Pattern, n int) [][]Pattern {
	out := make([][]Pattern, n)
	copy(out, ps)
	return out
}

// phaseName is the phase a failure at this point belongs to.
func (j *judge) phaseName() string {
	switch {
	case j.soakState != nil:
		return "soak"
	case len(j.phases) == 0:
		return "run"
	case j.cur > j.until:
		return "end"
	}
	return j.phases[j.cur].Name
}

// phaseStart is when the current phase began (0 for the run).
func (j *judge) phaseStart() time.Duration {
	switch {
	case j.soakState != nil:
		return j.soakState.roundStart
	case len(j.phases) == 0:
		return 0
	case j.cur > j.until:
		return j.phases[j.until].End
	}
	return j.phases[j.cur].Start
}

// line takes one console line of VM vm, seen at at.
func (j *judge) line(vm int, at time.Duration, text string) []fire {
	fires := j.expire(at, false)
	if j.done {
		return fires
	}
	t := &j.vms[vm]
	t.lines++
	t.tail = append(t.tail, Line{N: t.lines, At: at, Text: text})
	if len(t.tail) > tailLines {
		t.tail = t.tail[len(t.tail)-tailLines:]
	}
	// Patterns see the line as a terminal shows it (consoleText); what
	// they matched is recorded so.
	text = consoleText(text)
	l := Line{N: t.lines, At: at, Text: text}
	// Evidence counts every line, as a grep of the whole log would: the
	// fail_on line that ends the run too.
	for pi, ph := range j.defs {
		if pi > j.until {
			break
		}
		for ei, p := range ph.Evidence[vm] {
			if p.Match(text) {
				j.evidence[pi][vm][ei]++
			}
		}
	}
	t.holdUntil = 0
	if j.failOn(vm, at, text) {
		return fires
	}
	fires = append(fires, j.match(vm, l, false)...)
	t.prompted, t.promptSoak = false, nil
	j.settle(at)
	return fires
}

// failOn fails the run if text, printed by VM vm at at, holds one of its
// fail_on patterns, and reports whether it did.
func (j *judge) failOn(vm int, at time.Duration, text string) bool {
	cfg := j.lab.VMs[vm]
	for _, p := range cfg.FailOn {
		if p.Match(text) {
			j.fail(Failure{Code: "FAIL_ON", VM: cfg.Name, Line: text, At: at,
				Message: fmt.Sprintf("VM %s printed %q (fail_on %q)", cfg.Name, text, p.String())}, vm)
			return true
		}
	}
	return false
}

// prompt takes the start of VM vm's next console line, printed at at:
// text without a newline, after which the console stayed quiet (a prompt:
// "login: ", "=> "). fail_on, markers and triggers are matched against
// it, once; the line itself counts (its number, evidence) when it ends,
// and is matched again then, but the expect marker the prompt matched was
// that line's: the whole line does not match the next one too. The run
// does not end for promptHold after it while its line is open: see
// promptHold.
func (j *judge) prompt(vm int, at time.Duration, text string) []fire {
	fires := j.expire(at, false)
	if j.done {
		return fires
	}
	text = consoleText(text)
	if j.failOn(vm, at, text) {
		return fires
	}
	j.vms[vm].holdUntil = at + promptHold
	fires = append(fires, j.match(vm, Line{N: j.vms[vm].lines + 1, At: at, Text: text}, true)...)
	j.settle(at)
	return fires
}

// match marks the markers l (of VM vm; a prompt, or a whole line) holds:
// its next expect marker, every phase's next marker on the VM and the
// soak's; and fires the triggers on its markers.
func (j *judge) match(vm int, l Line, prompt bool) []fire {
	t := &j.vms[vm]
	cfg := j.lab.VMs[vm]
	text, at := l.Text, l.At
	if k := t.expect; k < len(cfg.Expect) && !t.prompted && cfg.Expect[k].Marker.Match(text) {
		r := &j.expects[vm][k]
		r.Status, r.At, r.Line, r.Text = StatusOK, at, l.N, text
		t.expect++
		t.prompted = prompt
		j.logf(at, "%s: %s  (expect %d/%d)", cfg.Name, clean(text), k+1, len(cfg.Expect))
	}
	// Every phase's next marker on this VM: a marker printed before its
	// phase begins counts, as a grep of the whole log would.
	for pi, ph := range j.defs {
		if pi > j.until {
			break
		}
		for _, k := range j.progress[pi][vm].match(ph.Markers[vm], text) {
			r := j.phaseMarker(pi, vm, k)
			r.Status, r.At, r.Line, r.Text = StatusOK, at, l.N, text
			j.logf(at, "%s: %s  (phase %s)", cfg.Name, clean(text), ph.Name)
			if prompt && pi == j.until && j.soak > 0 {
				j.markPromptSoak(vm, k)
			}
		}
	}
	var fires []fire
	for ti, tr := range j.lab.Triggers {
		if tr.OnVM == vm && j.pending(ti) && tr.On.Match(text) {
			j.triggers[ti].Line = text
			fires = append(fires, j.fireTrigger(ti, at)...)
		}
	}
	if s := j.soakState; s != nil {
		got := false
		for k, p := range s.markers[vm] {
			if s.progress[vm][k] || (k < len(t.promptSoak) && t.promptSoak[k]) || !p.Match(text) {
				continue
			}
			s.progress[vm][k], got = true, true
			if prompt {
				j.markPromptSoak(vm, k)
			}
		}
		if got {
			j.soakAdvance(at)
		}
	}
	return fires
}

// markPromptSoak records that VM vm's line in progress matched the last
// phase's (the soak's) k-th marker as a prompt.
func (j *judge) markPromptSoak(vm, k int) {
	t := &j.vms[vm]
	if t.promptSoak == nil {
		t.promptSoak = make([]bool, len(j.defs[j.until].Markers[vm]))
	}
	t.promptSoak[k] = true
}

// seen says which markers of a set (a phase's on one VM) were seen: a
// phase's markers may come in any order, as a grep of the log finds them.
type seen []bool

// match marks the unseen markers of ps that text holds, and returns them.
func (s seen) match(ps []Pattern, text string) []int {
	var got []int
	for k, p := range ps {
		if !s[k] && p.Match(text) {
			s[k] = true
			got = append(got, k)
		}
	}
	return got
}

// next is the first marker not seen yet, or -1.
func (s seen) next() int { return slices.Index(s, false) }

// phaseMarker returns the result entry of phase pi's k-th marker on vm.
func (j *judge) phaseMarker(pi, vm, k int) *markerResult {
	i := 0
	for vi := range vm {
		i += len(j.defs[pi].Markers[vi])
	}
	return &j.phases[pi].Markers[i+k]
}

// exit takes the end of VM vm's QEMU, at the time it ended, once its
// console is read (to its end, or for exitDrain after it).
func (j *judge) exit(vm int, at time.Duration, status string) []fire {
	fires := j.expire(at, false)
	t := &j.vms[vm]
	t.exited, t.exitAt, t.exit = true, at, status
	t.holdUntil = 0
	if j.done {
		return fires
	}
	name := j.lab.VMs[vm].Name
	j.logf(at, "%s: QEMU ended (%s)", name, status)
	last := ""
	if len(t.tail) > 0 {
		last = t.tail[len(t.tail)-1].Text
	}
	code := Code(j.phaseName()) + "_" + Code(name) + "_ENDED"
	switch {
	case j.owed(vm) != "" || j.soakState != nil:
		j.fail(Failure{Code: code, VM: name, Line: last, At: at,
			Message: fmt.Sprintf("VM %s %s before %s", name, endedText(status), orText(j.owed(vm), "the soak's end"))}, vm)
	case !slices.ContainsFunc(exitOKs(j.lab.VMs[vm]), func(c int) bool { return status == fmt.Sprintf("exit status %d", c) }):
		// A VM that owes no marker (a router, a traffic source, one
		// whose markers are in) is part of the experiment all the same:
		// one that could not start, or that crashed, leaves a run that
		// did not test what it claims.
		owes := "it owes no marker"
		if j.hadMarkers(vm) {
			owes = "it printed every marker it owed"
		}
		clean := "exit status 0"
		if ok := exitOKs(j.lab.VMs[vm]); !slices.Equal(ok, []int{0}) {
			codes := make([]string, len(ok))
			for i, c := range ok {
				codes[i] = strconv.Itoa(c)
			}
			clean = "an exit status of its exit_ok (" + strings.Join(codes, ", ") + ")"
		}
		j.fail(Failure{Code: code, VM: name, Line: last, At: at,
			Message: fmt.Sprintf("VM %s %s: %s, but a VM's QEMU must run until the run is done or end with %s", name, endedText(status), owes, clean)}, vm)
	}
	j.settle(at)
	return fires
}

// exitOK is the exit status of a QEMU that ended cleanly.
const exitOK = "exit status 0"

// exitOKs are the exit statuses that end vm's QEMU cleanly.
func exitOKs(vm VM) []int {
	if vm.ExitOK == nil {
		return []int{0}
	}
	return vm.ExitOK
}

// hadMarkers reports whether VM vm was to print any marker (expect, or a
// phase's up to --until's).
func (j *judge) hadMarkers(vm int) bool {
	if len(j.lab.VMs[vm].Expect) > 0 {
		return true
	}
	for pi := range j.defs {
		if pi <= j.until && len(j.defs[pi].Markers[vm]) > 0 {
			return true
		}
	}
	return false
}

// endedText says how a VM's QEMU ended, for a message: "ended (exit
// status 1)", "could not start: ...".
func endedText(status string) string {
	if strings.HasPrefix(status, couldNotStart) {
		return status
	}
	return "ended (" + status + ")"
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return fmt.Sprintf("%q", s)
}

// due is the marker VM vm is being waited for now: its next one in the
// current phase or, with no phase current, its next expect; "" if none.
func (j *judge) due(vm int) string {
	if j.cur <= j.until && j.cur < len(j.phases) {
		if k := j.progress[j.cur][vm].next(); k >= 0 {
			return j.defs[j.cur].Markers[vm][k].String()
		}
		return ""
	}
	if !j.expectsOptional() {
		if k := j.vms[vm].expect; k < len(j.lab.VMs[vm].Expect) {
			return j.lab.VMs[vm].Expect[k].Marker.String()
		}
	}
	return ""
}

// owed is the next marker VM vm still has to print: what is due now,
// then its next expect, then in a later phase; "" if none.
func (j *judge) owed(vm int) string {
	if m := j.due(vm); m != "" {
		return m
	}
	if !j.expectsOptional() {
		if k := j.vms[vm].expect; k < len(j.lab.VMs[vm].Expect) {
			return j.lab.VMs[vm].Expect[k].Marker.String()
		}
	}
	for pi := j.cur + 1; pi <= j.until && pi < len(j.phases); pi++ {
		if k := j.progress[pi][vm].next(); k >= 0 {
			return j.defs[pi].Markers[vm][k].String()
		}
	}
	return ""
}

// expectsOptional: with --until before the last phase, expect markers
// still unseen once that phase is done are not required.
func (j *judge) expectsOptional() bool {
	return j.until < len(j.phases)-1 && j.cur > j.until
}

// fireTrigger records trigger ti as fired at at and returns its action.
// Its undo (for:) is not due before the runner has made the change: see
// acted. A heal of a trigger's partition acts only on that partition in
// force: one due before it is made, or once it is healed, does nothing
// and is not reached. So the hub is never asked to heal a partition it
// does not have, and a heal that came early never cuts the partition,
// made later, to nothing: it lasts its for:, or without one to the run's
// end (filephases.go refuses the at: heal that would leave that to the guests'
// speed).
func (j *judge) fireTrigger(ti int, at time.Duration) []fire {
	tr := j.lab.Triggers[ti]
	if tr.Do.Kind == ActHeal {
		if pt := j.partitionTrigger(tr.Do.Target); pt >= 0 && !j.inForce[pt] {
			j.moot[ti] = true
			due := at.Round(time.Millisecond)
			switch p := j.lab.Triggers[pt]; {
			case j.triggers[pt].Fired:
				j.triggers[ti].Note = fmt.Sprintf("due at %s, when partition %s was healed already", due, tr.Do.Target)
			case p.For > 0:
				j.triggers[ti].Note = fmt.Sprintf("due at %s, before partition %s was made; it is bounded by its for: (%s)", due, tr.Do.Target, p.For)
			default:
				j.triggers[ti].Note = fmt.Sprintf("due at %s, before partition %s was made; made later, it is not healed", due, tr.Do.Target)
			}
			j.logf(at, "%s (%s) not reached: %s", tr.Name, tr.Text, j.triggers[ti].Note)
			return nil
		}
	}
	j.triggers[ti].Fired, j.triggers[ti].FiredAt = true, at
	j.logf(at, "%s: %s", tr.Name, tr.Text)
	switch tr.Do.Kind {
	case ActPartition:
		j.inForce[ti] = true
	case ActHeal:
		if pt := j.partitionTrigger(tr.Do.Target); pt >= 0 {
			j.inForce[pt] = false
		}
	}
	return []fire{{trigger: ti, at: at, act: tr.Do}}
}

// pending reports whether trigger ti is still to fire.
func (j *judge) pending(ti int) bool {
	return !j.triggers[ti].Fired && !j.moot[ti]
}

// partitionTrigger is the index of the trigger that makes partition name,
// or -1: a partition of the policy's (filephases.go refuses a partition trigger
// named like one), which is the hub's to know.
func (j *judge) partitionTrigger(name string) int {
	return slices.IndexFunc(j.lab.Triggers, func(tr Trigger) bool { return tr.Do.Kind == ActPartition && tr.Name == name })
}

// lateNote is how late the runner may make a trigger's change before the
// run says when it did.
const lateNote = 100 * time.Millisecond

// acted records the outcome of a fire the runner performed: it asked the
// hub at began, and the hub had made the change by done. The trigger's
// times are began's; its for: counts from done, not from the marker or
// the at: that fired it, so that a runner late on a loaded machine (or a
// tick the loop held) still keeps a partition for its whole for:. A
// change that failed is not undone, and the trigger keeps its error.
func (j *judge) acted(f fire, err error, began, done time.Duration) {
	tr := &j.triggers[f.trigger]
	if err == nil {
		began = max(f.at, began)
		switch {
		case f.undo:
			tr.Undone, tr.UndoneAt = true, began
		default:
			tr.FiredAt = began
			if d := j.lab.Triggers[f.trigger].For; d > 0 {
				j.undoAt[f.trigger] = max(began, done) + d
			}
		}
		if began-f.at >= lateNote {
			j.logf(began, "%s: %s made %s late", tr.Name, f.act, (began - f.at).Round(time.Millisecond))
		}
		return
	}
	if f.act.Kind == ActPartition && !f.undo {
		j.inForce[f.trigger] = false
	}
	what := f.act.String()
	if tr.Err == "" {
		tr.Err = fmt.Sprintf("%s: %v", what, err)
	}
	// Also once the run is done (the last marker fired it, and the hub
	// refused or timed out): the verdict, the summary and junit.xml,
	// whose case for the trigger fails, must agree.
	j.fail(Failure{Code: "TRIGGER_FAILED", Trigger: tr.Name, At: f.at,
		Message: fmt.Sprintf("%s (%s) could not %s: %v", tr.Name, tr.Trigger, what, err)}, -1)
}

// deadline is the earliest time something is due, and whether there is
// one: the runner wakes the judge then (tick).
func (j *judge) deadline() (time.Duration, bool) {
	var best time.Duration
	ok := false
	consider := func(d time.Duration) {
		if !ok || d < best {
			best, ok = d, true
		}
	}
	if j.done {
		return 0, false
	}
	consider(j.timeout)
	for vi, vm := range j.lab.VMs {
		if k := j.vms[vi].expect; k < len(vm.Expect) && !j.expectsOptional() {
			consider(vm.Expect[k].Within)
		}
	}
	if j.cur <= j.until && j.cur < len(j.phases) {
		consider(j.phases[j.cur].Start + j.defs[j.cur].Within)
	}
	for ti, tr := range j.lab.Triggers {
		if tr.OnVM < 0 && j.pending(ti) {
			consider(tr.At)
		}
		if j.undoAt[ti] > 0 {
			consider(j.undoAt[ti])
		}
	}
	if s := j.soakState; s != nil {
		consider(min(s.roundEnd, s.end))
	}
	for _, t := range j.vms {
		if t.holdUntil > 0 {
			consider(t.holdUntil)
		}
	}
	return best, true
}

// tick tells the judge the time is now: whatever is due by then happens.
func (j *judge) tick(now time.Duration) []fire { return j.expire(now, true) }

// expire applies everything due before now (at now too, when inclusive),
// in time order.
func (j *judge) expire(now time.Duration, inclusive bool) []fire {
	var fires []fire
	for !j.done {
		d, ok := j.deadline()
		if !ok || d > now || (d == now && !inclusive) {
			return fires
		}
		f, handled := j.expireAt(d)
		fires = append(fires, f...)
		if !handled { // cannot happen: every deadline has its case below
			j.finish(d)
		}
	}
	return fires
}

// expireAt applies what is due at d (one deadline's worth; expire loops).
func (j *judge) expireAt(d time.Duration) ([]fire, bool) {
	for ti, tr := range j.lab.Triggers {
		if tr.OnVM < 0 && j.pending(ti) && tr.At == d {
			return j.fireTrigger(ti, d), true
		}
		if j.undoAt[ti] == d && j.undoAt[ti] > 0 {
			j.undoAt[ti] = 0
			if tr.Do.Kind == ActPartition && !j.inForce[ti] {
				j.logf(d, "%s: no heal after %s: a heal made it already", tr.Name, tr.For)
				return nil, true
			}
			j.inForce[ti] = false
			undo := tr.Do.undo(tr.Name)
			j.logf(d, "%s: %s (after %s)", tr.Name, undo, tr.For)
			return []fire{{trigger: ti, undo: true, at: d, act: undo}}, true
		}
	}
	if s := j.soakState; s != nil && (d == s.roundEnd || d == s.end) {
		j.soakRound(d)
		return nil, true
	}
	for vi := range j.vms {
		if t := &j.vms[vi]; t.holdUntil == d {
			t.holdUntil = 0
			j.settle(d)
			return nil, true
		}
	}
	if d == j.timeout {
		vm, marker := j.firstMissing()
		j.fail(Failure{Code: Code(j.phaseName()) + "_TIMEOUT", At: d, Marker: marker,
			Message: fmt.Sprintf("the run's timeout (%s) passed waiting for %s", j.timeout, orText(marker, "the end"))}, vm)
		return nil, true
	}
	if j.cur <= j.until && j.cur < len(j.phases) {
		ph := j.defs[j.cur]
		if j.phases[j.cur].Start+ph.Within == d {
			vm, marker := j.firstMissing()
			j.fail(Failure{Code: Code(ph.Name) + "_TIMEOUT", At: d, Marker: marker,
				Message: fmt.Sprintf("phase %s not done within %s: no %q", ph.Name, ph.Within, marker)}, vm)
			return nil, true
		}
	}
	for vi, vm := range j.lab.VMs {
		if k := j.vms[vi].expect; k < len(vm.Expect) && vm.Expect[k].Within == d {
			marker := vm.Expect[k].Marker.String()
			j.fail(Failure{Code: Code(j.phaseName()) + "_TIMEOUT", At: d, Marker: marker,
				Message: fmt.Sprintf("VM %s printed no %q within %s of the run's start", vm.Name, marker, vm.Expect[k].Within)}, vi)
			return nil, true
		}
	}
	return nil, false
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

// settle ends every phase whose markers are all in (phases can end at
// once, when their markers came early), and ends the run once nothing is
// left to wait for.
func (j *judge) settle(now time.Duration) {
	for !j.done && j.cur <= j.until && j.cur < len(j.phases) {
		ph := j.defs[j.cur]
		end := j.phases[j.cur].Start
		for vi := range j.vms {
			if j.progress[j.cur][vi].next() >= 0 {
				return
			}
			for k := range ph.Markers[vi] {
				end = max(end, j.phaseMarker(j.cur, vi, k).At)
			}
		}
		p := &j.phases[j.cur]
		p.End, p.ended, p.Status = end, true, PhaseOK
		p.Evidence = j.evidenceOf(j.cur)
		budget := ""
		if ph.Budget > 0 {
			budget = fmt.Sprintf(", budget %s", ph.Budget)
		}
		j.logf(end, "phase %s ok in %s%s", ph.Name, p.Duration().Round(time.Millisecond), budget)
		if ph.Budget > 0 && p.Duration() > ph.Budget {
			p.Status = PhaseOverBudget
			j.fail(Failure{Code: Code(ph.Name) + "_BUDGET", At: end,
				Message: fmt.Sprintf("phase %s took %s, over its budget of %s", ph.Name, p.Duration().Round(time.Millisecond), ph.Budget)}, -1)
		}
		j.cur++
		if j.cur <= j.until && j.cur < len(j.phases) {
			j.phases[j.cur].Start, j.phases[j.cur].started = end, true
		}
	}
	if j.done || j.soakState != nil {
		return
	}
	if len(j.phases) > 0 && j.cur <= j.until {
		return
	}
	if !j.expectsOptional() {
		for vi, vm := range j.lab.VMs {
			if j.vms[vi].expect < len(vm.Expect) {
				return
			}
		}
	}
	if j.soak > 0 && len(j.phases) > 0 {
		j.startSoak(now)
		return
	}
	for _, t := range j.vms {
		if t.holdUntil > now {
			return // a prompt's line is open: see promptHold
		}
	}
	j.complete(now)
}

// complete ends a run that has all it waited for (every marker and phase
// in, or the soak over). An on: trigger that makes a fault (a partition, a
// link down) and has not fired fails it (TRIGGER_NOT_FIRED): its marker
// never came, so the fault the lab declares was never made and the run did
// not test what it claims. The others that have not fired are not reached,
// and do not fail it: an at: trigger due later (the run does not wait for
// it, and whether the VMs are done before a time is their speed's doing:
// the verdict must not depend on it), or a heal or link up (undoing a
// fault, as a for: does, is not required). With --until before the last
// phase the run stops early on purpose, and the triggers it did not reach
// are skipped.
func (j *judge) complete(now time.Duration) {
	if j.expectsOptional() {
		j.finish(now)
		return
	}
	for ti, tr := range j.lab.Triggers {
		if j.triggers[ti].Fired || j.moot[ti] {
			continue
		}
		r := &j.triggers[ti]
		switch {
		case tr.OnVM < 0:
			r.Note = fmt.Sprintf("due at %s, after the run was done at %s", tr.At, now.Round(time.Millisecond))
			advice := ""
			if tr.Do.fault() {
				advice = "; to make a fault while the VMs work, whatever their speed, fire it on: a marker"
			}
			j.logf(now, "%s (%s) not reached: the run was done before its time%s", tr.Name, tr.Text, advice)
		case !tr.Do.fault():
			r.Note = fmt.Sprintf("VM %s printed no %q; it undoes a fault, which the run does not require", j.lab.VMs[tr.OnVM].Name, tr.On.String())
			j.logf(now, "%s (%s) not reached: its marker never came", tr.Name, tr.Text)
		default:
			f := Failure{Code: "TRIGGER_NOT_FIRED", Trigger: tr.Name, At: now, Marker: tr.On.String(),
				Message: fmt.Sprintf("%s (%s) never fired: VM %s printed no %q before the run was done, at %s; a fault declared and never made means the run did not test what it claims",
					tr.Name, tr.Text, j.lab.VMs[tr.OnVM].Name, tr.On.String(), now.Round(time.Millisecond))}
			j.fail(f, tr.OnVM)
			// The marker may be missing for anything the run saw: the
			// wire hint counts the whole run, not the empty window
			// from the last phase's end.
			j.failures[len(j.failures)-1].Since = 0
		}
	}
	j.finish(now)
}

func (j *judge) startSoak(now time.Duration) {
	last := j.defs[j.until]
	round := min(last.Within, j.soak)
	j.soakState = &soakTrack{start: now, end: now + j.soak, markers: last.Markers}
	j.soakRes = &Soak{Duration: j.soak, Round: round}
	j.logf(now, "soak: %s, the markers of phase %s again every %s", j.soak, last.Name, round)
	j.newRound(now)
}

func (j *judge) newRound(now time.Duration) {
	s := j.soakState
	s.roundStart = now
	s.roundEnd = min(now+j.soakRes.Round, s.end)
	s.progress = make([]seen, len(j.vms))
	for vi := range s.progress {
		s.progress[vi] = make(seen, len(s.markers[vi]))
	}
}

// soakRound judges the round that ends at d (its bound, or the soak's
// end) and starts the next.
func (j *judge) soakRound(d time.Duration) {
	s := j.soakState
	complete := true
	for vi := range j.vms {
		if s.progress[vi].next() >= 0 {
			complete = false
		}
	}
	whole := d-s.roundStart >= j.soakRes.Round // a round the soak's end cut short is not judged
	if complete || whole {
		j.soakRes.Rounds++
		if complete {
			j.soakRes.Passed++
		} else {
			j.soakRes.Failed++
			vm, marker := j.firstMissing()
			if j.soakRes.Failed == 1 {
				f := Failure{Code: "SOAK_TIMEOUT", At: d, Marker: marker,
					Message: fmt.Sprintf("soak round %d: no %q within %s", j.soakRes.Rounds, marker, j.soakRes.Round)}
				f.Phase, f.Since = "soak", s.roundStart
				f.VM = j.lab.VMs[vm].Name
				j.failures = append(j.failures, f)
			}
			j.logf(d, "soak round %d: missing %q on %s", j.soakRes.Rounds, marker, j.lab.VMs[vm].Name)
		}
	}
	if d >= s.end {
		j.logf(d, "soak: %d rounds, %d failed", j.soakRes.Rounds, j.soakRes.Failed)
		j.complete(d)
		return
	}
	j.newRound(d)
}

// soakAdvance is checked after each soak marker: a round whose markers are all
// in ends early and the next begins.
func (j *judge) soakAdvance(now time.Duration) {
	s := j.soakState
	if s == nil || j.done {
		return
	}
	for vi := range j.vms {
		if s.progress[vi].next() >= 0 {
			return
		}
	}
	j.soakRes.Rounds++
	j.soakRes.Passed++
	j.newRound(now)
}

func (j *judge) finish(at time.Duration) {
	if j.done {
		return
	}
	j.done, j.doneAt = true, at
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

// ok reports whether the run passed: done, and no failure of any kind.
func (j *judge) ok() bool { return j.done && len(j.failures) == 0 }
