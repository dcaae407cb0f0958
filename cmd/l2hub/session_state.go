package main

import (
	"context"
	"strings"

	"l2hub/control"
	"l2hub/filter"
	"l2hub/hub"
)

// State implements control.Target: the policy's link and partition state,
// evaluated on the hub loop at the loop's now, so a flap schedule or a timed
// partition shows its current state even when no frame has crossed since
// it changed.
func (s *session) State(ctx context.Context) (control.State, error) {
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
