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
	// Flow control, as in hub.CoreConfig; zero values take its defaults.
	QueueLen int
	Overflow hub.Overflow
	Stall    time.Duration
}

// Delivery is one frame a port's peer received.
type Delivery struct {
	At    time.Duration // since the start: when the hub queued it for the peer (the capture's time)
	Read  time.Duration // since the start: when the peer took it
	Port  string
	Frame []byte
	Notes []hub.Note // why rules acted on this copy (delay, corrupt, ...)
}

// Sim is a hub core with recording peers on every port.
type Sim struct {
	Clock *hub.VirtualClock
	core  *hub.Core
	drv   hub.Driver
	start time.Time
	ports []*port // by name
	ids   map[string]*port
	got   map[string][]Delivery
	all   []Delivery
	evs   []hub.Event
}

// port is one port's peer and the egress queue in front of it.
type port struct {
	s     *Sim
	name  string
	id    hub.PortID
	queue []Delivery // queued by the core, not yet read by the peer
	sizes []int      // the Footprint of each frame in queue
	bytes int        // their sum, as a live queue counts
	taken uint64
	low   int // WatchDrain's threshold, -1 when none
	// How the peer reads: at once, one frame per every, or only on Read.
	reading bool
	every   time.Duration
	ticking bool // a read is scheduled on the core's timers
	// held are frames the peer sent while the core paused the port.
	held [][]byte
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
		ids:   make(map[string]*port),
		got:   make(map[string][]Delivery),
	}
	s.core = hub.NewCore(hub.CoreConfig{
		Mode:      cfg.Mode,
		Clock:     s.Clock,
		Policy:    cfg.Policy,
		Observers: append([]hub.Observer{recorder{s}}, cfg.Observers...),
		AgingTime: cfg.AgingTime,
		QueueLen:  cfg.QueueLen,
		Overflow:  cfg.Overflow,
		Stall:     cfg.Stall,
	})
	s.drv = hub.Driver{Clock: s.Clock, Core: s.core}
	for _, name := range cfg.Ports {
		s.AddPort(tb, name)
	}
	return s
}

// AddPort adds and attaches a port whose peer reads at once.
func (s *Sim) AddPort(tb testing.TB, name string) {
	tb.Helper()
	s.AddPortWith(tb, name, hub.PortOptions{})
}

// AddPortWith adds and attaches a port with its own flow options.
func (s *Sim) AddPortWith(tb testing.TB, name string, o hub.PortOptions) {
	tb.Helper()
	p := &port{s: s, name: name, low: -1, reading: true}
	id, err := s.core.AddPortWith(name, "hubtest "+name, p, o)
	if err != nil {
		tb.Fatalf("hubtest: %v", err)
	}
	p.id = id
	s.ids[name] = p
	i, _ := slices.BinarySearchFunc(s.ports, name, func(q *port, n string) int {
		switch {
		case q.name < n:
			return -1
		case q.name > n:
			return 1
		}
		return 0
	})
	s.ports = slices.Insert(s.ports, i, p)
}

// Core returns the core under test.
func (s *Sim) Core() *hub.Core { return s.core }

// Now returns the virtual time since the start.
func (s *Sim) Now() time.Duration { return s.Clock.Now().Sub(s.start) }

func (s *Sim) port(name string) *port {
	p, ok := s.ids[name]
	if !ok {
		panic("hubtest: unknown port " + name)
	}
	return p
}

// Send delivers frame into the hub from port's peer at the current virtual
// time and forwards it before returning, unless the core has paused the
// port: then the frame waits with the peer, in order, until the core lets
// the port go. The Sim keeps its own copy.
func (s *Sim) Send(port string, frame []byte) {
	p := s.port(port)
	p.held = append(p.held, slices.Clone(frame))
	s.pump()
}

// SendAt advances the clock to at (since the start), then sends.
func (s *Sim) SendAt(at time.Duration, port string, frame []byte) {
	s.AdvanceTo(at)
	s.Send(port, frame)
}

// SetReading makes port's peer read every frame at once (true, the default)
// or stop reading (false).
func (s *Sim) SetReading(port string, reading bool) {
	p := s.port(port)
	p.reading, p.every = reading, 0
	s.pump()
}

// SetReadEvery makes port's peer take one frame per d of virtual time.
func (s *Sim) SetReadEvery(port string, d time.Duration) {
	if d <= 0 {
		panic("hubtest: SetReadEvery needs a positive interval")
	}
	p := s.port(port)
	p.reading, p.every = false, d
	p.tick()
	s.pump()
}

// Read makes port's peer take up to n waiting frames now, and returns how
// many it took.
func (s *Sim) Read(port string, n int) int {
	k := s.port(port).read(n)
	s.pump()
	return k
}

// Queued returns how many frames wait in port's egress queue.
func (s *Sim) Queued(port string) int { return len(s.port(port).queue) }

// Held returns how many frames port's peer holds because the core paused it.
func (s *Sim) Held(port string) int { return len(s.port(port).held) }

// Paused reports whether the core holds port's sender back.
func (s *Sim) Paused(port string) bool { return s.core.Paused(s.port(port).id) }

// pump runs the peers until nothing more happens at this instant: readers
// that read at once take their frames (which may let paused ports go), and
// ports the core does not pause forward what their peers hold, one frame
// per port per round, in port-name order.
func (s *Sim) pump() {
	for progress := true; progress; {
		progress = false
		for _, p := range s.ports {
			if p.reading && len(p.queue) > 0 {
				p.read(len(p.queue))
				progress = true
			}
		}
		for _, p := range s.ports {
			if len(p.held) > 0 && !s.core.Paused(p.id) {
				f := p.held[0]
				p.held[0] = nil
				p.held = p.held[1:]
				s.core.Ingress(p.id, hub.FrameOf(f))
				progress = true
			}
		}
	}
}

// read takes up to n frames from the queue as the peer's reads.
func (p *port) read(n int) int {
	n = min(n, len(p.queue))
	now := p.s.Now()
	for i, d := range p.queue[:n] {
		d.Read = now
		p.bytes -= p.sizes[i]
		p.s.got[p.name] = append(p.s.got[p.name], d)
		p.s.all = append(p.s.all, d)
	}
	p.queue = slices.Delete(p.queue, 0, n)
	p.sizes = slices.Delete(p.sizes, 0, n)
	p.taken += uint64(n)
	if n > 0 && p.low >= 0 && len(p.queue) <= p.low {
		p.s.core.Drained(p.id)
	}
	return n
}

// tick schedules the next read of a peer that reads one frame per every,
// while frames wait for it: a peer with nothing to read schedules nothing,
// so Drain ends.
func (p *port) tick() {
	if p.every <= 0 || p.ticking || len(p.queue) == 0 {
		return
	}
	p.ticking = true
	every := p.every
	p.s.core.After(every, func() {
		p.ticking = false
		if p.every == every {
			p.read(1)
		}
		p.tick()
	})
}

// Enqueue implements hub.EgressQueue. The recorder fills in the delivery
// from the egress event that follows.
func (p *port) Enqueue(f *hub.Frame) {
	p.queue = append(p.queue, Delivery{Port: p.name})
	p.sizes = append(p.sizes, f.Footprint())
	p.bytes += f.Footprint()
	f.Release()
	p.tick()
}

// Depth implements hub.EgressQueue.
func (p *port) Depth() hub.QueueDepth {
	return hub.QueueDepth{Frames: len(p.queue), Bytes: p.bytes, Taken: p.taken}
}

// WatchDrain implements hub.EgressQueue.
func (p *port) WatchDrain(low int) { p.low = low }

// Advance moves the clock forward by d, stopping at every timer deadline on
// the way so each delayed frame is delivered at its own time.
func (s *Sim) Advance(d time.Duration) { s.AdvanceTo(s.Now() + d) }

// AdvanceTo moves the clock to at (since the start); see Advance. The
// peers read and send what they can after every deadline (hub.Driver).
func (s *Sim) AdvanceTo(at time.Duration) {
	s.drv.AdvanceTo(s.start.Add(at), s.pump)
	s.pump()
}

// Drain advances until no timer is pending and returns how far it went.
func (s *Sim) Drain() time.Duration {
	from := s.Now()
	s.drv.Drain(s.pump)
	return s.Now() - from
}

// Received returns what port's peer has received so far, oldest first.
func (s *Sim) Received(port string) []Delivery { return s.got[port] }

// Take returns and forgets what port's peer has received.
func (s *Sim) Take(port string) []Delivery {
	d := s.got[port]
	delete(s.got, port)
	return d
}

// Deliveries returns every delivery on every port in the order the peers
// read them.
func (s *Sim) Deliveries() []Delivery { return s.all }

// Events returns a copy of every event observed (ingress and egress).
func (s *Sim) Events() []hub.Event { return s.evs }

// Stats returns a port's counters.
func (s *Sim) Stats(port string) *hub.PortStats { return s.core.Stats(s.port(port).id) }

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
	// The core queued this frame just before telling its observers.
	p := r.s.ids[ev.PortName]
	d := &p.queue[len(p.queue)-1]
	d.At = ev.Time.Sub(r.s.start)
	d.Frame = cp.Frame
	d.Notes = cp.Notes
}
