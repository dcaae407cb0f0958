package vnode_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/vnode"
	"l2hub/hub"
	"l2hub/internal/wallclock"
)

// milestones collects the lines nodes print.
type milestones struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func (m *milestones) add(ms conformance.Milestone) {
	m.mu.Lock()
	m.lines = append(m.lines, ms.String())
	m.mu.Unlock()
	select {
	case m.ch <- ms.String():
	default:
	}
}

func (m *milestones) has(line string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.lines, func(l string) bool { return strings.HasPrefix(l, line) })
}

// TestVirtualNodesThroughTheHub runs node-a and node-b, each on its own
// netstack host, through a live hub, and waits for both to finish the
// proxy exchange.
func TestVirtualNodesThroughTheHub(t *testing.T) {
	dir := t.TempDir()
	sink, err := capture.Open(capture.Config{Path: filepath.Join(dir, "run.pcapng"), Overflow: capture.OverflowBlock})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{Mode: hub.ModeSwitch, Clock: wallclock.Clock{}, Observers: []hub.Observer{sink}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hubDone := make(chan error, 1)
	go func() { hubDone <- h.Run(ctx) }()

	ms := &milestones{ch: make(chan string, 64)}
	runs := make(chan error, 2)
	for _, role := range []conformance.Role{conformance.RoleB, conformance.RoleA} {
		n, err := vnode.New(vnode.Config{Role: role, Clock: conformance.ClockFunc(time.After), OnMilestone: ms.add})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.AddPort(role.String(), "virtual "+role.String()); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Attach(role.String(), n.Host); err != nil {
			t.Fatal(err)
		}
		go func() { runs <- n.Run(ctx) }()
	}

	want := []string{
		"nexus discovery ok node-a peer=node-b",
		"nexus session ok node-a",
		"nexus session ok node-b",
		"nexus mux ok node-a",
		"nexus proxy ok node-a service=samgrd",
		"nexus proxy ok node-a service=bundlemgrd",
	}
	for {
		done := true
		for _, w := range want {
			if !ms.has(w) {
				done = false
			}
		}
		if done {
			break
		}
		select {
		case <-ms.ch:
		case err := <-runs:
			if err != nil {
				t.Fatalf("a node stopped: %v; milestones so far: %q", err, ms.lines)
			}
		case <-ctx.Done():
			t.Fatalf("milestones after 60s: %q; want all of %q", ms.lines, want)
		}
	}
	t.Logf("milestones: %q", ms.lines)
	cancel()
	<-hubDone
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Written == 0 {
		t.Errorf("the capture recorded nothing: %+v", st)
	}
}
