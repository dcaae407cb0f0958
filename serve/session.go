package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"l2hub/capture"
	"l2hub/conformance"
	"l2hub/conformance/checker"
	"l2hub/conformance/vnode"
	"l2hub/filter"
	"l2hub/hub"
	"l2hub/internal/wallclock"
	"l2hub/transport"
)

// Options are what a Session needs besides its Config.
type Options struct {
	// Out receives the marker lines of the virtual peers and the live
	// checker ("l2hub: nexus session ok node-a->node-b"); nil discards them.
	Out io.Writer
	// Logger receives the hub's and the transports' logs; nil discards. Some
	// records are logged on the hub loop (a MAC move, a stall, --log-level
	// debug's decisions): a writer that blocks holds every port, so give it
	// one that does not (l2hub serve's stderr is a logq.Writer).
	Logger *slog.Logger
	// Version is the l2hub version captures record.
	Version string
	// ReadyFile, when set, is written (atomically, as JSON: pid, control
	// API, every port's address and -netdev value) once every port and the
	// control API are bound, and removed when the session stops. With
	// NOTIFY_SOCKET set, systemd hears READY=1 at the same moment.
	ReadyFile string
	// SummaryOut receives the counters (and a live checker's report) when
	// Run stops: a table, or JSON with JSON set; nil means Out.
	SummaryOut io.Writer
	JSON       bool
	// SummaryFile, when set, receives the same summary as JSON, written
	// whatever ended the run.
	SummaryFile string
	// CaptureOut, with the capture on standard output (capture.Stdout),
	// receives the stream instead of the process's standard output: an
	// in-process caller's writer. nil: the process's.
	CaptureOut io.Writer

	stop <-chan struct{} // Run's context's: ends New's wait for a named pipe's reader
	// noPeerTick, when set, replaces the ticker (every noPeerPoll) at
	// which the session looks for ports no VM ever reached (watchNoPeers).
	noPeerTick <-chan time.Time
}

// Session is one run of the serve application: the bound transports, the
// live hub, the policy in force, the capture, the live checker and the
// virtual peers. New binds, Start runs, Stop shuts down; in between it is
// the control API's Target. Its methods are safe for concurrent use.
type Session struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	hub     *hub.Hub
	began   time.Time // when policy time begins
	runners []transport.Runner
	peers   []peer
	capture *capture.Sink
	// classicPcap is the capture's format when it is not pcapng ("" when
	// it is, or there is none); pcapWarned: warnClassicPcap has warned.
	classicPcap string
	pcapWarned  sync.Once
	checker     *checker.Checker
	// newFileWait is ReplacePolicy's bound on its wait for the capture's
	// new file (newFileWait when 0); a test lengthens it.
	newFileWait time.Duration
	// decisions logs every rule's decision; nil unless debug logging is on.
	decisions *decisionLog

	outMu  sync.Mutex     // serialises marker lines on opts.Out
	mu     sync.Mutex     // guards policy and removed (written on the hub loop, read by /metrics and the summary)
	policy *filter.Policy // nil: forward everything unchanged
	// removed are the rules ctl rule remove took out or set-policy
	// replaced, with their last counters, for the exit summary: the
	// first MaxRemovedRules, and a count of the rest (removedLeftOut).
	removed        []RemovedRule
	removedLeftOut int

	stats     []PortStats // filled by Start; readable after Stop
	closeOnce sync.Once

	regOnce     sync.Once
	reg         *prometheus.Registry // Registry's
	metricsAddr string               // the metrics endpoint's, as --metrics takes it, once it serves (Run)

	// Set by Start, used by Stop.
	cancel   context.CancelFunc
	hubDone  chan error
	running  sync.WaitGroup // transports and virtual peers
	stopOnce sync.Once
	stopErr  error
}

// PortStats are one port's live counters, readable from any goroutine.
type PortStats struct {
	Name  string
	Stats *hub.PortStats
}

// Port is one configured port as New bound it.
type Port struct {
	// Spec is the port's spec with what binding filled in: a port 0 is the
	// port the system chose, so its QEMUArgs are what a VM needs.
	Spec transport.Spec
	// Down is why the port could not be opened, when Config.Optional let
	// the session start without it (it stays down); nil otherwise.
	Down error
}

// Peer is a virtual DSoftBus node, on a port named after its role.
type Peer struct {
	Role string
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// peer is a virtual node and the port it is on.
type peer struct {
	role string
	node *vnode.Node
}

// New compiles the policy, binds every port, opens the capture and builds
// the hub; cfg must have passed Validate. It first refuses a capture (or
// an output opts names) that is one of the files the run reads or another
// of its outputs (checkSameFiles). Nothing runs yet; on error
// everything opened is closed again. The capture is opened last, after
// every step that can refuse the start: creating it truncates a file of
// that name, which a refused start must leave as it was.
func New(cfg Config, opts Options) (_ *Session, err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkSameFiles(&cfg, opts); err != nil {
		return nil, err
	}
	log := opts.Logger
	s := &Session{cfg: cfg, opts: opts, log: log}
	defer func() {
		if err != nil {
			s.closeRunners()
			for _, p := range s.peers {
				p.node.Host.Close()
			}
			s.closeObservers()
		}
	}()
	if cfg.Policy != "" || (cfg.Faults != nil && cfg.Faults.Given()) {
		var faults filter.Flags
		if cfg.Faults != nil {
			faults = *cfg.Faults
		}
		if s.policy, err = faults.Load(cfg.Policy, cfg.PortNames()); err != nil {
			return nil, err
		}
	}
	if cfg.Check != "" {
		profile, err := checker.ParseProfile(cfg.Check)
		if err != nil {
			return nil, err
		}
		points, note, err := cfg.Capture.checkNumbering()
		if err != nil {
			return nil, err
		}
		if s.checker, err = checker.New(checker.Options{Profile: profile, OnMilestone: func(l string) { s.line("l2hub: " + l) }, Logger: log, Points: points, Note: note}); err != nil {
			return nil, err
		}
	}
	specs, notes := transport.WithSegmentMTU(cfg.Ports, cfg.MaxFrame)
	for _, n := range notes {
		log.Info(n)
	}
	for _, spec := range specs {
		r, err := spec.Open(transport.Options{MaxFrame: cfg.MaxFrame, Aging: cfg.Aging, Logger: log, Optional: cfg.Optional})
		if err != nil {
			if w, ok := cfg.where[spec.Name]; ok {
				return nil, fmt.Errorf("%s: %w", w, err)
			}
			if i := slices.IndexFunc(cfg.Ports, func(p transport.Spec) bool { return p.Name == spec.Name }); i >= 0 {
				if flag, _, ok := cfg.flagFor([]string{"ports", strconv.Itoa(i)}); ok {
					return nil, fmt.Errorf("%s: %w", flag, err) // --port a=...: port "a": listen ...
				}
			}
			return nil, err
		}
		s.runners = append(s.runners, r)
	}
	clock := wallclock.Clock{}
	for _, name := range cfg.Peers {
		role, _ := conformance.ParseRole(name)
		n, err := vnode.New(vnode.Config{
			Role:        role,
			Probe:       cfg.Probe,
			Clock:       clock,
			OnMilestone: s.milestone,
			Logger:      log.With("peer", name),
		})
		if err != nil {
			return nil, err
		}
		s.peers = append(s.peers, peer{role: name, node: n})
	}
	// Policy time starts now; the capture records it so replay can line up
	// time windows with this run.
	s.began = clock.Now()
	var observers []hub.Observer
	if cfg.Capture.File != "" {
		if s.capture, err = s.openCapture(); err != nil {
			return nil, err
		}
		observers = append(observers, s.capture)
	}
	if s.checker != nil {
		observers = append(observers, s.checker)
	}
	if s.decisions = newDecisionLog(log); s.decisions != nil {
		observers = append(observers, s.decisions)
	}
	hcfg := hub.Config{
		Mode:      cfg.Mode,
		QueueLen:  cfg.Queue,
		Overflow:  cfg.Overflow,
		Stall:     cfg.Stall,
		MaxFrame:  cfg.MaxFrame,
		AgingTime: cfg.Aging,
		Clock:     clock,
		Start:     s.began,
		Observers: observers,
		Logger:    log,
	}
	if s.policy != nil {
		hcfg.Policy = s.policy
	}
	if s.hub, err = hub.New(hcfg); err != nil {
		return nil, err
	}
	return s, nil
}

// addPorts registers every bound port with the running hub.
func (s *Session) addPorts() error {
	for _, r := range s.runners {
		spec := r.Spec()
		o := spec.PortOptions()
		o.NoPushback = noPushback(spec.Transport)
		if err := s.hub.AddPortWith(spec.Name, DescribeSpec(spec), o); err != nil {
			return err
		}
		s.addStats(spec.Name)
	}
	for _, p := range s.peers {
		// A virtual node's NIC drops what its stack sends while the hub
		// does not read it: it cannot be pushed back either.
		if err := s.hub.AddPortWith(p.role, "virtual "+p.role+" (netstack)", hub.PortOptions{NoPushback: true}); err != nil {
			return err
		}
		if _, err := s.hub.Attach(p.role, p.node.Host); err != nil {
			return err
		}
		s.addStats(p.role)
	}
	return nil
}

// noPushback says whether a port's VM cannot be pushed back: a UDP or
// multicast socket's sender, or a VXLAN remote, goes on sending whether
// the hub reads or not, and the kernel drops what its socket buffer cannot
// hold (hub.PortOptions.NoPushback). A TAP device too: the tun driver drops
// what its ring (tx_queue_len) cannot hold, and the host's sender never
// blocks. Streams and unix datagram sockets (their sender waits for room)
// are paused instead.
func noPushback(t transport.Transport) bool {
	switch t {
	case transport.UDP, transport.Mcast, transport.VXLAN, transport.TAP:
		return true
	}
	return false
}

// addStats keeps port name's live counters for the summary and gives them
// to the capture, whose last file's interface statistics then say what the
// summary says (Stop closes the capture after the hub has stopped).
func (s *Session) addStats(name string) {
	st := s.hub.Stats(context.Background(), name)
	s.stats = append(s.stats, PortStats{name, st})
	if s.capture != nil {
		s.capture.SetPortStats(name, st)
	}
}

// Start runs the hub, adds every port, and starts the transports and
// virtual peers, until ctx ends or Stop. fatal is called with the first
// transport error that should end the session (Run cancels its context on
// it); nil ignores them. After Start, Stop must be called, whatever Start
// returned.
func (s *Session) Start(ctx context.Context, fatal func(error)) error {
	if fatal == nil {
		fatal = func(error) {}
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.hubDone = make(chan error, 1)
	go func() { s.hubDone <- s.hub.Run(ctx) }()
	if err := s.addPorts(); err != nil {
		return err
	}
	for _, p := range s.peers {
		s.running.Go(func() {
			err := p.node.Run(ctx)
			switch {
			case err == nil || ctx.Err() != nil:
			case errors.Is(err, conformance.ErrProbeFailed), errors.Is(err, conformance.ErrTargetAbsent):
				// Its marker line said so; the summary and the exit status will.
				s.log.Info("virtual peer's probe ended", "peer", p.role, "err", err)
			default:
				s.log.Warn("virtual peer stopped", "peer", p.role, "err", err)
			}
		})
	}
	tick := s.opts.noPeerTick
	if tick == nil {
		t := time.NewTicker(noPeerPoll)
		tick = t.C
		s.running.Go(func() { <-ctx.Done(); t.Stop() })
	}
	s.running.Go(func() { s.watchNoPeers(ctx, tick) })
	for _, r := range s.runners {
		s.running.Go(func() {
			if err := r.Run(ctx, s.hub); err != nil && ctx.Err() == nil {
				fatal(fmt.Errorf("port %q: %w", r.Spec().Name, err))
			}
		})
	}
	return nil
}

// Stop shuts the session down in order: transports and peers, the hub,
// then the observers (captures are flushed and closed). It returns the
// hub's or a capture's error; later calls return the same. Nothing the
// session started is left running when it returns.
func (s *Session) Stop() error {
	s.stopOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.closeRunners()
		s.running.Wait()
		if s.hubDone != nil {
			s.stopErr = <-s.hubDone
		}
		if err := s.closeObservers(); err != nil && s.stopErr == nil {
			s.stopErr = err
		}
	})
	return s.stopErr
}

func (s *Session) closeRunners() {
	for _, r := range s.runners {
		r.Close()
	}
}

// closeObservers stops the live checker and flushes and closes the capture;
// call once the hub stopped. The checker's report stays readable.
func (s *Session) closeObservers() error {
	var err error
	s.closeOnce.Do(func() {
		if s.checker != nil {
			s.checker.Close()
		}
		if s.capture != nil {
			err = s.capture.Close()
		}
	})
	return err
}

// Bound returns every configured port as New bound it, in config order.
func (s *Session) Bound() []Port {
	out := make([]Port, len(s.runners))
	for i, r := range s.runners {
		out[i] = Port{Spec: r.Spec(), Down: transport.OpenErr(r)}
	}
	return out
}

// Peers returns the virtual DSoftBus nodes.
func (s *Session) Peers() []Peer {
	out := make([]Peer, len(s.peers))
	for i, p := range s.peers {
		out[i] = Peer{Role: p.role, Addr: p.node.Host.Addr(), MAC: p.node.Host.MAC()}
	}
	return out
}

// Stats returns every port's counters once Start has added the ports.
func (s *Session) Stats() []PortStats { return s.stats }

// CaptureStats returns the capture's counters and files; ok is false when
// the session captures nothing.
func (s *Session) CaptureStats() (st capture.Stats, files []string, ok bool) {
	if s.capture == nil {
		return capture.Stats{}, nil, false
	}
	return s.capture.Stats(), s.capture.Files(), true
}

// CheckReport closes the live checker and returns its report; ok is false
// without a checker. Call it once the session stopped.
func (s *Session) CheckReport() (r checker.Report, ok bool) {
	if s.checker == nil {
		return checker.Report{}, false
	}
	s.checker.Close()
	r = s.checker.Report()
	// A policy replaced while running (or a file that failed) started
	// another file: the findings' numbers run on across them, as the
	// capture's frames do, which each file's own numbers do not say.
	if r.Note == "" && s.capture != nil {
		if files := s.capture.Files(); len(files) > 1 {
			names := make([]string, len(files))
			for i, f := range files {
				names[i] = filepath.Base(f)
			}
			r.Note = fmt.Sprintf("frame numbers count across the files %s in order (a policy replaced while running starts a new one), not each file's own", strings.Join(names, ", "))
		}
	}
	return r, true
}

// milestone prints a virtual node's progress as a marker line.
func (s *Session) milestone(m conformance.Milestone) { s.line("l2hub: " + m.String()) }

// line prints one marker line; virtual nodes and the checker share Out.
func (s *Session) line(l string) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintln(s.opts.Out, l)
}

func (s *Session) currentPolicy() *filter.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// DescribeSpec is a port's description in logs and capture interfaces
// ("tcp 127.0.0.1:7001", "udp 127.0.0.1:7003 peer 127.0.0.1:7103").
func DescribeSpec(s transport.Spec) string {
	d := string(s.Transport) + " " + s.Address
	if s.Peer != "" {
		d += " peer " + s.Peer
	}
	if s.Local != "" {
		d += " local " + s.Local
	}
	return d
}
