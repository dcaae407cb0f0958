package vsim

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"l2hub/hub"
	"l2hub/internal/idle"
)

// Host is a Sim port's peer: a netstack.Host, or anything else that sends
// without blocking (PollFrame) and takes frames synchronously (WriteFrame).
type Host interface {
	// PollFrame copies the next frame the host sends into buf; ok is false
	// when it has none right now.
	PollFrame(buf []byte) (n int, ok bool, err error)
	// WriteFrame hands the host a frame the hub delivers.
	WriteFrame(frame []byte) error
}

// Config configures a Sim.
type Config struct {
	Mode      hub.Mode
	Policy    hub.Policy
	Observers []hub.Observer // captures and checkers, called on the driver
	Start     time.Time      // virtual start; zero means hub.DefaultEpoch
	MaxFrame  int            // largest frame a host sends; 0 means 65535
}

// Stats counts a Sim's events.
type Stats struct {
	Sent      int // frames taken from hosts into the core
	Delivered int // frames handed to hosts
	Refused   int // deliveries a host refused (closed, oversized, runt)
	Timers    int // clock and core timers fired
}

// ErrStalled is returned by Run when nothing can happen any more: no frame
// in flight and no timer pending, and the condition still false.
var ErrStalled = errors.New("vsim: stalled: no frame in flight and no timer pending")

// Sim is a hub core with hosts on its ports, driven in virtual time. It is
// used from one goroutine; the hosts' own goroutines run between events.
type Sim struct {
	// Clock is every host's, node's and the core's time: a hub.Clock for
	// the core, the netstack hosts (netstack.Config.Clock) and the nodes
	// (conformance.Config.Clock). Its timers fire only when the Sim fires
	// them, one at a time, in (deadline, creation) order.
	Clock *hub.VirtualClock
	core  *hub.Core
	drv   hub.Driver
	ports []*port // by name: the order hosts are polled in
	queue []delivery
	buf   []byte
	stats Stats
	// pinned: this Sim holds the process at one processor until Close.
	pinned bool
}

// procs pins the process to one processor while any Sim is open:
// GOMAXPROCS=1 from the first New to the last Close, then what it was.
var procs struct {
	sync.Mutex
	open int // Sims not yet closed
	was  int // GOMAXPROCS before the first
}

func pinProcs() {
	procs.Lock()
	defer procs.Unlock()
	if procs.open == 0 {
		procs.was = runtime.GOMAXPROCS(1)
	}
	procs.open++
}

func unpinProcs() {
	procs.Lock()
	defer procs.Unlock()
	procs.open--
	if procs.open == 0 {
		restoreProcs(procs.was)
	}
}

// setDefaultProcs is runtime.SetDefaultGOMAXPROCS; a test counts its calls.
var setDefaultProcs = runtime.SetDefaultGOMAXPROCS

// restoreProcs gives the process back its GOMAXPROCS, was. A call of
// runtime.GOMAXPROCS(n) turns off the runtime's automatic updates (to the
// CPU count, affinity and cgroup limit) for the rest of the process, so
// when was is the runtime's default and no GOMAXPROCS environment variable
// set it, it goes back through runtime.SetDefaultGOMAXPROCS, which turns
// them on again; any other value is set as it was, explicitly. Whether was
// came from the default or from a call that chose the same number cannot
// be told apart; both get the default back, updates on.
func restoreProcs(was int) {
	if os.Getenv("GOMAXPROCS") == "" {
		setDefaultProcs()
		if runtime.GOMAXPROCS(0) == was {
			return
		}
	}
	runtime.GOMAXPROCS(was)
}

type port struct {
	s    *Sim
	name string
	id   hub.PortID
	host Host
}

type delivery struct {
	to *port
	f  *hub.Frame
}

// Enqueue implements hub.EgressQueue: deliveries wait for the driver, which
// hands them over one event at a time. The hosts take what they are handed
// at once, so the core never holds a sender back (Depth reports nothing
// waiting): the Sim's order is the driver's.
func (p *port) Enqueue(f *hub.Frame) {
	p.s.queue = append(p.s.queue, delivery{p, f})
}

// Depth implements hub.EgressQueue.
func (p *port) Depth() hub.QueueDepth { return hub.QueueDepth{} }

// WatchDrain implements hub.EgressQueue; with nothing ever waiting, there
// is no drain to watch for.
func (p *port) WatchDrain(int) {}

// New returns a Sim with no ports. From now until Close the process runs
// on one processor (runtime.GOMAXPROCS(1); Close restores the setting, the
// runtime's automatic one included, once no Sim is open): see the package
// documentation.
func New(cfg Config) *Sim {
	pinProcs()
	start := cfg.Start
	if start.IsZero() {
		start = hub.DefaultEpoch
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 65535
	}
	s := &Sim{Clock: hub.NewVirtualClock(start), buf: make([]byte, cfg.MaxFrame), pinned: true}
	s.core = hub.NewCore(hub.CoreConfig{
		Mode:      cfg.Mode,
		Clock:     s.Clock,
		Policy:    cfg.Policy,
		Observers: cfg.Observers,
	})
	// The clock's timers start on their own goroutines, as the stacks
	// expect of a tcpip.Clock, and each has run as far as it can before the
	// next event.
	s.drv = hub.Driver{Clock: s.Clock, Core: s.core, Settle: idle.Settle}
	return s
}

// Core returns the hub core the Sim drives.
func (s *Sim) Core() *hub.Core { return s.core }

// Stats returns the Sim's counters.
func (s *Sim) Stats() Stats { return s.stats }

// Attach adds port name with host as its peer.
func (s *Sim) Attach(name, desc string, host Host) error {
	p := &port{s: s, name: name, host: host}
	id, err := s.core.AddPort(name, desc, p)
	if err != nil {
		return err
	}
	p.id = id
	i, _ := slices.BinarySearchFunc(s.ports, name, func(q *port, n string) int { return strings.Compare(q.name, n) })
	s.ports = slices.Insert(s.ports, i, p)
	return nil
}

// Go starts fn on its own goroutine, as a program on the simulated network,
// and returns once every goroutine is idle again, so that programs started
// one after the other begin in that order rather than racing.
func (s *Sim) Go(fn func()) error {
	go fn()
	return idle.Settle()
}

// Run drives the Sim until done reports true (checked whenever the process
// is idle), nothing can happen any more (ErrStalled), or virtual time
// passes limit.
func (s *Sim) Run(done func() bool, limit time.Duration) error {
	for {
		if err := idle.Settle(); err != nil {
			return err
		}
		if done != nil && done() {
			return nil
		}
		if el := s.Clock.Elapsed(); el > limit {
			return fmt.Errorf("vsim: virtual time %v passed the limit %v", el, limit)
		}
		moved, err := s.event()
		if err != nil {
			return err
		}
		if !moved {
			return ErrStalled
		}
	}
}

// Step settles, then performs one event; it reports false when there was
// none to perform.
func (s *Sim) Step() (bool, error) {
	if err := idle.Settle(); err != nil {
		return false, err
	}
	return s.event()
}

// event performs the first of: a pending delivery, a frame a host sent, the
// earliest timer (core timers before clock timers at the same instant).
func (s *Sim) event() (bool, error) {
	if len(s.queue) > 0 {
		d := s.queue[0]
		s.queue[0] = delivery{}
		s.queue = s.queue[1:]
		err := d.to.host.WriteFrame(d.f.Bytes())
		d.f.Release()
		var fe *hub.FrameError
		switch {
		case err == nil:
			s.stats.Delivered++
		case errors.Is(err, net.ErrClosed), errors.As(err, &fe):
			s.stats.Refused++
		default:
			return false, fmt.Errorf("vsim: deliver to %s: %w", d.to.name, err)
		}
		return true, nil
	}
	for _, p := range s.ports {
		n, ok, err := p.host.PollFrame(s.buf)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return false, fmt.Errorf("vsim: read from %s: %w", p.name, err)
		}
		if ok && err == nil {
			s.stats.Sent++
			s.core.RunDue()
			s.core.Ingress(p.id, hub.FrameOf(s.buf[:n]))
			return true, nil
		}
	}
	moved := s.drv.Step()
	if err := s.drv.Err(); err != nil {
		return false, err
	}
	if !moved {
		return false, nil
	}
	s.stats.Timers++
	return true, nil
}

// Close releases the frames still in flight and the core's timers, and
// gives the process back its processors once no Sim is open. A second
// Close does nothing more.
func (s *Sim) Close() {
	if s.pinned {
		s.pinned = false
		defer unpinProcs()
	}
	for _, d := range s.queue {
		d.f.Release()
	}
	s.queue = nil
	s.core.Close()
}
