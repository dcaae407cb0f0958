// Package hubtest drives the real hub.Core synchronously in virtual time, as
// net/http/httptest drives a handler: Send runs a frame through ingress,
// policy, forwarding and delivery before it returns, and Advance moves the
// virtual clock through every timer deadline in order. Nothing runs on
// another goroutine, so a test's output is a pure function of its input.
//
// A Sim is not safe for concurrent use.
package hubtest

import (
	"slices"
	"testing"
	"time"

	"l2hub/hub"
)

// Config configures a Sim.
type Config struct {
	Mode      hub.Mode
	Ports     []string // port names, attached from the start
	Policy    hub.Policy
	Observers []hub.Observer // extra observers (captures) after the Sim's own
	Start     time.Time      // virtual start time; zero means hub.DefaultEpoch
	AgingTime time.Duration
}

// Delivery is one frame a port's peer received.
type Delivery struct {
	At    time.Duration // since the start
	Port  string
	Frame []byte
	Notes []hub.Note // why rules acted on this copy (delay, corrupt, ...)
}

// Sim is a hub core with recording peers on every port.
type Sim struct {
	Clock *hub.VirtualClock
	core  *hub.Core
	start time.Time
	ids   map[string]hub.PortID
	got   map[string][]Delivery
	all   []Delivery
	evs   []hub.Event
}

// New returns a Sim with cfg's ports attached. Failing to build it fails tb.
func New(tb testing.TB, cfg Config) *Sim {
	tb.Helper()
	start := cfg.Start
	if start.IsZero() {
		start = hub.DefaultEpoch
	}
	s := &Sim{
		Clock: hub.NewVirtualClock(start),
		start: start,
		ids:   make(map[string]hub.PortID),
		got:   make(map[string][]Delivery),
	}
	s.core = hub.NewCore(hub.CoreConfig{
		Mode:      cfg.Mode,
		Clock:     s.Clock,
		Policy:    cfg.Policy,
		Observers: append([]hub.Observer{recorder{s}}, cfg.Observers...),
		AgingTime: cfg.AgingTime,
	})
	for _, name := range cfg.Ports {
		s.AddPort(tb, name)
	}
	return s
}

// AddPort adds and attaches a port.
func (s *Sim) AddPort(tb testing.TB, name string) {
	tb.Helper()
	id, err := s.core.AddPort(name, "hubtest "+name, sink{})
	if err != nil {
		tb.Fatalf("hubtest: %v", err)
	}
	s.ids[name] = id
}

// Core returns the core under test.
func (s *Sim) Core() *hub.Core { return s.core }

// Now returns the virtual time since the start.
func (s *Sim) Now() time.Duration { return s.Clock.Now().Sub(s.start) }

// Send delivers frame into the hub from port's peer at the current virtual
// time and forwards it before returning. The Sim keeps its own copy.
func (s *Sim) Send(port string, frame []byte) {
	id, ok := s.ids[port]
	if !ok {
		panic("hubtest: Send on unknown port " + port)
	}
	s.core.RunDue()
	s.core.Ingress(id, hub.FrameOf(frame))
}

// SendAt advances the clock to at (since the start), then sends.
func (s *Sim) SendAt(at time.Duration, port string, frame []byte) {
	s.AdvanceTo(at)
	s.Send(port, frame)
}

// Advance moves the clock forward by d, stopping at every timer deadline on
// the way so each delayed frame is delivered at its own time.
func (s *Sim) Advance(d time.Duration) { s.AdvanceTo(s.Now() + d) }

// AdvanceTo moves the clock to at (since the start); see Advance.
func (s *Sim) AdvanceTo(at time.Duration) {
	target := s.start.Add(at)
	for {
		dl, ok := s.core.NextDeadline()
		if !ok || dl.After(target) {
			break
		}
		s.Clock.Set(dl)
		s.core.RunDue()
	}
	s.Clock.Set(target)
}

// Drain advances until no timer is pending and returns how far it went.
func (s *Sim) Drain() time.Duration {
	from := s.Now()
	for {
		dl, ok := s.core.NextDeadline()
		if !ok {
			return s.Now() - from
		}
		s.AdvanceTo(dl.Sub(s.start))
	}
}

// Received returns what port's peer has received so far, oldest first.
func (s *Sim) Received(port string) []Delivery { return s.got[port] }

// Take returns and forgets what port's peer has received.
func (s *Sim) Take(port string) []Delivery {
	d := s.got[port]
	delete(s.got, port)
	return d
}

// Deliveries returns every delivery on every port in the order they happened.
func (s *Sim) Deliveries() []Delivery { return s.all }

// Events returns a copy of every event observed (ingress and egress).
func (s *Sim) Events() []hub.Event { return s.evs }

// Stats returns a port's counters.
func (s *Sim) Stats(port string) *hub.PortStats { return s.core.Stats(s.ids[port]) }

// recorder observes the core and keeps copies of what it sees.
type recorder struct{ s *Sim }

func (r recorder) Observe(ev *hub.Event) {
	cp := *ev
	cp.Frame = slices.Clone(ev.Frame)
	cp.Notes = slices.Clone(ev.Notes)
	r.s.evs = append(r.s.evs, cp)
	if ev.Dir != hub.Egress || ev.Dropped {
		return
	}
	d := Delivery{At: ev.Time.Sub(r.s.start), Port: ev.PortName, Frame: cp.Frame, Notes: cp.Notes}
	r.s.got[ev.PortName] = append(r.s.got[ev.PortName], d)
	r.s.all = append(r.s.all, d)
}

// sink is a peer that reads instantly: every frame is accepted and released;
// the recorder has already copied it from the egress event.
type sink struct{}

func (sink) Enqueue(f *hub.Frame) bool {
	f.Release()
	return true
}
