package control

import (
	"context"
	"slices"

	"l2hub/filter"
	"l2hub/hub"
)

// LinkState is one port's link as the policy sees it. A port the policy
// has never touched is up.
type LinkState struct {
	Port     string `json:"port"`
	Up       bool   `json:"up"`
	Schedule string `json:"schedule,omitempty"` // the flap schedule that moves it; "" if only the control API does
	Dropped  uint64 `json:"dropped"`            // frames dropped while it was down
}

// PartitionState is one partition, from the policy file or the control API.
type PartitionState struct {
	Name    string     `json:"name"`
	Groups  [][]string `json:"groups"` // port names; ports in different groups cannot reach each other
	Active  bool       `json:"active"`
	Dropped uint64     `json:"dropped"` // frames it dropped
}

// State is the policy's link and partition state at one instant: every
// partition, and the ports whose link the policy knows.
type State struct {
	Links      []LinkState      `json:"links"`
	Partitions []PartitionState `json:"partitions"`
}

// PortStatus is one port as GET /v1/ports shows it: the hub's view (peer,
// counters) and the policy's (link state, partitions cutting it off).
type PortStatus struct {
	hub.PortStatus
	// Link is "down" while the policy holds the port's link down (ctl link,
	// a flap schedule), else "not-open" when the port's transport could
	// not be opened (serve --optional: no VM can attach, NotOpen says
	// why), else "no-peer" while no VM is attached (frames for it are
	// dropped as port-down), else "up": what ctl ports shows.
	Link string `json:"link"`
	// NotOpen is why the port's transport could not be opened (serve
	// --optional), as the ready file's "down" says it; "" once it was.
	NotOpen    string   `json:"not_open,omitempty"`
	Partitions []string `json:"partitions"` // active partitions that separate it from other ports
}

// Up reports whether the policy has the port's link up, a VM attached or
// not, the port open or not ("up", "no-peer" or "not-open"):
// l2hub_port_link_up.
func (p PortStatus) Up() bool { return p.Link != "down" }

// portStatuses joins the hub's ports with the policy's state and notOpen,
// why the ports whose transport could not be opened were not
// (PortOpener).
func portStatuses(ports []hub.PortStatus, st State, notOpen map[string]string) []PortStatus {
	out := make([]PortStatus, len(ports))
	for i, p := range ports {
		ps := PortStatus{PortStatus: p, Link: "up", NotOpen: notOpen[p.Name], Partitions: []string{}}
		if j := slices.IndexFunc(st.Links, func(l LinkState) bool { return l.Port == p.Name }); j >= 0 && !st.Links[j].Up {
			ps.Link = "down"
		} else if ps.NotOpen != "" {
			ps.Link = "not-open"
		} else if !p.Attached {
			ps.Link = "no-peer"
		}
		for _, pt := range st.Partitions {
			if pt.Active && slices.ContainsFunc(pt.Groups, func(g []string) bool { return slices.Contains(g, p.Name) }) {
				ps.Partitions = append(ps.Partitions, pt.Name)
			}
		}
		out[i] = ps
	}
	return out
}

// ports is GET /v1/ports: the hub's ports with their link and partition state.
func (s *Server) ports(ctx context.Context) ([]PortStatus, error) {
	ports, err := s.Target.Ports(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.Target.State(ctx)
	if err != nil {
		return nil, err
	}
	var notOpen map[string]string
	if po, ok := s.Target.(PortOpener); ok {
		notOpen = po.NotOpen()
	}
	return portStatuses(ports, st, notOpen), nil
}

// rules is GET /v1/rules: the policy's counters, each list [] rather than
// null when it has nothing (no policy, no partitions), so that a script
// can take its length.
func (s *Server) rules(ctx context.Context) (filter.Stats, error) {
	st, err := s.Target.Rules(ctx)
	if err != nil {
		return st, err
	}
	st.Rules, st.Partitions, st.Ports = orEmpty(st.Rules), orEmpty(st.Partitions), orEmpty(st.Ports)
	return st, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
