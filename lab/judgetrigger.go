package lab

// This file holds the judge's side of the triggers: firing one (a heal
// whose partition is not in force does nothing), and the runner's report
// of how its action went (acted), from which a for:'s undo is timed.

import (
	"fmt"
	"slices"
	"time"
)

// fire is a trigger's action for the runner to perform.
type fire struct {
	trigger int
	undo    bool
	at      time.Duration
	act     Action
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
