package control

import (
	"time"

	"l2hub/filter"
	"l2hub/hub"
)

// RulesDocument is what `l2hub ctl rules --json` prints: the policy's
// counters in the shape serve's summary and replay --json give them.
type RulesDocument struct {
	Schema int `json:"schema"`
	PolicyCounters
}

// NewRulesDocument returns st's counters as ctl rules --json prints them.
func NewRulesDocument(st filter.Stats) RulesDocument {
	return RulesDocument{Schema, NewPolicyCounters(&st)}
}

// PortsDocument is what `l2hub ctl ports --json` prints: the ports, each as
// the control API gives it, but for the current pause's length, which is
// paused_for_ns as every duration l2hub prints is suffixed with its unit
// (stats.paused_ns beside it).
type PortsDocument struct {
	Schema int            `json:"schema"`
	Ports  []PortDocument `json:"ports"`
}

// PortDocument is one port of a PortsDocument.
type PortDocument struct {
	PortStatus
	Flow FlowDocument `json:"flow"` // hides PortStatus's
}

// FlowDocument is a port's flow control as a PortsDocument gives it.
type FlowDocument struct {
	hub.FlowStatus
	PausedFor time.Duration `json:"paused_for_ns,omitempty"`
	// Unsuffixed is nil, and hides hub.FlowStatus's own paused_for: a
	// field of a struct hides one of the same name in a struct it embeds.
	Unsuffixed *struct{} `json:"paused_for,omitempty"`
}

// NewPortsDocument returns ports as ctl ports --json prints them.
func NewPortsDocument(ports []PortStatus) PortsDocument {
	doc := PortsDocument{Schema: Schema, Ports: make([]PortDocument, len(ports))}
	for i, p := range ports {
		doc.Ports[i] = PortDocument{PortStatus: p, Flow: FlowDocument{FlowStatus: p.Flow, PausedFor: p.Flow.PausedFor}}
	}
	return doc
}
