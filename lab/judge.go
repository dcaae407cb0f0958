package lab

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

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

func (j *judge) finish(at time.Duration) {
	if j.done {
		return
	}
	j.done, j.doneAt = true, at
}

// ok reports whether the run passed: done, and no failure of any kind.
func (j *judge) ok() bool { return j.done && len(j.failures) == 0 }
