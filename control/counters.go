package control

import "l2hub/filter"

// Schema is the version of the JSON documents l2hub prints for scripts,
// each of which says it as "schema": 1: serve's summary (--json,
// --summary), replay --json, ctl ports --json and ctl rules --json. Within
// one schema fields are only added, so a reader ignores the fields it does
// not know and refuses a schema above its own.
const Schema = 1

// PolicyCounters are a policy's counters as every one of those documents
// that has them gives them, at its top level: the rules' counters, the
// partitions' state and drops and every port's link state, lists in the
// policy's order (the links in the hub's), empty (never null) without a
// policy. So one script reads
// a live run's summary, its replay and a running hub's ctl rules alike.
type PolicyCounters struct {
	Rules      []filter.RuleStats      `json:"rules"`
	Partitions []filter.PartitionStats `json:"partitions"`
	PortLinks  []filter.PortStats      `json:"port_links"`
}

// NewPolicyCounters returns st's counters; st nil (no policy) gives empty
// lists.
func NewPolicyCounters(st *filter.Stats) PolicyCounters {
	c := PolicyCounters{Rules: []filter.RuleStats{}, Partitions: []filter.PartitionStats{}, PortLinks: []filter.PortStats{}}
	if st != nil {
		c.Rules = append(c.Rules, st.Rules...)
		c.Partitions = append(c.Partitions, st.Partitions...)
		c.PortLinks = append(c.PortLinks, st.Ports...)
	}
	return c
}
