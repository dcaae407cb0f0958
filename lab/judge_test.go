package lab

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"l2hub/hub"
)

const sec = time.Second

// pairLab is the judge's test lab: two VMs, two phases (the first with a
// budget, the second with two markers on a and evidence), an expect and a
// fail_on on a, a marker trigger and a timed one.
const pairLab = `
name: judge
timeout: 100s
vms:
  - name: a
    mac: 52:54:00:00:00:0a
    qemu: q
    expect: [{marker: up, within: 8s}, {marker: done, within: 90s}]
    fail_on: ["Kernel panic", "/FAIL [a-z]+/"]
  - {name: b, mac: "52:54:00:00:00:0b", qemu: q}
phases:
  - {name: boot, markers: {a: up, b: up}, within: 10s, budget: 5s}
  - name: session
    markers: {a: [dial, session ok], b: session ok}
    within: 20s
    evidence: {a: ["dial status would_block"], b: [accept]}
triggers:
  - {on: "a: dial", do: "partition a|b", for: 3s}
  - {at: 50s, do: "link b down", for: 1s}
`

// A healthy run: everything in order, phases back to back, triggers fired
// when their marker and their time come, and undone after their for:.
func TestJudgePass(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, fires := play(t, l, -1, 0,
		say(2*sec, 0, "[  1.0] up"),
		say(3*sec, 1, "up"),
		say(4*sec, 0, "dial"),
		say(5*sec, 0, "dial status would_block"),
		say(6*sec, 0, "dial status would_block"),
		say(9*sec, 0, "session ok"),
		say(12*sec, 1, "session ok"),
		tickAt(60*sec),
		say(61*sec, 0, "done"),
	)
	if !j.done || !j.ok() {
		t.Fatalf("got done=%v ok=%v failures %+v, want a passed run", j.done, j.ok(), j.failures)
	}
	if j.doneAt != 61*sec {
		t.Errorf("got the run done at %v, want 61s (a's last expect)", j.doneAt)
	}
	_, phases, trig := j.results()
	wantPhases := []struct {
		status     string
		start, end time.Duration
	}{{PhaseOK, 0, 3 * sec}, {PhaseOK, 3 * sec, 12 * sec}}
	for i, w := range wantPhases {
		if p := phases[i]; p.Status != w.status || p.Start != w.start || p.End != w.end {
			t.Errorf("got phase %s %s %v..%v, want %s %v..%v", p.Name, p.Status, p.Start, p.End, w.status, w.start, w.end)
		}
	}
	if ev := phases[1].Evidence; ev["a"]["dial status would_block"] != 2 || ev["b"]["accept"] != 0 {
		t.Errorf("got evidence %v, want a's would_block x2, b's accept x0", ev)
	}
	wantFires := []fire{
		{trigger: 0, at: 4 * sec, act: Action{Kind: ActPartition, Groups: [][]string{{"a"}, {"b"}}}},
		{trigger: 0, at: 7 * sec, undo: true, act: Action{Kind: ActHeal, Target: "trigger-1"}},
		{trigger: 1, at: 50 * sec, act: Action{Kind: ActLink, Target: "b"}},
		{trigger: 1, at: 51 * sec, undo: true, act: Action{Kind: ActLink, Target: "b", Up: true}},
	}
	if fmt.Sprint(fires) != fmt.Sprint(wantFires) {
		t.Errorf("got fires %v, want %v", fires, wantFires)
	}
	if !trig[0].Fired || trig[0].FiredAt != 4*sec || trig[0].Line != "dial" || !trig[0].Undone || trig[0].UndoneAt != 7*sec {
		t.Errorf("got trigger-1 %+v, want fired at 4s on \"dial\", undone at 7s", trig[0])
	}
}

// Every way a run fails, classified: code, phase, VM, missing marker and
// when. Bounds are exact: a marker at its bound is in time, the clock
// passing the bound is not.
func TestJudgeClassifies(t *testing.T) {
	tests := []struct {
		name  string
		lab   string // replaces pairLab
		until int
		steps []step
		want  Failure // Code, Phase, VM, Marker, At, Line
		more  int     // failures besides the first
	}{
		{name: "expect-timeout", steps: []step{say(1*sec, 1, "up"), tickAt(30 * sec)},
			want: Failure{Code: "BOOT_TIMEOUT", Phase: "boot", VM: "a", Marker: "up", At: 8 * sec}},
		{name: "expect-at-its-bound-is-in-time", steps: []step{say(8*sec, 0, "up"), tickAt(30 * sec)},
			want: Failure{Code: "BOOT_TIMEOUT", Phase: "boot", VM: "b", Marker: "up", At: 10 * sec}},
		{name: "phase-timeout-counts-from-the-phase-start",
			steps: []step{say(1*sec, 0, "up"), say(4*sec, 1, "up"), say(5*sec, 0, "dial"), tickAt(40 * sec)},
			want:  Failure{Code: "SESSION_TIMEOUT", Phase: "session", VM: "a", Marker: "session ok", At: 24 * sec}},
		{name: "vm-ended", steps: []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 1, "bye"), ends(3*sec, 1)},
			want: Failure{Code: "SESSION_B_ENDED", Phase: "session", VM: "b", Marker: "session ok", At: 3 * sec, Line: "bye"}},
		{name: "vm-ended-owing-an-expect-after-the-phases",
			steps: []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "dial"), say(4*sec, 0, "session ok"),
				say(5*sec, 1, "session ok"), ends(6*sec, 0)},
			want: Failure{Code: "END_A_ENDED", Phase: "end", VM: "a", Marker: "done", At: 6 * sec, Line: "session ok"}},
		{name: "fail-on", steps: []step{say(1*sec, 0, "up"), say(2*sec, 0, "nexus FAIL session")},
			want: Failure{Code: "FAIL_ON", Phase: "boot", VM: "a", Marker: "done", At: 2 * sec, Line: "nexus FAIL session"}},
		{name: "fail-on-names-what-was-missing", steps: []step{say(1*sec, 0, "Kernel panic - not syncing")},
			want: Failure{Code: "FAIL_ON", Phase: "boot", VM: "a", Marker: "up", At: 1 * sec, Line: "Kernel panic - not syncing"}},
		{name: "budget-overrun-is-recorded-and-the-run-goes-on",
			steps: []step{say(1*sec, 0, "up"), say(6*sec, 1, "up"), say(7*sec, 0, "dial"), say(8*sec, 0, "session ok"),
				say(9*sec, 1, "session ok"), tickAt(60 * sec), say(61*sec, 0, "done")},
			want: Failure{Code: "BOOT_BUDGET", Phase: "boot", At: 6 * sec}},
		{name: "budget-then-timeout: the budget is first",
			steps: []step{say(1*sec, 0, "up"), say(6*sec, 1, "up"), tickAt(99 * sec)},
			want:  Failure{Code: "BOOT_BUDGET", Phase: "boot", At: 6 * sec}, more: 1},
		{name: "run-timeout", lab: `
name: t
timeout: 30s
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up, within: 60s}]}]
`, steps: []step{tickAt(45 * sec)},
			want: Failure{Code: "RUN_TIMEOUT", Phase: "run", VM: "a", Marker: "up", At: 30 * sec}},
		{name: "until-stops-after-the-phase", until: 0, steps: []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), tickAt(99 * sec)}},
		{name: "until-phase-still-fails", until: 0, steps: []step{say(1*sec, 0, "up"), tickAt(99 * sec)},
			want: Failure{Code: "BOOT_TIMEOUT", Phase: "boot", VM: "b", Marker: "up", At: 10 * sec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := pairLab
			if tt.lab != "" {
				text = tt.lab
			}
			l := mustParse(t, t.TempDir(), text)
			until := tt.until
			if until == 0 && tt.name[:5] != "until" {
				until = -1
			}
			j, _ := play(t, l, until, 0, tt.steps...)
			if !j.done {
				t.Fatalf("got a run still going after its last step, want it over")
			}
			f := j.first()
			if tt.want.Code == "" {
				if f != nil {
					t.Fatalf("got failure %+v, want none", *f)
				}
				return
			}
			if f == nil {
				t.Fatalf("got no failure, want %s", tt.want.Code)
			}
			got := Failure{Code: f.Code, Phase: f.Phase, VM: f.VM, Marker: f.Marker, At: f.At, Line: f.Line}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got classification\n  %+v\nwant\n  %+v\n(%s)", got, tt.want, f.Message)
			}
			if len(j.failures) != 1+tt.more {
				t.Errorf("got %d failures %+v, want %d", len(j.failures), j.failures, 1+tt.more)
			}
			if j.ok() {
				t.Error("got ok() = true for a failed run")
			}
		})
	}
}

// The statuses of what was never seen: the failure's missing markers,
// the markers of phases the run never reached, and --until's skipped ones.
func TestJudgeResults(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "dial"), tickAt(99*sec))
	expects, phases, _ := j.results()
	status := func(ms []markerResult) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.VM+":"+m.Marker+"="+m.Status)
		}
		return out
	}
	want := []string{"a:up=ok", "a:done=not reached"}
	if got := status(expects); !slices.Equal(got, want) {
		t.Errorf("got expects %v, want %v", got, want)
	}
	want = []string{"a:dial=ok", "a:session ok=missing", "b:session ok=missing"}
	if got := status(phases[1].Markers); !slices.Equal(got, want) || phases[1].Status != PhaseFailed || phases[1].End != 22*sec {
		t.Errorf("got session %s at %v, markers %v, want failed at 22s, %v", phases[1].Status, phases[1].End, got, want)
	}

	j, _ = play(t, l, 0, 0, say(1*sec, 0, "up"), say(2*sec, 1, "up"))
	expects, phases, _ = j.results()
	if !j.ok() || j.doneAt != 2*sec || phases[1].Status != StatusSkipped || expects[1].Status != StatusSkipped {
		t.Errorf("--until boot: got ok=%v done at %v, session %s, expect done %s; want ok at 2s with the rest skipped",
			j.ok(), j.doneAt, phases[1].Status, expects[1].Status)
	}
}

// One failure has one missing marker: the same text owed again later (in
// a later phase, in an expect) is not reached, not missing too.
func TestJudgeResultsOneMissingPerMarker(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: j
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up}]}
phases:
  - {name: boot, markers: {a: up}, within: 5s}
  - {name: again, markers: {a: up}, within: 5s}
`)
	j, _ := play(t, l, -1, 0, tickAt(10*sec))
	expects, phases, _ := j.results()
	got := []string{phases[0].Markers[0].Status, phases[1].Markers[0].Status, expects[0].Status}
	if want := []string{StatusMissing, StatusNotReached, StatusNotReached}; !slices.Equal(got, want) {
		t.Errorf("got a's up in boot, again and expect %q, want %q", got, want)
	}
}

// A run stopped from outside (Ctrl-C, the hub's failure) while a phase
// runs: that phase and the markers being waited for were reached and
// interrupted; what comes after was not reached.
func TestJudgeInterrupted(t *testing.T) {
	status := func(ms []markerResult) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.VM+":"+m.Marker+"="+m.Status)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		steps   []step
		at      time.Duration
		phases  []string // status of each phase
		markers []string // of every phase, in order
		expects []string
	}{
		{"in-boot", []step{say(1*sec, 0, "up")}, 4 * sec,
			[]string{"interrupted", "not reached"},
			[]string{"a:up=ok", "b:up=interrupted", "a:dial=not reached", "a:session ok=not reached", "b:session ok=not reached"},
			[]string{"a:up=ok", "a:done=interrupted"}},
		{"in-session", []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "dial")}, 5 * sec,
			[]string{"ok", "interrupted"},
			[]string{"a:up=ok", "b:up=ok", "a:dial=ok", "a:session ok=interrupted", "b:session ok=interrupted"},
			[]string{"a:up=ok", "a:done=interrupted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustParse(t, t.TempDir(), pairLab)
			j, _ := play(t, l, -1, 0, append(tc.steps, tickAt(tc.at))...)
			j.interrupt(tc.at)
			expects, phases, _ := j.results()
			var ps, ms []string
			for _, p := range phases {
				ps = append(ps, p.Status)
				ms = append(ms, status(p.Markers)...)
			}
			if !slices.Equal(ps, tc.phases) || !slices.Equal(ms, tc.markers) {
				t.Errorf("got phases %v, markers %v; want %v, %v", ps, ms, tc.phases, tc.markers)
			}
			if got := status(expects); !slices.Equal(got, tc.expects) {
				t.Errorf("got expects %v, want %v", got, tc.expects)
			}
			for _, p := range phases {
				if p.Status == StatusInterrupted && p.End != tc.at {
					t.Errorf("got phase %s interrupted with end %v, want %v", p.Name, p.End, tc.at)
				}
			}
		})
	}
}

// A trigger whose action the hub refused fails the run: an experiment
// whose fault was never injected proves nothing.
func TestJudgeTriggerFailed(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, fires := play(t, l, -1, 0, say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "dial"))
	if len(fires) != 1 {
		t.Fatalf("got fires %v, want trigger-1's partition", fires)
	}
	j.acted(fires[0], errors.New("control API: connection refused"), fires[0].at, fires[0].at)
	f := j.first()
	if !j.done || f == nil || f.Code != "TRIGGER_FAILED" || f.At != 3*sec {
		t.Fatalf("got done=%v failure %+v, want TRIGGER_FAILED at 3s", j.done, f)
	}
	if _, _, trig := j.results(); trig[0].Err == "" {
		t.Errorf("got trigger-1 %+v, want its error recorded", trig[0])
	}

	// The hub refuses a change handed out with the line that failed the
	// run: the refusal counts too, and the phase ends where the run did.
	j = newJudge(l, -1, 0, nil)
	j.line(0, 1*sec, "up")
	j.line(1, 2*sec, "up")
	fires = j.line(0, 3*sec, "dial")
	j.line(0, 4*sec, "Kernel panic")
	j.acted(fires[0], errors.New("control API: timed out"), 3*sec, 4*sec)
	codes := []string{}
	for _, f := range j.failures {
		codes = append(codes, f.Code)
	}
	_, phases, _ := j.results()
	if !slices.Equal(codes, []string{"FAIL_ON", "TRIGGER_FAILED"}) || j.ok() || phases[1].End != 4*sec || phases[1].Status != PhaseFailed {
		t.Errorf("got failures %q, ok=%v, phase session %s at %v; want FAIL_ON then TRIGGER_FAILED, and the phase failed at 4s", codes, j.ok(), phases[1].Status, phases[1].End)
	}
}

// An on: trigger that makes a fault and never fired fails a run that is
// otherwise done: its marker never came, so the fault the lab declares was
// never made and the run did not test what it claims. The rest are not
// reached, and the run passes by them: an at: trigger due after the run
// was done (the verdict must not depend on how fast the VMs are), and a
// heal or a link up (undoing a fault is not required, as a for: is not).
// A run that failed first, or that --until stopped before the trigger's
// part, does not blame it.
func TestJudgeTriggerNotFired(t *testing.T) {
	const lab = `
name: nf
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up, within: 10s}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: q}
phases:
  - {name: boot, markers: {a: up, b: up}, within: 10s}
  - {name: session, markers: {b: session ok}, within: 60s}
triggers:
  - {on: "a: handshake ok", do: "partition a|b", for: 3s}
  - {name: flap, at: 30s, do: "link b down", for: 1s}
  - {on: "b: reconnected", do: "heal trigger-1"}
  - {at: 40s, do: "link b up"}
`
	type want struct {
		failures []string // code trigger vm marker @at, in order
		statuses []string // of the triggers
		ok       bool
	}
	notReached := []string{StatusNotReached, StatusNotReached, StatusNotReached}
	for _, tt := range []struct {
		name  string
		until int
		steps []step
		want  want
	}{
		{"no-marker-fires", -1, []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 1, "session ok")},
			want{[]string{"TRIGGER_NOT_FIRED trigger-1 a handshake ok @3s"}, append([]string{TriggerNotFired}, notReached...), false}},
		{"fault-fired-heal-and-times-not-reached", -1, []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "handshake ok"), say(4*sec, 1, "session ok")},
			want{nil, append([]string{TriggerFired}, notReached...), true}},
		{"all-fire", -1, []step{say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "handshake ok"), say(5*sec, 1, "reconnected"),
			tickAt(41 * sec), say(42*sec, 1, "session ok")},
			want{nil, []string{TriggerFired, TriggerFired, TriggerFired, TriggerFired}, true}},
		{"the-run-failed-first", -1, []step{say(1*sec, 0, "up"), tickAt(20 * sec)},
			want{[]string{"BOOT_TIMEOUT  b up @10s"}, append([]string{StatusNotReached}, notReached...), false}},
		{"until-stops-before", 0, []step{say(1*sec, 0, "up"), say(2*sec, 1, "up")},
			want{nil, []string{StatusSkipped, StatusSkipped, StatusSkipped, StatusSkipped}, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, t.TempDir(), lab)
			j, _ := play(t, l, tt.until, 0, tt.steps...)
			if !j.done {
				t.Fatal("got a run still going after its last step, want it over")
			}
			var got []string
			for _, f := range j.failures {
				got = append(got, fmt.Sprintf("%s %s %s %s @%v", f.Code, f.Trigger, f.VM, f.Marker, f.At))
			}
			_, _, trig := j.results()
			var statuses []string
			for _, tr := range trig {
				statuses = append(statuses, tr.Status)
			}
			if !slices.Equal(got, tt.want.failures) || !slices.Equal(statuses, tt.want.statuses) || j.ok() != tt.want.ok {
				t.Errorf("got failures %q, trigger statuses %q, ok=%v; want %q, %q, ok=%v",
					got, statuses, j.ok(), tt.want.failures, tt.want.statuses, tt.want.ok)
			}
		})
	}

	// The failure names the trigger and its marker, and its wire hint
	// counts the whole run; the triggers passed by say why.
	l := mustParse(t, t.TempDir(), lab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), say(2500*time.Millisecond, 1, "up"), say(3*sec, 1, "session ok"))
	if len(j.failures) != 1 {
		t.Fatalf("got failures %+v, want one", j.failures)
	}
	f := j.failures[0]
	if want := `trigger-1 (on a: "handshake ok": partition a|b for 3s) never fired: VM a printed no "handshake ok" before the run was done, at 3s`; !strings.Contains(f.Message, want) {
		t.Errorf("got message %q, want %q in it", f.Message, want)
	}
	if f.Since != 0 {
		t.Errorf("got the failure's window from %v, want the whole run's (0)", f.Since)
	}
	_, _, trig := j.results()
	for i, want := range []string{"", "due at 30s, after the run was done at 3s", `VM b printed no "reconnected"; it undoes a fault, which the run does not require`, "due at 40s, after the run was done at 3s"} {
		if trig[i].Note != want {
			t.Errorf("got trigger %s's note %q, want %q", trig[i].Name, trig[i].Note, want)
		}
	}

	// --soak: a trigger not fired by the soak's end fails the run too.
	j, _ = play(t, l, -1, 5*sec, say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(4*sec, 1, "session ok"),
		say(5*sec, 1, "session ok"), tickAt(20*sec))
	if f := j.first(); f == nil || f.Code != "TRIGGER_NOT_FIRED" || f.Trigger != "trigger-1" || f.Phase != "soak" || f.At != 9*sec {
		t.Errorf("got first failure %+v, want TRIGGER_NOT_FIRED of trigger-1 at the soak's end (9s)", f)
	}
}

// A VM's QEMU that could not start, or ended with a status other than 0,
// fails the run even when the VM owes no marker (a router, a traffic
// source): the run did not have the VMs it declares. One that ends with
// status 0 owing nothing is no failure.
func TestJudgeEndedOwingNothing(t *testing.T) {
	const lab = `
name: helper
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: done}]}
  - {name: router, mac: "52:54:00:00:00:0b", qemu: q}
`
	for _, tt := range []struct {
		name, status string
		code, msg    string // "" for no failure
	}{
		{"exit-0", "exit status 0", "", ""},
		{"exit-1", "exit status 1", "RUN_ROUTER_ENDED", "VM router ended (exit status 1): it owes no marker, but a VM's QEMU must run until the run is done or end with exit status 0"},
		{"signal", "signal: segmentation fault", "RUN_ROUTER_ENDED", "VM router ended (signal: segmentation fault)"},
		{"could-not-start", couldNotStart + "fork/exec /x: permission denied", "RUN_ROUTER_ENDED", "VM router could not start: fork/exec /x: permission denied: it owes no marker"},
		{"exit_ok", "exit status 3", "", ""},
		{"not-in-exit_ok", "exit status 0", "RUN_ROUTER_ENDED", "VM router ended (exit status 0): it owes no marker, but a VM's QEMU must run until the run is done or end with an exit status of its exit_ok (1, 3)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := lab
			if strings.Contains(tt.name, "exit_ok") {
				text = strings.Replace(lab, "{name: router,", "{name: router, exit_ok: [1, 3],", 1)
			}
			l := mustParse(t, t.TempDir(), text)
			j, _ := play(t, l, -1, 0, say(1*sec, 1, "routing"), step{at: 2 * sec, vm: 1, exit: true, text: tt.status}, say(3*sec, 0, "done"))
			f := j.first()
			if tt.code == "" {
				if f != nil || !j.ok() || j.doneAt != 3*sec {
					t.Errorf("got failure %+v, ok=%v, done at %v; want a pass at 3s", f, j.ok(), j.doneAt)
				}
				return
			}
			if f == nil || f.Code != tt.code || f.VM != "router" || f.At != 2*sec || f.Line != "routing" || !strings.Contains(f.Message, tt.msg) {
				t.Fatalf("got failure %+v, want %s of VM router at 2s, last line \"routing\", message with %q", f, tt.code, tt.msg)
			}
			if !j.done || j.ok() {
				t.Errorf("got done=%v ok=%v, want a failed run, over", j.done, j.ok())
			}
		})
	}
	// A VM whose markers are in, and that then ends badly while the run
	// waits for another's, is told so.
	l := mustParse(t, t.TempDir(), strings.Replace(lab, "{name: router,", "{name: router, expect: [{marker: routing}],", 1))
	j, _ := play(t, l, -1, 0, say(1*sec, 1, "routing"), step{at: 2 * sec, vm: 1, exit: true, text: "exit status 1"})
	if f := j.first(); f == nil || !strings.Contains(f.Message, "VM router ended (exit status 1): it printed every marker it owed, but") {
		t.Errorf("got failure %+v, want router's end, with every marker printed", f)
	}
}

// The judge wakes the runner at the right times: the next bound, trigger
// or undo, whichever is first.
func TestJudgeDeadline(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j := newJudge(l, -1, 0, nil)
	next := func() time.Duration {
		d, ok := j.deadline()
		if !ok {
			return -1
		}
		return d
	}
	if d := next(); d != 8*sec {
		t.Errorf("got first deadline %v, want 8s (a's first expect)", d)
	}
	j.line(0, 1*sec, "up")
	j.line(1, 2*sec, "up")
	if d := next(); d != 22*sec {
		t.Errorf("got deadline %v after boot, want 22s (session's within from 2s)", d)
	}
	for _, f := range j.line(0, 3*sec, "dial") {
		j.acted(f, nil, f.at, f.at)
	}
	if d := next(); d != 6*sec {
		t.Errorf("got deadline %v after the trigger, want 6s (its undo)", d)
	}
	j.tick(6 * sec)
	j.line(0, 7*sec, "session ok")
	j.line(1, 8*sec, "session ok")
	if d := next(); d != 50*sec {
		t.Errorf("got deadline %v after the phases, want 50s (the timed trigger)", d)
	}
}

// A trigger's for: counts from when the hub made the change: a runner
// that performed the partition late (a loaded machine) still keeps it for
// the whole for:, where counting from the marker would heal it at once.
func TestJudgeForCountsFromTheChange(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j := newJudge(l, -1, 0, nil)
	j.line(0, 1*sec, "up")
	j.line(1, 2*sec, "up")
	fires := j.line(0, 3*sec, "dial")
	if len(fires) != 1 || fires[0].act.Kind != ActPartition {
		t.Fatalf("got fires %v, want trigger-1's partition", fires)
	}
	j.acted(fires[0], nil, 5*sec, 5*sec) // the hub had it 2 s after the marker
	if d, ok := j.deadline(); !ok || d != 8*sec {
		t.Errorf("got deadline %v, want 8s: the undo 3s after the change at 5s", d)
	}
	if undo := j.tick(7 * sec); len(undo) != 0 {
		t.Errorf("at 7s got %v, want the partition still in force", undo)
	}
	if undo := j.tick(8 * sec); len(undo) != 1 || !undo[0].undo {
		t.Errorf("at 8s got %v, want the heal", undo)
	}
}

// A late tick (the loop held it while a VM's console drained; a slow
// launch; a loaded machine) finds an at: trigger's time and the end of its
// for: both past: the judge hands out the change alone, and its undo only
// once the runner has made it, for: after then. A change the hub refused
// is not undone, and the trigger keeps the change's error. The trigger's
// times are the hub's.
func TestJudgeLateTickAtTrigger(t *testing.T) {
	const text = `
name: late
timeout: 100s
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: done}]}, {name: b, mac: "52:54:00:00:00:0b", qemu: q}]
triggers: [{at: 2s, do: "partition a|b", for: 1s}]
`
	l := mustParse(t, t.TempDir(), text)
	j := newJudge(l, -1, 0, nil)
	fires := j.tick(3500 * time.Millisecond)
	if len(fires) != 1 || fires[0].undo || fires[0].at != 2*sec {
		t.Fatalf("got fires %v from a tick at 3.5s, want the partition alone (due at 2s)", fires)
	}
	if d, ok := j.deadline(); ok && d < 100*sec {
		t.Errorf("got deadline %v before the change was made, want none for the undo", d)
	}
	j.acted(fires[0], nil, 3600*time.Millisecond, 3700*time.Millisecond)
	if d, ok := j.deadline(); !ok || d != 4700*time.Millisecond {
		t.Errorf("got deadline %v, want 4.7s: the undo 1s after the hub made the change", d)
	}
	if undo := j.tick(4600 * time.Millisecond); len(undo) != 0 {
		t.Errorf("at 4.6s got %v, want the partition still in force", undo)
	}
	undo := j.tick(5 * sec)
	if len(undo) != 1 || !undo[0].undo {
		t.Fatalf("at 5s got %v, want the heal", undo)
	}
	j.acted(undo[0], nil, 5100*time.Millisecond, 5200*time.Millisecond)
	if _, _, trig := j.results(); !trig[0].Fired || trig[0].FiredAt != 3600*time.Millisecond || !trig[0].Undone || trig[0].UndoneAt != 5100*time.Millisecond {
		t.Errorf("got trigger-1 %+v, want fired at 3.6s and undone at 5.1s, when the runner made each change", trig[0])
	}

	// The hub refused the partition: no heal, and the partition's error.
	j = newJudge(l, -1, 0, nil)
	fires = j.tick(3500 * time.Millisecond)
	if len(fires) != 1 {
		t.Fatalf("got fires %v, want the partition", fires)
	}
	j.acted(fires[0], errors.New("control API: connection refused"), 3600*time.Millisecond, 3700*time.Millisecond)
	if more := j.tick(10 * sec); len(more) != 0 {
		t.Errorf("got %v after the partition failed, want nothing (no heal of a partition never made)", more)
	}
	f := j.first()
	if f == nil || f.Code != "TRIGGER_FAILED" {
		t.Errorf("got failure %+v, want TRIGGER_FAILED", f)
	}
	if _, _, trig := j.results(); trig[0].Undone || !strings.Contains(trig[0].Err, "partition a|b: control API: connection refused") {
		t.Errorf("got trigger-1 %+v, want the partition's error and no undo", trig[0])
	}
}

// --soak: after the last phase, its markers must come again in every
// round; a round without them counts as failed and the soak goes on.
func TestJudgeSoak(t *testing.T) {
	const text = `
name: soak
timeout: 100s
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q}, {name: b, mac: "52:54:00:00:00:0b", qemu: q}]
phases: [{name: beat, markers: {a: tick, b: tick}, within: 5s}]
`
	l := mustParse(t, t.TempDir(), text)
	j, _ := play(t, l, -1, 20*sec,
		say(1*sec, 0, "tick"), say(2*sec, 1, "tick"), // the phase: done at 2s; soak 2s..22s, rounds of 5s
		say(3*sec, 0, "tick"), say(4*sec, 1, "tick"), // round 1 passes at 4s
		say(5*sec, 0, "tick"), say(6*sec, 1, "tick"), // round 2 passes at 6s
		say(7*sec, 0, "tick"),                          // round 3: b is silent until 11s: failed
		say(12*sec, 0, "tick"), say(13*sec, 1, "tick"), // round 4 (11s..): passes
		tickAt(30*sec), // round 5 (13s..18s) fails; round 6 (18s..22s) is cut short by the soak's end
	)
	if !j.done || j.soakRes == nil {
		t.Fatalf("got done=%v soak %+v, want a finished soak", j.done, j.soakRes)
	}
	if got, want := *j.soakRes, (Soak{Duration: 20 * sec, Round: 5 * sec, Rounds: 5, Passed: 3, Failed: 2}); got != want {
		t.Errorf("got soak %+v, want %+v", got, want)
	}
	f := j.first()
	if f == nil || f.Code != "SOAK_TIMEOUT" || f.VM != "b" || f.Marker != "tick" || f.At != 11*sec || j.ok() {
		t.Errorf("got first failure %+v, want SOAK_TIMEOUT of b's tick at 11s", f)
	}
	if j.doneAt != 22*sec {
		t.Errorf("got the run done at %v, want 22s (the soak's end)", j.doneAt)
	}
}

// A VM that ends during the soak fails it at once.
func TestJudgeSoakEnded(t *testing.T) {
	const text = `
name: soak
timeout: 100s
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q}]
phases: [{name: beat, markers: {a: tick}, within: 5s}]
`
	l := mustParse(t, t.TempDir(), text)
	j, _ := play(t, l, -1, 20*sec, say(1*sec, 0, "tick"), ends(3*sec, 0))
	if f := j.first(); f == nil || f.Code != "SOAK_A_ENDED" || f.At != 3*sec {
		t.Errorf("got %+v, want SOAK_A_ENDED at 3s", f)
	}
}

// A phase's markers on one VM are a set (any order, as a grep of the log
// finds them); a VM's expect markers are a sequence, each after the last.
func TestJudgeOrder(t *testing.T) {
	const text = `
name: order
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: first, within: 50s}, {marker: second, within: 50s}]}
phases: [{name: p, markers: {a: [x, y]}, within: 50s}]
`
	l := mustParse(t, t.TempDir(), text)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "y"), say(2*sec, 0, "second"), say(3*sec, 0, "x"), say(4*sec, 0, "first"), tickAt(99*sec))
	_, phases, _ := j.results()
	if phases[0].Status != PhaseOK || phases[0].End != 3*sec {
		t.Errorf("got phase p %s at %v, want ok at 3s: y then x completes it", phases[0].Status, phases[0].End)
	}
	f := j.first()
	if f == nil || f.Code != "END_TIMEOUT" || f.Marker != "second" || f.At != 50*sec {
		t.Errorf("got %+v, want END_TIMEOUT for \"second\" at 50s: it came before \"first\", so it does not count", f)
	}
}

// What a guest printed reaches a terminal only as text: no escape
// sequence, no invalid UTF-8.
func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"GUEST: up\tok":          "GUEST: up\tok",
		"\x1b[2J\x1b]0;pwn\x07x": "\uFFFD[2J\uFFFD]0;pwn\uFFFDx",
		"bad \xff byte \u0085":   "bad \uFFFD byte \uFFFD",
		"ünïcode ✓":              "ünïcode ✓",
	} {
		if got := clean(in); got != want {
			t.Errorf("got clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// The fail_on line that ends the run is counted in the phase's evidence,
// as a grep of the whole log counts it: the failure's and the phase's.
func TestJudgeFailOnLineIsEvidence(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: evid
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, fail_on: ["/remote .* FAIL/"]}
phases:
  - {name: boot, markers: {a: "GUEST: up"}}
  - {name: remote, markers: {a: "SELFTEST: remote ok"}, evidence: {a: ["dial status", "remote rpc"]}}
`)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "GUEST: up"), say(2*sec, 0, "dbg: dial status timed_out"),
		say(3*sec, 0, "SELFTEST: remote rpc FAIL"))
	f := j.first()
	if f == nil || f.Code != "FAIL_ON" {
		t.Fatalf("got failure %+v, want FAIL_ON", f)
	}
	want := map[string]int{"dial status": 1, "remote rpc": 1}
	if got := f.Evidence["a"]; !maps.Equal(got, want) {
		t.Errorf("got the failure's evidence on a %v, want %v", got, want)
	}
	if _, phases, _ := j.results(); !maps.Equal(phases[1].Evidence["a"], want) {
		t.Errorf("got the phase's evidence on a %v, want %v", phases[1].Evidence["a"], want)
	}
}

// A VM the failure concerns that printed nothing at all is explained: its
// console likely never reached stdout. One that printed something is not.
func TestJudgeSilentConsole(t *testing.T) {
	const want = `VM b printed nothing on its console: does its command send the serial console to stdout (-serial stdio, -serial mon:stdio, -nographic)?`
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"), ends(2*sec, 1))
	if f := j.first(); f == nil || f.Code != "BOOT_B_ENDED" || !strings.HasSuffix(f.Message, "; "+want) {
		t.Errorf("got failure %+v, want BOOT_B_ENDED saying %q", f, want)
	}
	j, _ = play(t, l, -1, 0, tickAt(11*sec))
	if f := j.first(); f == nil || !strings.Contains(f.Message, "; VMs a and b printed nothing on their consoles: do their commands send") {
		t.Errorf("got failure %+v, want a timeout naming both silent VMs", f)
	}
	j, _ = play(t, l, -1, 0, say(1*sec, 0, "up"), say(1*sec, 1, "booting"), ends(2*sec, 1))
	if f := j.first(); f == nil || strings.Contains(f.Message, "printed nothing") {
		t.Errorf("got failure %+v, want no word of a silent console (b printed a line)", f)
	}
	// b's QEMU could not start: its console is beside the point.
	notStarted := step{at: 0, vm: 1, exit: true, text: couldNotStart + "VM b: start ./qemu-b: exec format error"}
	namesB := func(f *Failure) bool {
		return strings.Contains(f.Message, "VM b printed nothing") || strings.Contains(f.Message, "and b printed nothing")
	}
	j, _ = play(t, l, -1, 0, notStarted)
	if f := j.first(); f == nil || f.Code != "BOOT_B_ENDED" || namesB(f) {
		t.Errorf("got failure %+v, want BOOT_B_ENDED with no word of b's console (b did not start)", f)
	}
	j, _ = play(t, l, -1, 0, step{at: 0, vm: 1, exit: true, text: "exit status 0"})
	if f := j.first(); f == nil || !namesB(f) {
		t.Errorf("got failure %+v, want b's silent console named (it started)", f)
	}
	// Another VM's failure ends the run while a VM owing a marker has
	// printed nothing yet: it is blamed only when its silence says
	// something. A QEMU command without a serial console on stdout is
	// after silentAfter; any other (with one, or a wrapper script's) only
	// after silentLong: a guest booted with quiet prints its first line
	// seconds in.
	for _, tt := range []struct {
		name  string
		qemu  string
		at    time.Duration
		names bool
	}{
		{"wrapper-at-once", "q", 50 * time.Millisecond, false},
		{"wrapper-early", "q", silentAfter, false},
		{"wrapper-long", "q", silentLong, true},
		{"qemu-with-serial-stdio-early", "qemu-system-x86_64, args: [-serial, stdio]", 4 * sec, false},
		{"qemu-with-serial-stdio-long", "qemu-system-x86_64, args: [-serial, stdio]", silentLong, true},
		{"qemu-without-serial-at-once", "qemu-system-x86_64, args: [-m, 64M]", 50 * time.Millisecond, false},
		{"qemu-without-serial-early", "qemu-system-x86_64, args: [-m, 64M]", silentAfter, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, t.TempDir(), `
name: helper
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: `+tt.qemu+`, expect: [{marker: done}]}
  - {name: router, mac: "52:54:00:00:00:0b", qemu: q, fail_on: [FAIL]}
`)
			j, _ := play(t, l, -1, 0, say(tt.at, 1, "qemu: -bogus: invalid option"), step{at: tt.at, vm: 1, exit: true, text: "exit status 1"})
			if f := j.first(); f == nil || f.Code != "RUN_ROUTER_ENDED" || strings.Contains(f.Message, "VM a printed nothing") != tt.names {
				t.Errorf("router ended at %v: got failure %+v, want RUN_ROUTER_ENDED naming a's silent console: %v", tt.at, f, tt.names)
			}
			j, _ = play(t, l, -1, 0, say(tt.at, 1, "selftest FAIL"))
			if f := j.first(); f == nil || f.Code != "FAIL_ON" || strings.Contains(f.Message, "VM a printed nothing") != tt.names {
				t.Errorf("router's fail_on at %v: got failure %+v, want FAIL_ON naming a's silent console: %v", tt.at, f, tt.names)
			}
		})
	}
}

// A prompt (the start of a line the console went quiet after) is matched
// against the markers and triggers when it comes; its line counts when it
// ends (its number, evidence), and is matched again then, but the expect
// marker its prompt matched was that line's: the next expect marker, of
// the same text, needs a line of its own.
func TestJudgePrompt(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: prompt
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: "login:"}, {marker: "login:"}]}
phases:
  - {name: boot, markers: {a: ["login:", root]}, evidence: {a: [login]}}
triggers:
  - {on: "a: login:", do: "link a down"}
`)
	j, fires := play(t, l, -1, 0,
		say(1*sec, 0, "booting"),
		prompts(2*sec, 0, "login: "),
		say(3*sec, 0, "login: root"),
	)
	if len(fires) != 1 || fires[0].at != 2*sec {
		t.Errorf("got fires %+v, want the trigger at the prompt, 2s", fires)
	}
	expects := j.expects[0]
	if e := expects[0]; e.Status != StatusOK || e.At != 2*sec || e.Line != 2 || e.Text != "login: " {
		t.Errorf("got the first expect %+v, want it seen at the prompt, 2s, line 2", e)
	}
	if e := expects[1]; e.Status == StatusOK {
		t.Errorf("got the second expect %+v, want it still awaited: the prompt's line matched the first", e)
	}
	if m := j.phases[0].Markers; m[0].At != 2*sec || m[0].Line != 2 || m[1].At != 3*sec || m[1].Line != 2 {
		t.Errorf("got the phase's markers %+v, want login: at the prompt and root at the line's end, both on line 2", m)
	}
	if got := j.evidenceOf(0)["a"]["login"]; got != 1 {
		t.Errorf("got evidence login x%d, want x1: the line, counted when it ends", got)
	}
	j.line(0, 4*sec, "login: again")
	if e := j.expects[0][1]; e.Status != StatusOK || e.Line != 3 {
		t.Errorf("got the second expect %+v, want it seen on line 3", e)
	}
	if !j.done || !j.ok() {
		t.Errorf("got done %v, failures %+v, want a passed run", j.done, j.failures)
	}
}

// Patterns match a line as a terminal shows it: colour codes inside a
// marker, or progress a carriage return went back over, do not hide it.
// What matched is recorded so; the last lines (junit.xml) stay raw.
func TestJudgeMatchesWhatATerminalShows(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: ansi
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: "GUEST: ansi ok"}, {marker: "/^GUEST: cr ok$/"}], fail_on: ["Kernel panic"]}
`)
	const colour = "\x1b[0;32mGUEST: ansi\x1b[0m ok"
	j, _ := play(t, l, -1, 0, say(1*sec, 0, colour), say(2*sec, 0, "progress 10%\rGUEST: cr ok"))
	if !j.done || !j.ok() {
		t.Fatalf("got done %v, failures %+v, want both markers seen", j.done, j.failures)
	}
	if got := j.expects[0][0].Text; got != "GUEST: ansi ok" {
		t.Errorf("got the marker's text %q, want it as matched", got)
	}
	if got := j.vms[0].tail[0].Text; got != colour {
		t.Errorf("got the console's last line %q, want it raw, %q", got, colour)
	}
	j, _ = play(t, l, -1, 0, say(1*sec, 0, "\x1b[1;31mKernel\x1b[0m panic"))
	if f := j.first(); f == nil || f.Code != "FAIL_ON" {
		t.Errorf("got failure %+v, want FAIL_ON", f)
	}
}

// Once a change of a batch has failed (the run has failed with it), the
// runner makes none of the rest: each says it was not, and why.
func TestRunnerActStopsAtAFailure(t *testing.T) {
	const text = `
name: batch
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: done}]}, {name: b, mac: "52:54:00:00:00:0b", qemu: q}]
triggers: [{at: 1s, do: "partition a|b", for: 1s}, {at: 1s, do: "link b down"}]
`
	l := mustParse(t, t.TempDir(), text)
	clock := hub.NewVirtualClock(hub.DefaultEpoch)
	r := &runner{lab: l, opts: Options{Out: io.Discard, Clock: clock}, start: clock.Now()} // no client: every call fails
	r.judge = newJudge(l, -1, 0, nil)
	clock.Advance(2 * sec)
	fires := r.judge.tick(r.now())
	if len(fires) != 2 {
		t.Fatalf("got fires %v, want both triggers'", fires)
	}
	r.act(fires)
	_, _, trig := r.judge.results()
	if !strings.Contains(trig[0].Err, "no control API") {
		t.Errorf("got trigger-1 %+v, want the control API's error", trig[0])
	}
	if want := "link b down: not performed: trigger-1 could not partition a|b first"; trig[1].Err != want {
		t.Errorf("got trigger-2's error %q, want %q", trig[1].Err, want)
	}
	if f := r.judge.first(); f == nil || f.Code != "TRIGGER_FAILED" || !strings.Contains(f.Message, "trigger-1") {
		t.Errorf("got failure %+v, want trigger-1's TRIGGER_FAILED", f)
	}
}

// A run whose last marker came in a prompt does not end before fail_on has
// seen the rest of that line: it waits for the line's end, the VM's exit,
// or promptHold after the prompt. A prompt that holds a fail_on pattern
// fails the run at once.
func TestJudgePromptHoldsTheEnd(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: hold
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: "GUEST: selftest"}], fail_on: [FAIL]}
`)
	ms := time.Millisecond
	tests := []struct {
		name   string
		steps  []step
		ok     bool
		doneAt time.Duration
	}{
		{"rest-of-the-line-fails", []step{prompts(1*sec, 0, "GUEST: selftest "), say(1500*ms, 0, "GUEST: selftest FAIL (3 errors)")}, false, 1500 * ms},
		{"rest-of-the-line-passes", []step{prompts(1*sec, 0, "GUEST: selftest "), say(1500*ms, 0, "GUEST: selftest ok")}, true, 1500 * ms},
		{"line-never-ends", []step{prompts(1*sec, 0, "GUEST: selftest "), tickAt(1999 * ms), tickAt(5 * sec)}, true, 1*sec + promptHold},
		{"vm-ends", []step{prompts(1*sec, 0, "GUEST: selftest "), ends(1200*ms, 0)}, true, 1200 * ms},
		{"prompt-holds-fail-on", []step{prompts(1*sec, 0, "GUEST: selftest FAIL ")}, false, 1 * sec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _ := play(t, l, -1, 0, tt.steps...)
			if !j.done || j.ok() != tt.ok || j.doneAt != tt.doneAt {
				t.Errorf("got done=%v ok=%v at %v (failures %+v), want done ok=%v at %v", j.done, j.ok(), j.doneAt, j.failures, tt.ok, tt.doneAt)
			}
			if f := j.first(); !tt.ok && (f == nil || f.Code != "FAIL_ON") {
				t.Errorf("got failure %+v, want FAIL_ON", f)
			}
		})
	}
	// Not before the hold's end.
	j, _ := play(t, l, -1, 0, prompts(1*sec, 0, "GUEST: selftest "), tickAt(1999*ms))
	if j.done {
		t.Errorf("got the run done at %v, want it waiting for the prompt's line until %v", j.doneAt, 1*sec+promptHold)
	}
}

// In a soak, one console line counts for one round: when its start was
// matched as a prompt (a round passed then, and the next began), the
// whole line does not count for the next round too; nor, when the prompt
// ended the last phase, for the soak's first.
func TestJudgeSoakPromptCountsOnce(t *testing.T) {
	const text = `
name: soak
timeout: 100s
vms: [{name: a, mac: "52:54:00:00:00:0a", qemu: q}]
phases: [{name: shell, markers: {a: "=> "}, within: 5s}]
`
	l := mustParse(t, t.TempDir(), text)
	tests := []struct {
		name  string
		steps []step
		want  Soak
	}{
		// The phase ends at 1s: the soak runs 1s..21s in rounds of 5s.
		{"one-line", []step{say(1*sec, 0, "=> boot"), say(4*sec, 0, "=> help"), tickAt(30 * sec)},
			Soak{Duration: 20 * sec, Round: 5 * sec, Rounds: 4, Passed: 1, Failed: 3}},
		{"prompt-then-its-line", []step{say(1*sec, 0, "=> boot"), prompts(3*sec, 0, "=> "), say(4*sec, 0, "=> help"), tickAt(30 * sec)},
			Soak{Duration: 20 * sec, Round: 5 * sec, Rounds: 4, Passed: 1, Failed: 3}},
		{"prompt-ends-the-phase", []step{prompts(1*sec, 0, "=> "), say(2*sec, 0, "=> help"), tickAt(30 * sec)},
			Soak{Duration: 20 * sec, Round: 5 * sec, Rounds: 4, Passed: 0, Failed: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _ := play(t, l, -1, 20*sec, tt.steps...)
			if j.soakRes == nil || *j.soakRes != tt.want {
				t.Errorf("got soak %+v, want %+v", j.soakRes, tt.want)
			}
		})
	}
}

// A heal acts only on its partition in force: one due before its
// partition is made (a trigger's, on a marker that came late) or once it
// is healed (by its for:) does nothing, and a for: whose partition a heal
// ended asks for no second heal. A heal that came early never cuts the
// partition to nothing: it lasts its for:, or without one to the end. The
// hub is never asked to heal a partition it does not have.
func TestJudgeHealActsOnlyOnItsPartitionInForce(t *testing.T) {
	const head = `
name: heal
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: done}]}
  - {name: b, mac: "52:54:00:00:00:0b", qemu: q}
triggers:
`
	const withFor = `  - {name: cut, on: "a: handshake ok", do: "partition a|b", for: 5s}
  - {at: 1s, do: "heal cut"}
  - {at: 20s, do: "heal cut"}
`
	const onHeal = `  - {name: cut, on: "a: handshake ok", do: "partition a|b"}
  - {on: "b: back", do: "heal cut"}
`
	heal := Action{Kind: ActHeal, Target: "cut"}
	part := Action{Kind: ActPartition, Groups: [][]string{{"a"}, {"b"}}}
	for _, tt := range []struct {
		name, triggers string
		steps          []step
		fires          []fire
		statuses       []string
		notes          []string // what each trigger's note holds
	}{
		{"marker-after-the-heal", withFor, []step{say(2*sec, 0, "handshake ok"), tickAt(30 * sec), say(31*sec, 0, "done")},
			[]fire{{trigger: 0, at: 2 * sec, act: part}, {trigger: 0, undo: true, at: 7 * sec, act: heal}},
			[]string{TriggerFired, StatusNotReached, StatusNotReached},
			[]string{"", "due at 1s, before partition cut was made; it is bounded by its for: (5s)", "due at 20s, when partition cut was healed already"}},
		{"marker-before-the-heal", withFor, []step{say(500*time.Millisecond, 0, "handshake ok"), tickAt(30 * sec), say(31*sec, 0, "done")},
			[]fire{{trigger: 0, at: 500 * time.Millisecond, act: part}, {trigger: 1, at: 1 * sec, act: heal}},
			[]string{TriggerFired, TriggerFired, StatusNotReached},
			[]string{"", "", "due at 20s, when partition cut was healed already"}},
		{"marker-never-comes", withFor, []step{tickAt(30 * sec), say(31*sec, 0, "done")},
			nil,
			[]string{TriggerNotFired, StatusNotReached, StatusNotReached},
			[]string{"", "before partition cut was made", "before partition cut was made"}},
		{"on-heal-first-no-for", onHeal, []step{say(1*sec, 1, "back"), say(2*sec, 0, "handshake ok"), tickAt(30 * sec), say(31*sec, 0, "done")},
			[]fire{{trigger: 0, at: 2 * sec, act: part}},
			[]string{TriggerFired, StatusNotReached},
			[]string{"", "due at 1s, before partition cut was made; made later, it is not healed"}},
		{"on-heal-after", onHeal, []step{say(1*sec, 0, "handshake ok"), say(2*sec, 1, "back"), say(31*sec, 0, "done")},
			[]fire{{trigger: 0, at: 1 * sec, act: part}, {trigger: 1, at: 2 * sec, act: heal}},
			[]string{TriggerFired, TriggerFired},
			[]string{"", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, t.TempDir(), head+tt.triggers)
			j, fires := play(t, l, -1, 0, tt.steps...)
			if fmt.Sprint(fires) != fmt.Sprint(tt.fires) {
				t.Errorf("got fires %v, want %v", fires, tt.fires)
			}
			_, _, trig := j.results()
			var got []string
			for i, tr := range trig {
				got = append(got, tr.Status)
				if !strings.Contains(tr.Note, tt.notes[i]) || tt.notes[i] == "" && tr.Note != "" {
					t.Errorf("got %s's note %q, want %q", tr.Name, tr.Note, tt.notes[i])
				}
			}
			if !slices.Equal(got, tt.statuses) {
				t.Errorf("got trigger statuses %q, want %q", got, tt.statuses)
			}
			if tt.fires != nil && !j.ok() {
				t.Errorf("got failures %+v, want a passed run", j.failures)
			}
		})
	}
}

// A fail_on line ends the run before anything else it holds counts: the
// marker in it is not seen, and the trigger on it does not fire.
func TestJudgeFailOnLineIsNoMarker(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, fires := play(t, l, -1, 0, say(1*sec, 0, "up"), say(2*sec, 1, "up"), say(3*sec, 0, "dial FAIL now"))
	if f := j.first(); f == nil || f.Code != "FAIL_ON" {
		t.Fatalf("got failure %+v, want FAIL_ON", f)
	}
	if len(fires) != 0 {
		t.Errorf("got fires %v, want none: the line failed the run", fires)
	}
	_, phases, trig := j.results()
	if m := phases[1].Markers[0]; m.Marker != "dial" || m.Status == StatusOK {
		t.Errorf("got session's first marker %+v, want a's dial not seen", m)
	}
	if trig[0].Fired {
		t.Errorf("got trigger-1 %+v, want it not fired", trig[0])
	}
}

// A phase that takes exactly its budget is within it: only a phase that
// took longer is over, by a millisecond as by more.
func TestJudgeBudgetIsInclusive(t *testing.T) {
	l := mustParse(t, t.TempDir(), pairLab)
	j, _ := play(t, l, -1, 0, say(2*sec, 0, "up"), say(5*sec, 1, "up"))
	_, phases, _ := j.results()
	if p := phases[0]; p.Status != PhaseOK || p.Duration() != 5*sec || len(j.failures) != 0 {
		t.Errorf("got phase boot %s in %v, failures %+v; want ok in 5s, its budget, and no failure", p.Status, p.Duration(), j.failures)
	}
	j, _ = play(t, l, -1, 0, say(2*sec, 0, "up"), say(5*sec+time.Millisecond, 1, "up"))
	_, phases, _ = j.results()
	if p, f := phases[0], j.first(); p.Status != PhaseOverBudget || f == nil || f.Code != "BOOT_BUDGET" {
		t.Errorf("got phase boot %s in %v, first failure %+v; want over budget, BOOT_BUDGET", p.Status, p.Duration(), f)
	}
}

// An on: trigger that undoes a fault (a link up) and never fired fails
// nothing: the run does not require a fault undone (TestJudgeTriggerNotFired
// has a heal).
func TestJudgeLinkUpNotFiredFailsNothing(t *testing.T) {
	l := mustParse(t, t.TempDir(), `
name: j
timeout: 100s
vms:
  - {name: a, mac: "52:54:00:00:00:0a", qemu: q, expect: [{marker: up}]}
triggers: [{on: "a: restored", do: "link a up"}]
`)
	j, _ := play(t, l, -1, 0, say(1*sec, 0, "up"))
	if !j.done || !j.ok() {
		t.Fatalf("got done=%v, failures %+v; want a pass", j.done, j.failures)
	}
	_, _, trig := j.results()
	if want := `VM a printed no "restored"; it undoes a fault, which the run does not require`; trig[0].Status != StatusNotReached || trig[0].Note != want {
		t.Errorf("got trigger-1 %s, note %q; want not reached, %q", trig[0].Status, trig[0].Note, want)
	}
}
