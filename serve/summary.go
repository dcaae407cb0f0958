package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"

	"l2hub/internal/atomicfile"
	"l2hub/internal/wallclock"
)

// Summary is what a session did, as l2hub serve reports it when it stops:
// as text, as JSON (--json), or into a file (--summary) so that a short CI
// run keeps its counters.
type Summary struct {
	Schema  int    `json:"schema"` // control.Schema
	Version string `json:"version"`
	// Stopped says why the session ended: "signal" for a clean stop, else
	// the error that stopped it.
	Stopped string        `json:"stopped"`
	Ports   []PortSummary `json:"ports"`
	Policy  string        `json:"policy,omitempty"`
	Seed    uint64        `json:"seed"` // 0 without a policy
	// The policy's counters as the run ends, in the shape replay --json
	// and ctl rules --json give them; empty lists without a policy.
	control.PolicyCounters
	// RemovedRules are the rules that went out of force during the run,
	// in that order, each with the policy it belonged to and its counters
	// as it went: one ctl rule remove took out (why "removed"; a rule
	// added again under the same name is in Rules too, counted from 0),
	// or one of the policy a set-policy replaced (why "replaced"). With
	// Rules, they account for every frame a rule counted. [] when none.
	RemovedRules []RemovedRule `json:"removed_rules"`
	// RemovedRulesLeftOut counts the rules that went past the first
	// MaxRemovedRules, which alone RemovedRules keeps (a script that
	// replaces a large policy over and over).
	RemovedRulesLeftOut int             `json:"removed_rules_left_out,omitempty"`
	Capture             *CaptureSummary `json:"capture,omitempty"`
	Check               *checker.Report `json:"check,omitempty"`
	// Probes are the verdicts of the virtual peers that probe (--probe),
	// one per peer; a failed one makes serve exit 2, as a failed check
	// does, and one that gave no verdict (absent, none) exit 3.
	Probes []ProbeSummary `json:"probes,omitempty"`
	// Hints say what the counters suggest went wrong and how to fix it:
	// a listening port no VM ever reached while frames for it were
	// dropped (a QEMU started before the hub).
	Hints []string `json:"hints,omitempty"`
}

// RemovedRule is a rule that went out of force during the run: its
// counters, in the shape of Summary.Rules', the policy it was in, why and
// when it went.
type RemovedRule struct {
	filter.RuleStats
	Policy     string `json:"policy"`      // the policy's name (its file, "flags", "control")
	PolicyHash string `json:"policy_hash"` // as capture headers and the log give it
	// Why is "removed" (ctl rule remove) or "replaced" (set-policy put
	// another policy in force).
	Why         string `json:"why"`
	RemovedAtNS int64  `json:"removed_at_ns"` // since the hub started
}

// MaxRemovedRules bounds the rules an exit summary lists as gone out of
// force (Summary.RemovedRules); it counts the rest.
const MaxRemovedRules = 1024

// keepRemovedLocked adds rs to the rules gone out of force, up to
// MaxRemovedRules, counting the rest. s.mu is held.
func (s *Session) keepRemovedLocked(rs ...RemovedRule) {
	n := min(len(rs), MaxRemovedRules-len(s.removed))
	s.removed = append(s.removed, rs[:n]...)
	s.removedLeftOut += len(rs) - n
}

// The reasons a rule is among the removed ones (RemovedRule.Why).
const (
	WhyRemoved  = "removed"
	WhyReplaced = "replaced"
)

// removedRule is r of p as it went out of force at at, for why.
func removedRule(p *filter.Policy, r filter.RuleStats, why string, at time.Duration) RemovedRule {
	return RemovedRule{RuleStats: r, Policy: p.Name(), PolicyHash: p.Hash(), Why: why, RemovedAtNS: at.Nanoseconds()}
}

// ProbeSummary is a probing virtual peer's verdict at the end.
type ProbeSummary struct {
	Peer  string `json:"peer"`
	Probe string `json:"probe"`
	// Verdict is "ok" (the target behaved as the probe expects), "fail"
	// (it did not), "absent" (it never appeared: nothing was tested), or
	// "none" (the run ended before the probe could judge).
	Verdict  string `json:"verdict"`
	Observed string `json:"observed,omitempty"` // what the probe saw
}

// verdictNone is a probe's verdict in the summary when it gave none.
const verdictNone = "none"

// probeErr is what the probes' verdicts make of the run: ErrProbeFailed
// when one failed, else ErrProbeNoVerdict when one gave no verdict (its
// target absent, or the run ended first), else nil.
func (sum *Summary) probeErr() error {
	var err error
	for _, p := range sum.Probes {
		switch p.Verdict {
		case conformance.StatusFail.String():
			return ErrProbeFailed
		case conformance.StatusOK.String():
		default:
			err = ErrProbeNoVerdict
		}
	}
	return err
}

// PortSummary is one port's counters at the end.
type PortSummary struct {
	Name  string            `json:"name"`
	Stats hub.StatsSnapshot `json:"stats"` // as ctl ports --json and replay --json give them
}

// CaptureSummary is the capture's account at the end.
type CaptureSummary struct {
	Files      []string `json:"files"`
	Written    uint64   `json:"written"`
	QueueFull  uint64   `json:"queue_full,omitempty"`
	WriteError uint64   `json:"write_error,omitempty"`
	ReaderGone uint64   `json:"reader_gone,omitempty"` // frames after a stream's reader closed it (a viewer closed): no error
	Stuck      uint64   `json:"stuck,omitempty"`       // frames still queued when the capture gave up on a stream whose reader stopped reading
}

// summary gathers the counters of a stopped session.
func (s *Session) summary(stopped error) Summary {
	sum := Summary{Schema: control.Schema, Version: s.opts.Version, Stopped: "signal", Ports: []PortSummary{}, PolicyCounters: control.NewPolicyCounters(nil)}
	if stopped != nil {
		sum.Stopped = stopped.Error()
	}
	for _, st := range s.stats {
		sum.Ports = append(sum.Ports, PortSummary{Name: st.Name, Stats: st.Stats.Snapshot()})
	}
	if p := s.currentPolicy(); p != nil {
		// The state of partitions and links as the run ends (the core's
		// start is s.began), not as of the last frame the policy saw.
		st := p.StatsAt(wallclock.Clock{}.Now().Sub(s.began))
		sum.Policy, sum.Seed, sum.PolicyCounters = p.Name(), p.Seed(), control.NewPolicyCounters(&st)
	}
	s.mu.Lock()
	sum.RemovedRules = append([]RemovedRule{}, s.removed...) // [] when none, as the other lists
	sum.RemovedRulesLeftOut = s.removedLeftOut
	s.mu.Unlock()
	if s.capture != nil {
		st := s.capture.Stats()
		files := append([]string{}, s.capture.Files()...) // [] when none, as the other lists
		sum.Capture = &CaptureSummary{Files: files, Written: st.Written, QueueFull: st.QueueFull, WriteError: st.WriteError, ReaderGone: st.ReaderGone, Stuck: st.Stuck}
	}
	for _, h := range s.noPeerHints() {
		sum.Hints = append(sum.Hints, h.text)
	}
	if s.cfg.Probe != "" {
		for _, p := range s.peers {
			ps := ProbeSummary{Peer: p.role, Probe: s.cfg.Probe, Verdict: verdictNone}
			if v, ok := p.node.Verdict(); ok {
				ps.Verdict, ps.Observed = v.Status.String(), v.Observed
			}
			sum.Probes = append(sum.Probes, ps)
		}
	}
	return sum
}

// writeJSON writes sum as indented JSON.
func (sum *Summary) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // links as a->b, not a-\u003eb
	return enc.Encode(sum)
}

// writeText writes sum as people read it at exit: each port's counters,
// the policy's (control.WriteRules), and the capture's account.
func (sum *Summary) writeText(w io.Writer) {
	if len(sum.Ports) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPORT\tRX FRAMES\tTX FRAMES\tPAUSES\tDROPS")
	for _, p := range sum.Ports {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.Name, p.Stats.RxFrames, p.Stats.TxFrames, control.PausesText(p.Stats), control.DropsText(p.Stats.Drops))
	}
	tw.Flush()
	var moves []string
	for _, p := range sum.Ports {
		if p.Stats.MACMoves > 0 {
			moves = append(moves, fmt.Sprintf("%s=%d", p.Name, p.Stats.MACMoves))
		}
	}
	if len(moves) > 0 {
		fmt.Fprintf(w, "\nMAC moves (a MAC learned on one port came in on another): %s; if two VMs share a MAC, their unicasts to each other are dropped as reflect: give each its own mac=\n",
			strings.Join(moves, " "))
	}
	for _, h := range sum.Hints {
		fmt.Fprintf(w, "\nhint: %s\n", h)
	}
	if sum.Policy != "" || len(sum.Rules)+len(sum.Partitions)+len(sum.PortLinks) > 0 {
		fmt.Fprintln(w)
		control.WriteRules(w, filter.Stats{Rules: sum.Rules, Partitions: sum.Partitions, Ports: sum.PortLinks})
	}
	if len(sum.RemovedRules) > 0 {
		fmt.Fprintln(w)
		for _, r := range sum.RemovedRules {
			how := "removed by ctl rule remove"
			if r.Why == WhyReplaced {
				how = "replaced by set-policy"
			}
			fmt.Fprintf(w, "rule %s of policy %s (%s) %s at %v: matched %d, dropped %d, delayed %d, duplicated %d, corrupted %d, queued %d, overflowed %d\n",
				r.Rule, r.Policy, r.PolicyHash, how, time.Duration(r.RemovedAtNS).Round(time.Millisecond), r.Matched, r.Dropped, r.Delayed, r.Duplicated, r.Corrupted, r.Queued, r.Overflowed)
		}
		if sum.RemovedRulesLeftOut > 0 {
			fmt.Fprintf(w, "and %d more rules went out of force (the summary lists the first %d)\n", sum.RemovedRulesLeftOut, MaxRemovedRules)
		}
	}
	if c := sum.Capture; c != nil {
		if len(c.Files) == 0 { // per port, with no port's file started (a full disk)
			fmt.Fprintf(w, "\ncapture: no file was started (%d frames written)", c.Written)
		} else {
			fmt.Fprintf(w, "\ncapture: %d frames in %s", c.Written, strings.Join(c.Files, ", "))
		}
		if c.ReaderGone > 0 {
			// Closing the viewer is how one stops watching: the stream
			// ends there, without a gap inside it.
			fmt.Fprintf(w, ", until its reader closed it; %d frames after are not in it", c.ReaderGone)
		}
		if c.Stuck > 0 {
			// A reader that stopped reading (a paused process) is no
			// full disk: the run's error (capture.ErrWriteStuck) names
			// the stream, and the frames it never took are its own count.
			fmt.Fprintf(w, ", until its reader stopped reading; %d frames still queued then are not in it", c.Stuck)
		}
		if c.QueueFull > 0 || c.WriteError > 0 {
			fmt.Fprintf(w, "; %d lost (writer fell behind: %d, write errors: %d) - replay of this capture will not reproduce the run exactly",
				c.QueueFull+c.WriteError, c.QueueFull, c.WriteError)
		}
		fmt.Fprintln(w)
	}
	for _, p := range sum.Probes {
		fmt.Fprintf(w, "\nprobe %s on %s: %s", p.Probe, p.Peer, p.Verdict)
		if p.Observed != "" {
			fmt.Fprintf(w, ": %s", p.Observed)
		}
		fmt.Fprintln(w)
	}
}

// writeSummaryFile writes sum to path atomically.
func writeSummaryFile(path string, sum *Summary) error {
	var b bytes.Buffer
	if err := sum.writeJSON(&b); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}
