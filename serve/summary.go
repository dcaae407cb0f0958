package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"l2hub/conformance/checker"
	"l2hub/control"
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
	Capture *CaptureSummary `json:"capture,omitempty"`
	Check   *checker.Report `json:"check,omitempty"`
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
	if s.capture != nil {
		st := s.capture.Stats()
		sum.Capture = &CaptureSummary{Files: s.capture.Files(), Written: st.Written, QueueFull: st.QueueFull, WriteError: st.WriteError}
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
