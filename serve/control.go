package serve

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"l2hub/capture"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

// The control API's Target: every change runs on the hub's loop (hub.Do),
// so it is ordered with respect to frames.
var (
	_ control.Target     = (*Session)(nil)
	_ control.InjectFlow = (*Session)(nil)
	_ control.PortOpener = (*Session)(nil)
)

// Ports implements control.Target.
func (s *Session) Ports(ctx context.Context) ([]hub.PortStatus, error) { return s.hub.Ports(ctx) }

// NotOpen implements control.PortOpener: why each port that Config.Optional
// let the session start without could not be opened, as the ready file
// says it; nil when every port opened.
func (s *Session) NotOpen() map[string]string {
	var m map[string]string
	for _, p := range s.Bound() {
		if p.Down != nil {
			if m == nil {
				m = map[string]string{}
			}
			m[p.Spec.Name] = p.Down.Error()
		}
	}
	return m
}

// Policy implements control.Target: the policy in force, as of now; nil
// when the hub runs without one.
func (s *Session) Policy(ctx context.Context) (*filter.Description, error) {
	var desc *filter.Description
	err := s.hub.Do(ctx, func(c *hub.Core) {
		if p := s.currentPolicy(); p != nil {
			d := p.Describe(c.Elapsed())
			desc = &d
		}
	})
	return desc, err
}

// Rules implements control.Target: the counters, and the partitions' and
// links' state as of now.
func (s *Session) Rules(ctx context.Context) (filter.Stats, error) {
	var st filter.Stats
	err := s.hub.Do(ctx, func(c *hub.Core) {
		if p := s.currentPolicy(); p != nil {
			st = p.StatsAt(c.Elapsed())
		}
	})
	return st, err
}

// newFileWait bounds how long ReplacePolicy waits to name the capture's new
// file in its log line.
const newFileWait = 2 * time.Second

// ReplacePolicy implements control.Target: compile first, swap on the loop.
// The capture then starts a new numbered file whose header names the new
// seed and policy (with the policy's name and the run time it took over at),
// so that each file still says how to reproduce it; a header it cannot
// write (a closed capture) refuses the whole change. A name with a control
// character is refused first (control.CheckPolicyName).
func (s *Session) ReplacePolicy(ctx context.Context, name string, src []byte) error {
	if err := control.CheckPolicyName(name); err != nil {
		return &control.UserError{Err: err}
	}
	p, err := filter.Parse(src, name, s.cfg.PortNames())
	if err != nil {
		return &control.UserError{Err: err}
	}
	var meta capture.Meta
	var nfiles int
	if s.capture != nil {
		meta = s.captureMeta(p)
		meta.Extra[capture.PolicyNameKey] = name
	}
	var since time.Duration
	var newFiles <-chan struct{}
	var cerr error
	err = s.hub.Do(ctx, func(c *hub.Core) {
		since = c.Elapsed()
		now := c.Start().Add(since)
		if s.capture != nil {
			// Queued between the last frame under the old policy and the
			// first under the new one; refused, it leaves both as they
			// are, so that the capture keeps naming the policy in force.
			meta.Extra[capture.PolicySinceKey] = since.String()
			// Counted on the loop, as the change is made: another
			// set-policy's file, started before this one took the loop,
			// is not this one's to log.
			nfiles = len(s.capture.Files())
			if newFiles, cerr = s.capture.SetMeta(meta); cerr != nil {
				return
			}
		}
		// The rules going out of force, with their counters as they go,
		// for the exit summary's removed_rules.
		var replaced []RemovedRule
		if old := s.currentPolicy(); old != nil {
			for _, r := range old.StatsAt(since).Rules {
				replaced = append(replaced, removedRule(old, r, WhyReplaced, since))
			}
		}
		c.SetPolicyAt(p, now) // at the since the capture records
		s.mu.Lock()
		s.policy = p
		s.keepRemovedLocked(replaced...)
		s.mu.Unlock()
	})
	if err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("policy %s not replaced: the capture cannot start a file for it: %w", name, cerr)
	}
	s.warnClassicPcap()
	// at as text, as a rule edit's (logAt).
	attrs := []any{"name", name, "seed", p.Seed(), "policy_hash", p.Hash(), "at", logAt(since)}
	if newFiles != nil {
		// The policy is in force; the new file's name is for the log only,
		// so a capture whose stream's reader has stopped reading holds the
		// answer back a moment, not until the request gives up.
		wait, stop := context.WithTimeout(ctx, cmp.Or(s.newFileWait, newFileWait))
		select {
		case <-newFiles:
			var started []string
			if f := s.capture.Files(); len(f) > nfiles { // the list only grows; a guard all the same
				started = f[nfiles:]
			}
			attrs = append(attrs, "capture", strings.Join(started, ","))
		case <-wait.Done():
			attrs = append(attrs, "capture", "its writer has not started the new file yet")
		}
		stop()
	}
	s.log.Info("policy replaced", attrs...)
	return nil
}

// onPolicy runs fn on the loop with the policy in force, or, when the hub
// runs without, with an empty one (no rules, seed 0) that it puts in force
// once fn succeeds (policyToEdit), so that partitions and link changes
// work on any hub and a refused one changes nothing.
func (s *Session) onPolicy(ctx context.Context, fn func(p *filter.Policy, now time.Duration) error) error {
	var ferr error
	err := s.hub.Do(ctx, func(c *hub.Core) {
		p, install, err := s.policyToEdit(c)
		if err != nil {
			ferr = err
			return
		}
		if ferr = fn(p, c.Elapsed()); ferr == nil {
			install()
		}
	})
	if err != nil {
		return err
	}
	if ferr != nil {
		return &control.UserError{Err: ferr}
	}
	return nil
}

// SetLink implements control.Target.
func (s *Session) SetLink(ctx context.Context, port string, up bool) error {
	op := filter.EditLinkDown
	if up {
		op = filter.EditLinkUp
	}
	return s.applyEdit(ctx, filter.Edit{Op: op, Name: port})
}

// applyEdit makes e on the loop, on the policy in force (onPolicy),
// records it (record) and logs it, as a rule edit is.
func (s *Session) applyEdit(ctx context.Context, e filter.Edit) error {
	err := s.onPolicy(ctx, func(p *filter.Policy, now time.Duration) error {
		d, err := e.Apply(p, now)
		if err != nil {
			return err
		}
		e.At = now
		s.record(e, d)
		return nil
	})
	if err == nil {
		s.logEdit(e)
	}
	return err
}

// logEdit logs a link or partition change made through the control API
// (msg="partition started" partition=split at=5.2s).
func (s *Session) logEdit(e filter.Edit) {
	at := logAt(e.At)
	switch e.Op {
	case filter.EditLinkUp, filter.EditLinkDown:
		s.log.Info(strings.Replace(e.Op, "-", " ", 1), "port", e.Name, "at", at)
	case filter.EditPartitionStart:
		attrs := []any{"partition", e.Name, "at", at}
		if len(e.Groups) > 0 {
			specs := make([]string, len(e.Groups))
			for i, g := range e.Groups {
				specs[i] = strings.Join(g, ",")
			}
			attrs = append(attrs, "groups", strings.Join(specs, "|"))
		}
		s.log.Info("partition started", attrs...)
	case filter.EditPartitionHeal:
		s.log.Info("partition healed", "partition", e.Name, "at", at)
	}
}

// record notes a change made through the control API in the capture, on
// the next frame it records (filter.Edit.Comment): a line for a person
// ("control at 12.5s: partition split started: a|b") and one from which a
// replay makes the change again at e.At. The frames a partition drops say
// which rule dropped them, and this says when, and by whose hand, it began
// and ended. Call it on the hub loop; d is the rule as a rule edit left it.
func (s *Session) record(e filter.Edit, d filter.RuleDescription) {
	if s.capture != nil {
		s.capture.Annotate(e.Comment(d))
	}
}

// StartPartition implements control.Target: with groups, an ad-hoc
// partition; without, the policy file's partition of that name. Like a
// link change, it is recorded in the capture (record); a replaced policy
// starts a new capture file whose header says so instead.
func (s *Session) StartPartition(ctx context.Context, name string, groups [][]string) error {
	return s.applyEdit(ctx, filter.Edit{Op: filter.EditPartitionStart, Name: name, Groups: groups})
}

// HealPartition implements control.Target.
func (s *Session) HealPartition(ctx context.Context, name string) error {
	return s.applyEdit(ctx, filter.Edit{Op: filter.EditPartitionHeal, Name: name})
}

// Inject implements control.Target: the frame goes to the port's peer as if
// the hub had forwarded it, with a note saying it was injected.
func (s *Session) Inject(ctx context.Context, port string, frame []byte) error {
	_, err := s.hub.Inject(ctx, port, frame, hub.InjectNotes)
	return err
}

// InjectFrame implements control.InjectFlow: Inject, saying why the port
// dropped the frame (hub.DropNone: queued for its VM).
func (s *Session) InjectFrame(ctx context.Context, port string, frame []byte) (hub.DropReason, error) {
	return s.hub.Inject(ctx, port, frame, hub.InjectNotes)
}

// WaitRoom implements control.InjectFlow: an injection waits for a pausing
// port's VM as the VMs sending to it do (hub.Hub.WaitRoom).
func (s *Session) WaitRoom(ctx context.Context, port string) error {
	return s.hub.WaitRoom(ctx, port)
}

// State implements control.Target: the policy's link and partition state,
// evaluated on the hub loop at the loop's now, so a flap schedule or a timed
// partition shows its current state even when no frame has crossed since
// it changed.
func (s *Session) State(ctx context.Context) (control.State, error) {
	var st control.State
	err := s.hub.Do(ctx, func(c *hub.Core) {
		if p := s.currentPolicy(); p != nil {
			st = policyState(p.Describe(c.Elapsed()))
		}
	})
	return st, err
}

// policyState converts a policy description into the control API's state.
func policyState(d filter.Description) control.State {
	st := control.State{Links: []control.LinkState{}, Partitions: []control.PartitionState{}}
	for _, p := range d.Ports {
		st.Links = append(st.Links, control.LinkState{Port: p.Port, Up: !p.Down, Schedule: p.Schedule, Dropped: p.Dropped})
	}
	for _, pt := range d.Partitions {
		var groups [][]string
		for _, g := range strings.Split(pt.Groups, "|") {
			groups = append(groups, strings.Split(g, ","))
		}
		st.Partitions = append(st.Partitions, control.PartitionState{Name: pt.Name, Groups: groups, Active: pt.Active, Dropped: pt.Dropped})
	}
	return st
}
